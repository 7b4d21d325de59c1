// One-shot parse mode: `rollgate-agent parse --format FORMAT FILE [--json]` runs a whole file
// through an access-log parser and prints lines, parsed, unparsed, counts per status code, latency
// p50/p90/p99 (when the format has a latency) and lines per second. For benchmarks and for
// checking a format against a real file. The work is in parseFileSummary (testable without a
// process); addParseCommand only registers the CLI11 subcommand.
// Thread-safety: functions only; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "agent/telemetry/access_log.h"
#include "common/result.h"

namespace CLI {
class App;
}

namespace rollgate::agent {

struct ParseSummary {
  std::uint64_t lines = 0;
  std::uint64_t parsed = 0;
  std::uint64_t unparsed = 0;
  std::map<std::uint16_t, std::uint64_t> statusCounts;
  bool hasLatency = false;      // the format carries a latency
  std::uint64_t latencies = 0;  // parsed lines that had one
  std::uint64_t p50Micros = 0;  // nearest-rank percentiles over those lines
  std::uint64_t p90Micros = 0;
  std::uint64_t p99Micros = 0;
  double seconds = 0;  // wall time to read and parse the file
  double linesPerSecond = 0;
};

// Reads the file at path and parses every line (the last line may lack its newline).
Result<ParseSummary> parseFileSummary(const std::string& path, const AccessLogParser& parser);

void printParseSummary(const ParseSummary& summary, const std::string& path,
                       const std::string& format, bool json, std::ostream& out);

// Registers `parse`. On a missing file or a bad format it prints one line naming the thing and the
// value to stderr and throws CLI::RuntimeError(2).
void addParseCommand(CLI::App& app);

}  // namespace rollgate::agent
