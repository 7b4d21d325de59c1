#include "agent/telemetry/parse_command.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/sys/error.h"

namespace rollgate::agent {
namespace {

std::uint64_t nearestRank(std::vector<std::uint64_t>& values, double percentile) {
  // Nearest-rank: the smallest value with at least percentile% of the values at or below it.
  const auto n = values.size();
  auto rank = static_cast<std::size_t>(std::ceil(percentile / 100.0 * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

std::string formatMillis(std::uint64_t micros) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(micros) / 1000.0);
  return text;
}

struct ParseCommandOptions {
  std::string format;
  std::string file;
  bool json = false;
  std::string jsonStatus = "status";
  std::string jsonLatency = "request_time";
  std::string jsonLatencyUnit = "s";
  std::string jsonMethod = "request_method";
};

void runParse(const ParseCommandOptions& options) {
  std::optional<AccessLogParser> parser;
  if (options.format == "json") {
    auto unit = parseLatencyUnit(options.jsonLatencyUnit);
    if (!unit) {
      std::cerr << "parse: --json-latency-unit: " << unit.error().message << "\n";
      throw CLI::RuntimeError(2);
    }
    parser = AccessLogParser::json(
        JsonFields{options.jsonStatus, options.jsonLatency, *unit, options.jsonMethod});
  } else {
    auto named = AccessLogParser::fromName(options.format);
    if (!named) {
      std::cerr << "parse: --format: " << named.error().message << "\n";
      throw CLI::RuntimeError(2);
    }
    parser = std::move(named).value();
  }
  auto summary = parseFileSummary(options.file, *parser);
  if (!summary) {
    std::cerr << "parse: " << summary.error().message << "\n";
    throw CLI::RuntimeError(2);
  }
  printParseSummary(*summary, options.file, options.format, options.json, std::cout);
}

}  // namespace

Result<ParseSummary> parseFileSummary(const std::string& path, const AccessLogParser& parser) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return makeError("file '" + path + "': " + sys::errnoMessage(errno));
  const auto started = std::chrono::steady_clock::now();
  ParseSummary summary;
  summary.hasLatency = parser.hasLatency();
  std::vector<std::uint64_t> statusCounts(600, 0);
  std::vector<std::uint64_t> latencies;
  if (summary.hasLatency) {
    struct stat sized {};
    if (::fstat(fd, &sized) == 0 && S_ISREG(sized.st_mode)) {
      latencies.reserve(static_cast<std::size_t>(sized.st_size / 128));  // a guess, not a bound
    }
  }
  const auto onLine = [&](std::string_view line) {
    ++summary.lines;
    const AccessRecord record = parser.parseLine(line);
    if (!record.parsed) {
      ++summary.unparsed;
      return;
    }
    ++summary.parsed;
    ++statusCounts[record.status];
    if (record.hasLatency) latencies.push_back(record.latencyMicros);
  };
  const auto splitLines = [&](const char* p, const char* end) {
    // Returns the start of the incomplete last line (end if none).
    while (true) {
      const auto* newline =
          static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (newline == nullptr) return p;
      onLine({p, static_cast<std::size_t>(newline - p)});
      p = newline + 1;
    }
  };
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    // A regular file: map it in pieces (no copy through a buffer). Each piece ends at a line end;
    // a line longer than a piece is handled by growing the piece.
    const auto size = static_cast<std::uint64_t>(st.st_size);
    constexpr std::uint64_t kPiece = std::uint64_t{256} << 20;
    const auto pageBytes = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::uint64_t offset = 0;  // start of the first line not yet handed out
    while (offset < size) {
      const std::uint64_t mapStart = offset / pageBytes * pageBytes;
      std::uint64_t mapLength = std::min(size - mapStart, kPiece);
      while (true) {
        void* mapped = ::mmap(nullptr, mapLength, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
                              static_cast<off_t>(mapStart));
        if (mapped == MAP_FAILED) {
          const std::string message = sys::errnoMessage(errno);
          ::close(fd);
          return makeError("file '" + path + "': mmap failed: " + message);
        }
        ::madvise(mapped, mapLength, MADV_SEQUENTIAL);
        const char* base = static_cast<const char*>(mapped);
        const char* begin = base + (offset - mapStart);
        const char* end = base + mapLength;
        const bool last = mapStart + mapLength == size;
        const char* rest = splitLines(begin, end);
        if (rest == begin && !last) {
          ::munmap(mapped, mapLength);  // one line longer than the piece: map more
          mapLength = std::min(size - mapStart, mapLength * 2);
          continue;
        }
        if (last && rest != end) onLine({rest, static_cast<std::size_t>(end - rest)});
        offset = last ? size : mapStart + static_cast<std::uint64_t>(rest - base);
        ::munmap(mapped, mapLength);
        break;
      }
    }
  } else {
    constexpr std::size_t kChunk = 1 << 20;
    std::vector<char> buffer(kChunk * 2);
    std::size_t carried = 0;  // bytes of an incomplete line at the start of buffer
    while (true) {
      if (buffer.size() - carried < kChunk) buffer.resize(carried + kChunk);  // a very long line
      const ssize_t n = ::read(fd, buffer.data() + carried, buffer.size() - carried);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string message = sys::errnoMessage(errno);
        ::close(fd);
        return makeError("file '" + path + "': read failed: " + message);
      }
      if (n == 0) break;
      const char* end = buffer.data() + carried + static_cast<std::size_t>(n);
      const char* rest = splitLines(buffer.data(), end);
      carried = static_cast<std::size_t>(end - rest);
      std::memmove(buffer.data(), rest, carried);
    }
    if (carried > 0) onLine({buffer.data(), carried});
  }
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary.linesPerSecond =
      summary.seconds > 0 ? static_cast<double>(summary.lines) / summary.seconds : 0;
  for (std::size_t code = 0; code < statusCounts.size(); ++code) {
    if (statusCounts[code] != 0)
      summary.statusCounts[static_cast<std::uint16_t>(code)] = statusCounts[code];
  }
  summary.latencies = latencies.size();
  if (!latencies.empty()) {
    summary.p50Micros = nearestRank(latencies, 50);
    summary.p90Micros = nearestRank(latencies, 90);
    summary.p99Micros = nearestRank(latencies, 99);
  }
  return summary;
}

