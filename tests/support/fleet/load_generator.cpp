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
        curl_easy_perform(curl);
        requests_.fetch_add(1);
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

void LoadGenerator::stop() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace rollgate::testing
