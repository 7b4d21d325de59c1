// Result<T>: the expected-failure channel. A Result holds either a value or an Error whose message
// names the thing and the value that were wrong ("agent.toml: key 'agent.region': expected a
// string, got integer 3"). Broken invariants are assertions, not Results.
// Thread-safety: a plain value type.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "common/check.h"

namespace rollgate {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Requires: ok().
  T& value() & {
    ROLLGATE_CHECK(ok(), "value() of a failed Result: ", std::get<1>(state_).message);
    return std::get<0>(state_);
  }
  const T& value() const& {
    ROLLGATE_CHECK(ok(), "value() of a failed Result: ", std::get<1>(state_).message);
    return std::get<0>(state_);
  }
  T&& value() && {
    ROLLGATE_CHECK(ok(), "value() of a failed Result: ", std::get<1>(state_).message);
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // Requires: !ok().
  const Error& error() const {
    ROLLGATE_CHECK(!ok(), "error() of a successful Result");
    return std::get<1>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    ROLLGATE_CHECK(failed_, "error() of a successful Status");
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

inline Error makeError(std::string message) { return Error{std::move(message)}; }

}  // namespace rollgate
