// `rollgate judge`: runs a statistical test offline on files or counts given on the command
// line, with the same library the coordinator's gates use, and prints the test, its p-value,
// the effect sizes and the sample sizes (a table, or one JSON document with --json).
// The run functions are separate from the CLI11 wiring so they can be tested in-process.
// Thread-safety: none needed (one call per process).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::cli {

struct JudgeMannWhitneyOptions {
  std::string canaryFile;
  std::string baselineFile;
  std::string alternative = "greater";
  double confidence = 0.95;
  bool json = false;
};

// Counts are kept as the text given so that every bad value gets rollgate's own message.
struct JudgeFisherOptions {
  std::string canaryErrors;
  std::string canaryTotal;
  std::string baselineErrors;
  std::string baselineTotal;
  std::string alternative = "greater";
  double confidence = 0.95;
  bool json = false;
};

// Each returns the process exit code: 0 after printing the result to `out`, or kExitUsage
// after one line on `err` naming the bad input and its value.
int runJudgeMannWhitney(const JudgeMannWhitneyOptions& options, std::ostream& out,
                        std::ostream& err);
int runJudgeFisher(const JudgeFisherOptions& options, std::ostream& out, std::ostream& err);

// One number per line; blank lines and surrounding whitespace are ignored. `what` names the
// file in messages ("canary file 'x.txt' line 3: 'abc' is not a number").
Result<std::vector<double>> readSampleFile(std::string_view what, const std::string& path);

// A non-negative integer count given for `flag`.
Result<std::uint64_t> parseCount(std::string_view flag, std::string_view text);

}  // namespace rollgate::cli
