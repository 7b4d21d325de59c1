// LoadGenerator: steady HTTP GET traffic for fleet tests and the demo. One thread per target URL
// sends requests at a fixed rate with a kept-alive libcurl handle; a thread that falls behind
// does not burst to catch up. Every failed request is counted: a transfer error (connection
// refused or reset, timeout) or an HTTP status of 500 or more.
// Thread-safety: start(), stop(), requestsSent(), failures() and failureSummary() from the
// owning thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rollgate::testing {

class LoadGenerator {
 public:
  LoadGenerator() = default;
  ~LoadGenerator() { stop(); }
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Starts one thread per URL at `requestsPerSecond` each.
  void start(const std::vector<std::string>& urls, int requestsPerSecond);
  void stop();
  std::uint64_t requestsSent() const { return requests_.load(); }
  std::uint64_t failures() const { return failures_.load(); }
  // Failed requests by kind ("HTTP 503: 12, Couldn't connect to server: 3"); empty: none.
  std::string failureSummary() const;
  // Sets the counters back to zero (between phases of a test). Requires: not started.
  void resetCounts();

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  void countFailure(const std::string& kind);

  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> failures_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> failureKinds_;  // guarded by mutex_
};

}  // namespace rollgate::testing
