#include "agent/telemetry/access_log.h"

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/check.h"

namespace rollgate::agent {
namespace {

using TokenKind = AccessLogParser::TokenKind;
using Token = AccessLogParser::Token;

constexpr std::string_view kCombined =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent")";

inline bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Micros for a decimal text in a unit of num/den micros. Requires the whole text to be
// digits[.digits]. Fraction digits beyond 9 are truncated.
std::optional<std::uint64_t> parseDecimal(std::string_view text, std::uint64_t num,
                                          std::uint64_t den) {
  const char* p = text.data();
  const char* end = p + text.size();
  if (p == end || !isDigit(*p)) return std::nullopt;
  std::uint64_t whole = 0;
  int wholeDigits = 0;
  while (p != end && isDigit(*p)) {
    if (++wholeDigits > 12) return std::nullopt;  // > 10^12 units: not a latency
    whole = whole * 10 + static_cast<std::uint64_t>(*p - '0');
    ++p;
  }
  std::uint64_t frac = 0;
  std::uint64_t fracScale = 1;
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !isDigit(*p)) return std::nullopt;
    while (p != end && isDigit(*p)) {
      if (fracScale < 1000000000ULL) {
        frac = frac * 10 + static_cast<std::uint64_t>(*p - '0');
        fracScale *= 10;
      }
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  // whole <= 10^12 and num <= 10^6: no overflow.
  return whole * num / den + frac * num / (fracScale * den);
}

// Length of the decimal number at the start of [p, end), 0 if none ("12", "0.004").
std::size_t numberLength(const char* p, const char* end) {
  const char* q = p;
  while (q != end && isDigit(*q)) ++q;
  if (q == p) return 0;
  if (q != end && *q == '.') {
    const char* r = q + 1;
    while (r != end && isDigit(*r)) ++r;
    if (r == q + 1) return 0;
    q = r;
  }
  return static_cast<std::size_t>(q - p);
}

HttpMethod classifyMethod(std::string_view word) {
  if (word.empty()) return HttpMethod::kNone;
  for (char c : word) {
    if (c < 'A' || c > 'Z') return HttpMethod::kNone;
  }
  switch (word.size()) {
    case 3:
      if (word == "GET") return HttpMethod::kGet;
      if (word == "PUT") return HttpMethod::kPut;
      break;
    case 4:
      if (word == "POST") return HttpMethod::kPost;
      if (word == "HEAD") return HttpMethod::kHead;
      break;
    case 5:
      if (word == "PATCH") return HttpMethod::kPatch;
      if (word == "TRACE") return HttpMethod::kTrace;
      break;
    case 6:
      if (word == "DELETE") return HttpMethod::kDelete;
      break;
    case 7:
      if (word == "OPTIONS") return HttpMethod::kOptions;
      if (word == "CONNECT") return HttpMethod::kConnect;
      break;
    default:
      break;
  }
  return HttpMethod::kOther;
}

HttpMethod methodOfRequest(std::string_view request) {
  const auto space = request.find(' ');
  return classifyMethod(space == std::string_view::npos ? request : request.substr(0, space));
}

// Parses exactly three digits 100..599.
inline bool parseStatus(const char* p, const char* end, std::uint16_t& status) {
  if (end - p < 3 || !isDigit(p[0]) || !isDigit(p[1]) || !isDigit(p[2])) return false;
  const int value = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  if (value < 100 || value > 599) return false;
  status = static_cast<std::uint16_t>(value);
  return true;
}

// True when the quote at q is escaped by an odd number of backslashes (Apache's \").
inline bool escapedQuote(const char* begin, const char* q) {
  std::size_t backslashes = 0;
  while (q > begin && q[-1] == '\\') {
    --q;
    ++backslashes;
  }
  return (backslashes & 1U) != 0;
}

// Literals between variables are a few bytes: a loop beats a memcmp call.
inline bool sameBytes(const char* a, const char* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// First c in [p, end) or nullptr. Inline SSE2, 16 bytes at a time (never reading past end): most
// fields are short, where a memchr call costs more than the search.
inline const char* findByte(const char* p, const char* end, char c) {
#if defined(__SSE2__)
  const __m128i needle = _mm_set1_epi8(c);
  while (end - p >= 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(block, needle));
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p != end) {
    if (*p == c) return p;
    ++p;
  }
  return nullptr;
}

// First position at or after p where literal starts, or nullptr.
const char* findLiteral(const char* p, const char* end, const std::string& literal) {
  const char first = literal[0];
  const std::size_t len = literal.size();
  const char* const begin = p;
  while (p != end) {
    const char* q = findByte(p, end, first);
    if (q == nullptr) return nullptr;
    if (static_cast<std::size_t>(end - q) < len) return nullptr;
    if (sameBytes(q + 1, literal.data() + 1, len - 1) &&
        !(first == '"' && escapedQuote(begin, q))) {
      return q;
    }
    p = q + 1;
  }
  return nullptr;
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '_';
}

// ---- JSON scanning (one flat object per line; nested values are skipped).

inline const char* skipWs(const char* p, const char* end) {
  while (p != end && (*p == ' ' || *p == '\t')) ++p;
  return p;
}

// p at the opening quote; returns the position after the closing quote, or nullptr.
const char* skipJsonString(const char* p, const char* end) {
  ++p;
  while (p != end) {
    if (*p == '\\') {
      if (end - p < 2) return nullptr;
      p += 2;
      continue;
    }
    if (*p == '"') return p + 1;
    if (static_cast<unsigned char>(*p) < 0x20) return nullptr;
    ++p;
  }
  return nullptr;
}

// Skips one JSON value of any kind; returns the position after it, or nullptr.
const char* skipJsonValue(const char* p, const char* end) {
  if (p == end) return nullptr;
  if (*p == '"') return skipJsonString(p, end);
  if (*p == '{' || *p == '[') {
    // Nested containers: brackets are counted, strings skipped; structure inside is checked only
    // loosely, which is enough for a value we do not use.
    std::size_t depth = 0;
    while (p != end) {
      const char c = *p;
      if (c == '"') {
        p = skipJsonString(p, end);
        if (p == nullptr) return nullptr;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return nullptr;
        if (--depth == 0) return p + 1;
      }
      ++p;
    }
    return nullptr;
  }
  // number, true, false, null
  const char* q = p;
  while (q != end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\t') ++q;
  const std::string_view word(p, static_cast<std::size_t>(q - p));
  if (word.empty()) return nullptr;
  if (word == "true" || word == "false" || word == "null") return q;
  for (char c : word) {
    if (!(isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return nullptr;
  }
  return q;
}

// The text of a scalar value: a string's contents (no unescaping) or the bare word.
std::string_view scalarText(const char* begin, const char* after) {
  if (*begin == '"') return {begin + 1, static_cast<std::size_t>(after - begin - 2)};
  return {begin, static_cast<std::size_t>(after - begin)};
}

}  // namespace

const char* httpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kNone:
      return "-";
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kHead:
      return "HEAD";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kDelete:
      return "DELETE";
    case HttpMethod::kPatch:
      return "PATCH";
    case HttpMethod::kOptions:
      return "OPTIONS";
    case HttpMethod::kConnect:
      return "CONNECT";
    case HttpMethod::kTrace:
      return "TRACE";
    case HttpMethod::kOther:
      return "OTHER";
  }
  return "?";
}

Result<LatencyUnit> parseLatencyUnit(std::string_view text) {
  if (text == "s") return LatencyUnit::kSeconds;
  if (text == "ms") return LatencyUnit::kMillis;
  if (text == "us") return LatencyUnit::kMicros;
  if (text == "ns") return LatencyUnit::kNanos;
  return makeError("latency unit: expected s, ms, us or ns, got '" + std::string(text) + "'");
}

std::optional<std::uint64_t> parseSecondsToMicros(std::string_view text) {
  return parseDecimal(text, 1000000, 1);
}

AccessLogParser AccessLogParser::combined() {
  auto parser = fromLogFormat(kCombined);
  ROLLGATE_CHECK(parser.ok(), parser.ok() ? std::string() : parser.error().message);
  parser->description_ = "combined";
  return std::move(parser).value();
}

AccessLogParser AccessLogParser::combinedRt(bool withUpstream) {
  std::string format(kCombined);
  format += withUpstream ? " $request_time $upstream_response_time" : " $request_time";
  auto parser = fromLogFormat(format);
  ROLLGATE_CHECK(parser.ok(), parser.ok() ? std::string() : parser.error().message);
  parser->description_ = withUpstream ? "combined_rt_upstream" : "combined_rt";
  return std::move(parser).value();
}

Result<AccessLogParser> AccessLogParser::fromLogFormat(std::string_view format) {
  AccessLogParser parser;
  parser.description_ = std::string(format);
  bool hasStatus = false;
  std::size_t i = 0;
  while (i < format.size()) {
    if (format[i] != '$') {
      const auto next = format.find('$', i);
      const auto stop = next == std::string_view::npos ? format.size() : next;
      parser.tokens_.push_back({TokenKind::kLiteral, std::string(format.substr(i, stop - i))});
      i = stop;
      continue;
    }
    std::string_view name;
    std::size_t after = 0;
    if (i + 1 < format.size() && format[i + 1] == '{') {
      const auto close = format.find('}', i + 2);
      if (close == std::string_view::npos) {
        return makeError("log_format: unterminated '${' at offset " + std::to_string(i) + " in '" +
                         std::string(format) + "'");
      }
      name = format.substr(i + 2, close - i - 2);
      after = close + 1;
    } else {
      std::size_t j = i + 1;
      while (j < format.size() && isNameChar(format[j])) ++j;
      name = format.substr(i + 1, j - i - 1);
      after = j;
    }
    if (name.empty() || !std::all_of(name.begin(), name.end(), isNameChar)) {
      return makeError("log_format: bad variable name at offset " + std::to_string(i) + " in '" +
                       std::string(format) + "'");
    }
    if (!parser.tokens_.empty() && parser.tokens_.back().kind != TokenKind::kLiteral) {
      return makeError("log_format: variable '$" + std::string(name) +
                       "' follows another variable with no literal text between them in '" +
                       std::string(format) + "'");
    }
    TokenKind kind = TokenKind::kSkip;
    if (name == "status") {
      if (hasStatus) {
        return makeError("log_format: '$status' appears twice in '" + std::string(format) + "'");
      }
      hasStatus = true;
      kind = TokenKind::kStatus;
    } else if (name == "request") {
      kind = TokenKind::kRequest;
    } else if (name == "request_method") {
      kind = TokenKind::kMethod;
    } else if (name == "request_time" && !parser.hasRequestTime_) {
      kind = TokenKind::kRequestTime;
      parser.hasRequestTime_ = true;
    } else if (name == "upstream_response_time" && !parser.hasUpstreamTime_) {
      kind = TokenKind::kUpstreamTime;
      parser.hasUpstreamTime_ = true;
    }
    parser.tokens_.push_back({kind, {}});
    i = after;
  }
  if (!hasStatus) {
    return makeError("log_format: no '$status' in '" + std::string(format) + "'");
  }
  return parser;
}

AccessLogParser AccessLogParser::json(JsonFields fields) {
  AccessLogParser parser;
  parser.isJson_ = true;
  parser.jsonFields_ = std::move(fields);
  parser.description_ = "json";
  return parser;
}

Result<AccessLogParser> AccessLogParser::fromName(std::string_view nameOrFormat) {
  if (nameOrFormat == "combined") return combined();
  if (nameOrFormat == "combined_rt") return combinedRt(false);
  if (nameOrFormat == "combined_rt_upstream") return combinedRt(true);
  if (nameOrFormat == "json") return json();
  if (nameOrFormat.find('$') == std::string_view::npos) {
    return makeError(
        "access log format: expected combined, combined_rt, combined_rt_upstream, "
        "json or an nginx log_format string, got '" +
        std::string(nameOrFormat) + "'");
  }
  return fromLogFormat(nameOrFormat);
}

bool AccessLogParser::hasLatency() const {
  if (isJson_) return !jsonFields_.latency.empty();
  return hasRequestTime_ || hasUpstreamTime_;
}

AccessRecord AccessLogParser::parseLine(std::string_view line) const {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return isJson_ ? parseJsonLine(line) : parseFormatLine(line);
}

AccessRecord AccessLogParser::parseFormatLine(std::string_view line) const {
  AccessRecord record;
  const char* p = line.data();
  const char* const end = p + line.size();
  std::uint64_t requestTimeMicros = 0;
  bool haveRequestTime = false;
  std::uint64_t upstreamMicros = 0;
  bool haveUpstream = false;
  const std::size_t count = tokens_.size();
  for (std::size_t i = 0; i < count; ++i) {
    const Token& token = tokens_[i];
    switch (token.kind) {
      case TokenKind::kLiteral: {
        const std::size_t len = token.literal.size();
        if (static_cast<std::size_t>(end - p) < len || !sameBytes(p, token.literal.data(), len)) {
          // A final quoted field cut off before its closing quote: accepted, nothing is lost.
          if (p == end && i + 1 == count && token.literal == "\"" && i > 0 &&
              tokens_[i - 1].kind != TokenKind::kLiteral) {
            break;
          }
          return {};
        }
        p += len;
        break;
      }
      case TokenKind::kStatus:
        if (!parseStatus(p, end, record.status)) return {};
        p += 3;
        break;
      case TokenKind::kRequestTime: {
        const std::size_t len = numberLength(p, end);
        if (len == 0) return {};
        const auto micros = parseSecondsToMicros({p, len});
        if (!micros) return {};
        requestTimeMicros = *micros;
        haveRequestTime = true;
        p += len;
        break;
      }
      case TokenKind::kUpstreamTime: {
        // "-" | number, separated by ", " (tries) or " : " (internal redirects); summed.
        while (true) {
          if (p != end && *p == '-') {
            ++p;
          } else {
            const std::size_t len = numberLength(p, end);
            if (len == 0) return {};
            const auto micros = parseSecondsToMicros({p, len});
            if (!micros) return {};
            upstreamMicros += *micros;
            haveUpstream = true;
            p += len;
          }
          std::size_t sep = 0;
          if (end - p >= 3 && p[0] == ',' && p[1] == ' ') {
            sep = 2;
          } else if (end - p >= 4 && p[0] == ' ' && p[1] == ':' && p[2] == ' ') {
            sep = 3;
          }
          if (sep == 0 || !(isDigit(p[sep]) || p[sep] == '-')) break;
          p += sep;
        }
        break;
      }
      case TokenKind::kSkip:
      case TokenKind::kRequest:
      case TokenKind::kMethod: {
        const char* stop = end;
        if (i + 2 == count) {
          // The last variable: its literal must end the line, so take it from the end (a quote
          // inside a final user agent field cannot end the field early).
          const std::string& last = tokens_[i + 1].literal;
          const auto left = static_cast<std::size_t>(end - p);
          if (left >= last.size() && sameBytes(end - last.size(), last.data(), last.size())) {
            stop = end - last.size();
          } else if (last != "\"" || findLiteral(p, end, last) != nullptr) {
            return {};
          }  // else: truncated final quoted field (no quote left in it), see above
        } else if (i + 1 < count) {
          stop = findLiteral(p, end, tokens_[i + 1].literal);
          if (stop == nullptr) return {};
        }
        const std::string_view value(p, static_cast<std::size_t>(stop - p));
        if (token.kind == TokenKind::kRequest) {
          record.method = methodOfRequest(value);
        } else if (token.kind == TokenKind::kMethod) {
          record.method = classifyMethod(value);
        }
        p = stop;
        break;
      }
    }
  }
  if (p != end) return {};
  record.parsed = true;
  if (haveRequestTime) {
    record.hasLatency = true;
    record.latencyMicros = requestTimeMicros;
  } else if (haveUpstream) {
    record.hasLatency = true;
    record.latencyMicros = upstreamMicros;
  }
  return record;
}

AccessRecord AccessLogParser::parseJsonLine(std::string_view line) const {
  const char* p = line.data();
  const char* const end = p + line.size();
  p = skipWs(p, end);
  if (p == end || *p != '{') return {};
  ++p;
  std::string_view statusText;
  std::string_view latencyText;
  std::string_view methodText;
  bool haveStatus = false;
  bool haveLatency = false;
  bool haveMethod = false;
  p = skipWs(p, end);
  if (p != end && *p == '}') return {};  // an empty object has no status
  while (true) {
    p = skipWs(p, end);
    if (p == end || *p != '"') return {};
    const char* keyEnd = skipJsonString(p, end);
    if (keyEnd == nullptr) return {};
    const std::string_view key(p + 1, static_cast<std::size_t>(keyEnd - p - 2));
    p = skipWs(keyEnd, end);
    if (p == end || *p != ':') return {};
    p = skipWs(p + 1, end);
    const char* valueBegin = p;
    p = skipJsonValue(p, end);
    if (p == nullptr) return {};
    const bool scalar = *valueBegin != '{' && *valueBegin != '[';
    if (key == jsonFields_.status) {
      if (haveStatus || !scalar) return {};
      statusText = scalarText(valueBegin, p);
      haveStatus = true;
    } else if (!jsonFields_.latency.empty() && key == jsonFields_.latency) {
      if (haveLatency || !scalar) return {};
      latencyText = scalarText(valueBegin, p);
      haveLatency = true;
    } else if (!jsonFields_.method.empty() && key == jsonFields_.method) {
      if (haveMethod || !scalar) return {};
      methodText = scalarText(valueBegin, p);
      haveMethod = true;
    }
    p = skipWs(p, end);
    if (p == end) return {};
    if (*p == ',') {
      ++p;
      continue;
    }
    if (*p == '}') {
      ++p;
      break;
    }
    return {};
  }
  if (skipWs(p, end) != end) return {};
  AccessRecord record;
  if (!haveStatus || statusText.size() != 3 ||
      !parseStatus(statusText.data(), statusText.data() + 3, record.status)) {
    return {};
  }
  if (haveLatency && latencyText != "-" && latencyText != "null" && !latencyText.empty()) {
    std::optional<std::uint64_t> micros;
    switch (jsonFields_.latencyUnit) {
      case LatencyUnit::kSeconds:
        micros = parseDecimal(latencyText, 1000000, 1);
        break;
      case LatencyUnit::kMillis:
        micros = parseDecimal(latencyText, 1000, 1);
        break;
      case LatencyUnit::kMicros:
        micros = parseDecimal(latencyText, 1, 1);
        break;
      case LatencyUnit::kNanos:
        micros = parseDecimal(latencyText, 1, 1000);
        break;
    }
    if (!micros) return {};  // a latency field that is not a number: the line does not fit
    record.hasLatency = true;
    record.latencyMicros = *micros;
  }
  if (haveMethod) record.method = methodOfRequest(methodText);
  record.parsed = true;
  return record;
}

}  // namespace rollgate::agent
