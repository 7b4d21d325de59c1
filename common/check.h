// Invariant checks that stay on in every build type (unlike assert, which NDEBUG removes).
// A failed check prints "check failed at FILE:LINE: EXPR (A vs B): MESSAGE" to stderr and aborts.
// Use them for broken invariants only: an expected failure (bad input, a peer's bad message, a
// missing file) is a Result (common/result.h), never a check.
//
//   ROLLGATE_CHECK(cond)                    ROLLGATE_CHECK(cond, "while ", what, " = ", value)
//   ROLLGATE_CHECK_EQ(a, b)  _NE  _LT  _LE  _GT  _GE   (each with optional message parts too)
//
// Operands are evaluated exactly once; they are printed with operator<< when they have one.
// Header-only so that pure libraries (statistics) can use it without linking anything.
// Thread-safety: the macros have no shared state; a failure aborts the whole process.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>

namespace rollgate::check_detail {

template <typename T>
concept Streamable = requires(std::ostream& out, const T& value) {
  out << value;
};

template <typename T>
void appendValue(std::ostringstream& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out << (value ? "true" : "false");
  } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
    out << "nullptr";
  } else if constexpr (Streamable<T>) {
    out << value;
  } else {
    out << "<unprintable>";
  }
}

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (appendValue(out, parts), ...);
  return out.str();
}

[[noreturn]] inline void fail(const char* file, int line, const char* expression,
                              const std::string& operands, const std::string& message) {
  std::string text =
      std::string("check failed at ") + file + ":" + std::to_string(line) + ": " + expression;
  if (!operands.empty()) text += " (" + operands + ")";
  if (!message.empty()) text += ": " + message;
  text += "\n";
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace rollgate::check_detail

#define ROLLGATE_CHECK(cond, ...)                                                    \
  do {                                                                               \
    if (!(cond)) [[unlikely]] {                                                      \
      ::rollgate::check_detail::fail(__FILE__, __LINE__, #cond, std::string(),       \
                                     ::rollgate::check_detail::concat(__VA_ARGS__)); \
    }                                                                                \
  } while (false)

#define ROLLGATE_CHECK_OP_(a, b, op, ...)                                             \
  do {                                                                                \
    const auto& rollgateCheckA_ = (a);                                                \
    const auto& rollgateCheckB_ = (b);                                                \
    if (!(rollgateCheckA_ op rollgateCheckB_)) [[unlikely]] {                         \
      ::rollgate::check_detail::fail(                                                 \
          __FILE__, __LINE__, #a " " #op " " #b,                                      \
          ::rollgate::check_detail::concat(rollgateCheckA_, " vs ", rollgateCheckB_), \
          ::rollgate::check_detail::concat(__VA_ARGS__));                             \
    }                                                                                 \
  } while (false)

#define ROLLGATE_CHECK_EQ(a, b, ...) ROLLGATE_CHECK_OP_(a, b, ==, __VA_ARGS__)
#define ROLLGATE_CHECK_NE(a, b, ...) ROLLGATE_CHECK_OP_(a, b, !=, __VA_ARGS__)
#define ROLLGATE_CHECK_LT(a, b, ...) ROLLGATE_CHECK_OP_(a, b, <, __VA_ARGS__)
#define ROLLGATE_CHECK_LE(a, b, ...) ROLLGATE_CHECK_OP_(a, b, <=, __VA_ARGS__)
#define ROLLGATE_CHECK_GT(a, b, ...) ROLLGATE_CHECK_OP_(a, b, >, __VA_ARGS__)
#define ROLLGATE_CHECK_GE(a, b, ...) ROLLGATE_CHECK_OP_(a, b, >=, __VA_ARGS__)
