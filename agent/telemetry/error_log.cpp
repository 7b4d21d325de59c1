#include "agent/telemetry/error_log.h"

#include <re2/re2.h>

#include <cstring>
#include <optional>

namespace rollgate::agent {
namespace {

// RE2's compiled program is bounded; a pattern beyond it fails to compile instead of growing.
constexpr std::int64_t kMaxProgramBytes = 8 << 20;

// Splits a pattern into literal alternatives, or nullopt when it uses real regex syntax.
std::optional<std::vector<std::string>> literalAlternatives(std::string_view pattern) {
  static constexpr std::string_view kMeta = ".^$*+?()[]{}|\\";
  std::vector<std::string> out(1);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '|') {
      out.emplace_back();
    } else if (c == '\\') {
      if (i + 1 == pattern.size()) return std::nullopt;
      const char next = pattern[++i];
      if (kMeta.find(next) == std::string_view::npos && next != '/' && next != '-') {
        return std::nullopt;  // \d, \s, \b ...: a real regex
      }
      out.back() += next;
    } else if (kMeta.find(c) != std::string_view::npos) {
      return std::nullopt;
    } else {
      out.back() += c;
    }
  }
  for (const auto& alternative : out) {
    if (alternative.empty()) return std::nullopt;  // "A||B" matches everything: leave it to RE2
  }
  return out;
}

// ECMAScript features RE2 refuses (they need backtracking), named for the operator. Escapes are
// skipped so that `\(?=` is not mistaken for a lookahead.
std::optional<std::string> unsupportedFeature(std::string_view pattern) {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[i + 1];
      if (next >= '1' && next <= '9') return "back-reference \\" + std::string(1, next);
      if (next == 'k' && i + 2 < pattern.size() && pattern[i + 2] == '<') {
        return "named back-reference \\k<...>";
      }
      ++i;
      continue;
    }
    const std::string_view rest = pattern.substr(i);
    if (rest.starts_with("(?=")) return "lookahead (?=...)";
    if (rest.starts_with("(?!")) return "negative lookahead (?!...)";
    if (rest.starts_with("(?<=")) return "lookbehind (?<=...)";
    if (rest.starts_with("(?<!")) return "negative lookbehind (?<!...)";
  }
  return std::nullopt;
}

}  // namespace

Result<ErrorPattern> ErrorPattern::compile(std::string_view pattern) {
  if (pattern.empty()) return makeError("error log pattern: must not be empty");
  ErrorPattern compiled;
  compiled.pattern_ = std::string(pattern);
  if (auto literals = literalAlternatives(pattern)) {
    compiled.literals_ = std::move(*literals);
    return compiled;
  }
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  options.set_max_mem(kMaxProgramBytes);
  auto regex = std::make_shared<const RE2>(compiled.pattern_, options);
  if (!regex->ok()) {
    std::string message = "error log pattern '" + compiled.pattern_ + "': " + regex->error();
    if (auto feature = unsupportedFeature(pattern)) {
      message += " (the " + *feature +
                 " is ECMAScript-only: RE2 matches in linear time and supports no "
                 "back-references or lookaround)";
    }
    return makeError(std::move(message));
  }
  compiled.regex_ = std::move(regex);
  return compiled;
}

bool ErrorPattern::matches(std::string_view line) const {
  if (regex_ != nullptr) {
    return RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *regex_);
  }
  for (const auto& literal : literals_) {
    if (line.size() >= literal.size() &&
        memmem(line.data(), line.size(), literal.data(), literal.size()) != nullptr) {
      return true;
    }
  }
  return false;
}

}  // namespace rollgate::agent