void printParseSummary(const ParseSummary& summary, const std::string& path,
                       const std::string& format, bool json, std::ostream& out) {
  if (json) {
    nlohmann::json doc;
    doc["file"] = path;
    doc["format"] = format;
    doc["lines"] = summary.lines;
    doc["parsed"] = summary.parsed;
    doc["unparsed"] = summary.unparsed;
    nlohmann::json codes = nlohmann::json::object();
    for (const auto& [code, count] : summary.statusCounts) codes[std::to_string(code)] = count;
    doc["status"] = codes;
    if (summary.hasLatency) {
      doc["latency_count"] = summary.latencies;
      doc["latency_p50_micros"] = summary.p50Micros;
      doc["latency_p90_micros"] = summary.p90Micros;
      doc["latency_p99_micros"] = summary.p99Micros;
    }
    doc["seconds"] = summary.seconds;
    doc["lines_per_second"] = summary.linesPerSecond;
    out << doc.dump(2) << "\n";
    return;
  }
  out << "file:      " << path << "\n"
      << "format:    " << format << "\n"
      << "lines:     " << summary.lines << "\n"
      << "parsed:    " << summary.parsed << "\n"
      << "unparsed:  " << summary.unparsed << "\n";
  for (const auto& [code, count] : summary.statusCounts) {
    out << "status " << code << ": " << count << "\n";
  }
  if (summary.hasLatency) {
    if (summary.latencies == 0) {
      out << "latency:   no values\n";
    } else {
      out << "latency p50: " << formatMillis(summary.p50Micros) << " ms\n"
          << "latency p90: " << formatMillis(summary.p90Micros) << " ms\n"
          << "latency p99: " << formatMillis(summary.p99Micros) << " ms\n";
    }
  }
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.0f", summary.linesPerSecond);
  out << "elapsed:   " << summary.seconds << " s\n"
      << "lines/s:   " << rate << "\n";
}

void addParseCommand(CLI::App& app) {
  auto options = std::make_shared<ParseCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "parse", "Parse an access log once and print counts, latency percentiles and lines/s");
  command
      ->add_option(
          "--format", options->format,
          "combined, combined_rt, combined_rt_upstream, json, or an nginx log_format string")
      ->required();
  command->add_option("file", options->file, "Access log file")->required();
  command->add_flag("--json", options->json, "Print JSON");
  command->add_option("--json-status", options->jsonStatus, "JSON format: status field")
      ->capture_default_str();
  command
      ->add_option("--json-latency", options->jsonLatency,
                   "JSON format: latency field (empty: none)")
      ->capture_default_str();
  command
      ->add_option("--json-latency-unit", options->jsonLatencyUnit,
                   "JSON format: latency unit s, ms, us or ns")
      ->capture_default_str();
  command->add_option("--json-method", options->jsonMethod, "JSON format: method field")
      ->capture_default_str();
  command->callback([options] { runParse(*options); });
}

}  // namespace rollgate::agent
