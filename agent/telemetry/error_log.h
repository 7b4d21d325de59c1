// Error-log line counting: does a line match the configured pattern (e.g.
// `ERROR|FATAL|panic|\[error\]`)? A pattern that is only alternatives of literal text (with `\`
// escapes for regex metacharacters) is matched by substring search; anything else is compiled once
// with RE2 and searched (not anchored) in the whole line. RE2 matches in time linear in the line,
// whatever the pattern, because the pattern comes from an operator and runs on every line. The
// syntax is the config's usual one (ECMAScript-like); what RE2 cannot do in linear time
// (back-references, lookahead, lookbehind) is refused at compile time with an error that says so.
// Lines are matched as bytes (Latin-1), as logs need not be valid UTF-8.
// Thread-safety: immutable after construction; matches() is const and may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace rollgate::agent {

class ErrorPattern {
 public:
  // Fails, naming the pattern and RE2's reason, when it is empty, invalid, or uses a feature RE2
  // does not support.
  static Result<ErrorPattern> compile(std::string_view pattern);

  bool matches(std::string_view line) const;
  // True when the pattern was reduced to literal alternatives (the fast path).
  bool isLiteral() const { return regex_ == nullptr; }
  const std::string& pattern() const { return pattern_; }

 private:
  ErrorPattern() = default;
  std::string pattern_;
  std::vector<std::string> literals_;
  std::shared_ptr<const re2::RE2> regex_;
};

}  // namespace rollgate::agent
