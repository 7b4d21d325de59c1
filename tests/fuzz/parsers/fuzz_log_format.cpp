// Fuzzes the log_format compiler and the compiled parser: input is "FORMAT\nLINE". Also feeds the
// format text to the error-pattern compiler and matches the line when it is literal alternatives.
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
  // Error patterns: the literal fast path is ours and is matched; a real regex is only compiled
  // (std::regex matching has exponential worst cases on hostile patterns, which come from the
  // operator's config, not from a log file).
  if (format.size() <= 64) {
    auto pattern = ErrorPattern::compile(format);
    if (pattern.ok() && pattern->isLiteral()) (void)pattern->matches(line);
  }
  return 0;
}
