// Clocks are injected: pure logic takes a Clock& (or plain millisecond values), tests use
// FakeClock. Thread-safety: SystemClock is stateless; FakeClock is not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace rollgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds (stored and shown to operators).
  virtual std::uint64_t nowMillis() const = 0;
  // Monotonic milliseconds (timeouts, intervals).
  virtual std::uint64_t steadyMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::uint64_t nowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  std::uint64_t steadyMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::uint64_t startMillis = 1'700'000'000'000) : now_(startMillis) {}
  std::uint64_t nowMillis() const override { return now_; }
  std::uint64_t steadyMillis() const override { return now_; }
  void advanceMillis(std::uint64_t millis) { now_ += millis; }

 private:
  std::uint64_t now_;
};

}  // namespace rollgate
