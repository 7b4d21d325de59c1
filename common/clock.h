// Clocks are injected: pure logic takes a Clock& (or plain millisecond values), tests use
// FakeClock. Code that waits (polling a child, retrying a probe) sleeps through the clock too, so
// a test with a FakeClock never sleeps: FakeClock::sleepMillis moves its time forward and returns.
// sys::Env (common/sys/env.h) is a Clock with files and directories added.
// Thread-safety: SystemClock is stateless; FakeClock is safe to read, advance and sleep on from
// several threads (its time is one atomic counter).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace rollgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds (stored and shown to operators).
  virtual std::uint64_t nowMillis() const = 0;
  // Monotonic milliseconds (timeouts, intervals).
  virtual std::uint64_t steadyMillis() const = 0;
  // Blocks the calling thread for `millis` of this clock's time.
  virtual void sleepMillis(std::uint64_t millis) const = 0;
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
  void sleepMillis(std::uint64_t millis) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(millis));
  }
};

// Wall and monotonic time are the same counter; it moves only by advanceMillis and sleepMillis.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::uint64_t startMillis = 1'700'000'000'000) : now_(startMillis) {}
  std::uint64_t nowMillis() const override { return now_.load(); }
  std::uint64_t steadyMillis() const override { return now_.load(); }
  void sleepMillis(std::uint64_t millis) const override {
    now_ += millis;
    sleptMillis_ += millis;
  }
  void advanceMillis(std::uint64_t millis) { now_ += millis; }
  // Total time spent in sleepMillis (tests check how long code waited).
  std::uint64_t sleptMillis() const { return sleptMillis_.load(); }

 private:
  mutable std::atomic<std::uint64_t> now_;
  mutable std::atomic<std::uint64_t> sleptMillis_{0};
};

}  // namespace rollgate
