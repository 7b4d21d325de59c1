// A bounded-memory JSON reader for Sentry payloads: walks a document with nlohmann's SAX parser
// and hands each scalar to a callback with its path ("exception.values[].type"), and each
// finished object with its path, without building the document in memory. A 1 MiB event full of
// stack variables costs a path string, not a tree. Fails on bad JSON or nesting deeper than
// kMaxJsonDepth.
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"

namespace rollgate::agent::sentry {

inline constexpr std::size_t kMaxJsonDepth = 64;

// A scalar: null (monostate), bool, integer (negative integers as int64), unsigned, float, text.
using JsonScalar =
    std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string_view>;

struct JsonVisitor {
  std::function<void(std::string_view path, const JsonScalar& value)> scalar;
  std::function<void(std::string_view path)> objectEnd;  // may be empty
};

// Requires: visitor.scalar is set. `what` names the document in the error ("event item 2").
Status visitJson(std::string_view text, const JsonVisitor& visitor, std::string_view what);

// The value as an unsigned count (0 for anything that is not a non-negative number).
std::uint64_t countOf(const JsonScalar& value);

}  // namespace rollgate::agent::sentry
