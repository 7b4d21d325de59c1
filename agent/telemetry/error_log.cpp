#include "agent/telemetry/error_log.h"

#include <cstring>
#include <optional>

namespace rollgate::agent {
namespace {

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
    if (alternative.empty()) return std::nullopt;  // "A||B" matches everything: leave it to regex
  }
  return out;
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
  // libstdc++'s regex compiler overflows a signed integer on long numbers (back-references,
  // repetition counts): refuse them instead of compiling with undefined behaviour.
  std::size_t digits = 0;
  for (const char c : pattern) {
    digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
    if (digits > 6) {
      return makeError("error log pattern '" + compiled.pattern_ +
                       "': numbers longer than 6 digits are not supported");
    }
  }
  try {
    compiled.regex_ = std::make_shared<const std::regex>(
        compiled.pattern_, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& error) {
    return makeError("error log pattern '" + compiled.pattern_ + "': " + error.what());
  }
  return compiled;
}

bool ErrorPattern::matches(std::string_view line) const {
  if (regex_ != nullptr) {
    // std::regex matches recursively: bound the text it sees so a huge line cannot exhaust the
    // stack. Error markers sit near the start of a line.
    const std::string_view head = line.substr(0, kMaxRegexBytes);
    return std::regex_search(head.begin(), head.end(), *regex_);
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
