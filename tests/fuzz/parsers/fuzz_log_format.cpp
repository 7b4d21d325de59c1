// Fuzzes the log_format compiler and the compiled parser: input is "FORMAT\nLINE". Also feeds the
// format text to the error-pattern compiler and matches the line against what compiled.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/telemetry/access_log.h"
#include "agent/telemetry/error_log.h"

using rollgate::agent::AccessLogParser;
using rollgate::agent::ErrorPattern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\n');
  const std::string_view format = input.substr(0, split);
  const std::string_view line =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  auto parser = AccessLogParser::fromLogFormat(format);
  if (parser.ok()) {
    const auto record = parser->parseLine(line);
    if (record.parsed && (record.status < 100 || record.status > 599)) std::abort();
    // The format's own text with the variables' names in place parses or not, but never crashes.
    (void)parser->parseLine(format);
  }
  // Error patterns: both the literal fast path and RE2 are matched (RE2 is linear in the line
  // whatever the pattern, so a hostile pattern costs no more than a plain one).
  if (format.size() <= 256) {
    auto pattern = ErrorPattern::compile(format);
    if (pattern.ok()) (void)pattern->matches(line);
  }
  return 0;
}
