#include "tests/support/fleet/load_generator.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

namespace rollgate::testing {

void LoadGenerator::start(const std::vector<std::string>& urls, int requestsPerSecond) {
  stop_ = false;
  for (const auto& url : urls) {
    threads_.emplace_back([this, url, requestsPerSecond] {
      CURL* curl = curl_easy_init();
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                       +[](char*, size_t size, size_t count, void*) { return size * count; });
      auto interval = std::chrono::microseconds(1'000'000 / std::max(1, requestsPerSecond));
      auto next = std::chrono::steady_clock::now();
      while (!stop_.load()) {
        CURLcode code = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        requests_.fetch_add(1);
        if (code != CURLE_OK) {
          countFailure(curl_easy_strerror(code));
        } else if (status >= 500) {
          countFailure("HTTP " + std::to_string(status));
        }
        next += interval;
        auto now = std::chrono::steady_clock::now();
        if (next > now) {
          std::this_thread::sleep_for(next - now);
        } else if (now - next > std::chrono::seconds(1)) {
          next = now;  // fell behind: do not burst to catch up
        }
      }
      curl_easy_cleanup(curl);
    });
  }
}

void LoadGenerator::countFailure(const std::string& kind) {
  failures_.fetch_add(1);
  std::lock_guard lock(mutex_);
  ++failureKinds_[kind];
}

std::string LoadGenerator::failureSummary() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [kind, count] : failureKinds_) {
    out += (out.empty() ? "" : ", ") + kind + ": " + std::to_string(count);
  }
  return out;
}

void LoadGenerator::resetCounts() {
  requests_ = 0;
  failures_ = 0;
  std::lock_guard lock(mutex_);
  failureKinds_.clear();
}

void LoadGenerator::stop() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace rollgate::testing
