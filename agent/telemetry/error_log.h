// Error-log line counting: does a line match the configured pattern (e.g.
// `ERROR|FATAL|panic|\[error\]`)? A pattern that is only alternatives of literal text (with `\`
// escapes for regex metacharacters) is matched by substring search; anything else is compiled once
// as an ECMAScript std::regex and searched (not anchored) in the first kMaxRegexBytes of a line.
// Compiled once at construction. Thread-safety: immutable after construction; matches() is const
// and may be called concurrently.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::agent {

class ErrorPattern {
 public:
  static constexpr std::size_t kMaxRegexBytes = 4096;

  // Fails, naming the pattern, when it is empty or not a valid ECMAScript regex.
  static Result<ErrorPattern> compile(std::string_view pattern);

  bool matches(std::string_view line) const;
  // True when the pattern was reduced to literal alternatives (the fast path).
  bool isLiteral() const { return regex_ == nullptr; }
  const std::string& pattern() const { return pattern_; }

 private:
  ErrorPattern() = default;
  std::string pattern_;
  std::vector<std::string> literals_;
  std::shared_ptr<const std::regex> regex_;
};

}  // namespace rollgate::agent
