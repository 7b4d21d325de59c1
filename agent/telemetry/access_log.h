// Access-log line parsers: nginx `combined`, `combined_rt` (combined + `$request_time`, optionally
// `$upstream_response_time`), any nginx `log_format` string compiled once, and JSON lines with
// configurable field names. A parser takes one line (without its newline) and returns the status,
// the latency and the method, or "not parsed": a line that does not fit the format exactly is
// never guessed at. Paths, addresses and agents are not kept (cardinality).
//
// Parsing allocates nothing and uses no regex: the compiled format is a list of literal and
// variable tokens matched left to right with memchr/memcmp over a string_view.
//
// Tolerated deviations (they do not change the extracted fields): a trailing '\r'; a line whose
// final quoted field lacks its closing quote (user agents truncated by the writer); `\"` inside a
// quoted field (Apache's escaping; nginx writes \x22).
//
// Thread-safety: an AccessLogParser is immutable after construction; parseLine is const and may be
// called from several threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::agent {

enum class HttpMethod : std::uint8_t {
  kNone,  // the format has no method, or the request line was "-" / not a request
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kPatch,
  kOptions,
  kConnect,
  kTrace,
  kOther,  // a well-formed token that is none of the above
};
const char* httpMethodName(HttpMethod method);

struct AccessRecord {
  bool parsed = false;
  std::uint16_t status = 0;  // 100..599 when parsed
  bool hasLatency = false;
  std::uint64_t latencyMicros = 0;  // valid when hasLatency
  HttpMethod method = HttpMethod::kNone;
};

// JSON lines: one object per line; field names are configurable. Values may be numbers or
// strings holding numbers (nginx `escape=json` formats write strings).
enum class LatencyUnit : std::uint8_t { kSeconds, kMillis, kMicros, kNanos };
Result<LatencyUnit> parseLatencyUnit(std::string_view text);  // "s", "ms", "us", "ns"

struct JsonFields {
  std::string status = "status";
  std::string latency = "request_time";  // empty: the lines carry no latency
  LatencyUnit latencyUnit = LatencyUnit::kSeconds;
  std::string method = "request_method";  // empty: no method; a value "GET /x HTTP/1.1" also works
};

class AccessLogParser {
 public:
  // The nginx predefined format.
  static AccessLogParser combined();
  // combined + " $request_time"; with upstream: combined + " $request_time
  // $upstream_response_time".
  static AccessLogParser combinedRt(bool withUpstream = false);
  // Compiles an nginx log_format string (the concatenated format text, as nginx would see it after
  // joining its quoted pieces, e.g. `$remote_addr - [$time_local] "$request" $status
  // $request_time`). Fails on formats that cannot be matched unambiguously (no $status, two
  // variables with no literal between them) and names the offending part.
  static Result<AccessLogParser> fromLogFormat(std::string_view format);
  static AccessLogParser json(JsonFields fields = {});
  // "combined", "combined_rt", "combined_rt_upstream", "json" (default fields), or a log_format.
  static Result<AccessLogParser> fromName(std::string_view nameOrFormat);

  AccessRecord parseLine(std::string_view line) const;
  // True when parsed records can carry a latency (the format has $request_time or
  // $upstream_response_time, or JSON with a latency field).
  bool hasLatency() const;
  const std::string& description() const { return description_; }

  // Compiled token of a log_format; public for the implementation's free functions only.
  enum class TokenKind : std::uint8_t {
    kLiteral,
    kSkip,          // any variable we do not extract
    kStatus,        // $status
    kRequest,       // $request: method is taken from its first word
    kMethod,        // $request_method
    kRequestTime,   // $request_time (seconds, millisecond resolution)
    kUpstreamTime,  // $upstream_response_time ("-", or a list "0.010, 0.020 : 0.003")
  };
  struct Token {
    TokenKind kind = TokenKind::kLiteral;
    std::string literal;  // kLiteral only
  };

 private:
  AccessLogParser() = default;
  AccessRecord parseFormatLine(std::string_view line) const;
  AccessRecord parseJsonLine(std::string_view line) const;

  bool isJson_ = false;
  std::vector<Token> tokens_;
  bool hasRequestTime_ = false;
  bool hasUpstreamTime_ = false;
  JsonFields jsonFields_;
  std::string description_;
};

// Parses a decimal number of seconds ("0.123", "12", "1.5") into microseconds. Requires the whole
// text to be the number. Used for $request_time, $upstream_response_time and JSON values.
std::optional<std::uint64_t> parseSecondsToMicros(std::string_view text);

}  // namespace rollgate::agent
