// LoadGenerator: steady HTTP GET traffic for fleet tests and the demo. One thread per target URL
// sends requests at a fixed rate with a kept-alive libcurl handle; a thread that falls behind
// does not burst to catch up.
// Thread-safety: start(), stop() and requestsSent() from the owning thread.
#pragma once

#include <atomic>
#include <cstdint>
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

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace rollgate::testing
