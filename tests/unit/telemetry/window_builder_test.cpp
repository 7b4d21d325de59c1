#include "agent/telemetry/window_builder.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>

using rollgate::StatusCount;
using rollgate::TelemetryWindow;
using rollgate::agent::AccessRecord;
using rollgate::agent::ResourceSample;
using rollgate::agent::WindowBuilder;
using rollgate::agent::WindowOptions;

namespace {

AccessRecord request(std::uint16_t status, std::optional<std::uint64_t> latencyMicros = {}) {
  AccessRecord record;
  record.parsed = true;
  record.status = status;
  if (latencyMicros) {
    record.hasLatency = true;
    record.latencyMicros = *latencyMicros;
  }
  return record;
}

std::uint64_t sum(const std::vector<std::uint64_t>& values) {
  return std::accumulate(values.begin(), values.end(), std::uint64_t{0});
}

}  // namespace

TEST_CASE("a window is cut only after windowMillis and counts are exact") {
  WindowBuilder builder("web", "v1", 1000, WindowOptions{.windowMillis = 10000});
  for (int i = 0; i < 7; ++i) builder.addAccess(request(200, 1500));
  builder.addAccess(request(204, 900));
  builder.addAccess(request(301));
  builder.addAccess(request(404, 80));
  builder.addAccess(request(503, 2000000));
  builder.addAccess(request(503, 100));
  builder.addAccess(request(101));
  builder.addAccess(AccessRecord{});  // unparsed
  builder.addErrorLines(2);
  CHECK_FALSE(builder.cut(10999).has_value());
  const auto window = builder.cut(11000);
  REQUIRE(window.has_value());
  CHECK(window->service == "web");
  CHECK(window->release == "v1");
  CHECK(window->startMillis == 1000);
  CHECK(window->endMillis == 11000);
  CHECK(window->requests == 13);
  CHECK(window->status1xx == 1);
  CHECK(window->status2xx == 8);
  CHECK(window->status3xx == 1);
  CHECK(window->status4xx == 1);
  CHECK(window->status5xx == 2);
  CHECK(window->statusCodes ==
        std::vector<StatusCount>{{101, 1}, {200, 7}, {204, 1}, {301, 1}, {404, 1}, {503, 2}});
  CHECK(window->unparsedLines == 1);
  CHECK(window->errorLogLines == 2);
  CHECK(sum(window->latencyBucketCounts) == 11);
  CHECK(window->latencySampleMicros.size() == 11);
  CHECK(window->latencyBucketUpperMicros == rollgate::agent::latencyBucketUpperMicros());
  CHECK(window->latencyBucketCounts.size() == window->latencyBucketUpperMicros.size());

  // The next window starts where the last ended and starts empty.
  CHECK(builder.nextCutMillis() == 21000);
  builder.addAccess(request(200));
  const auto next = builder.cut(21500);  // a late timer: one longer window, no gap
  REQUIRE(next.has_value());
  CHECK(next->startMillis == 11000);
  CHECK(next->endMillis == 21500);
  CHECK(next->requests == 1);
  CHECK(next->statusCodes == std::vector<StatusCount>{{200, 1}});
  CHECK(next->errorLogLines == 0);
  CHECK(sum(next->latencyBucketCounts) == 0);
}

TEST_CASE("a new window length (the coordinator's) applies to the open window") {
  // Until the coordinator's Welcome the agent cuts 10 s windows; then, say, 1 s ones.
  WindowBuilder builder("web", "v1", 0, WindowOptions{.windowMillis = 10000});
  builder.setWindowMillis(1000);
  CHECK(builder.windowMillis() == 1000);
  CHECK(builder.nextCutMillis() == 1000);
  CHECK_FALSE(builder.cut(999).has_value());
  auto first = builder.cut(1000);
  REQUIRE(first.has_value());
  CHECK(first->startMillis == 0);
  CHECK(first->endMillis == 1000);
  // An open window already longer than the new length is cut at the next look, in one piece.
  builder.setWindowMillis(10000);
  CHECK_FALSE(builder.cut(5000).has_value());
  builder.setWindowMillis(2000);
  auto second = builder.cut(5000);
  REQUIRE(second.has_value());
  CHECK(second->startMillis == 1000);
  CHECK(second->endMillis == 5000);
  CHECK(builder.nextCutMillis() == 7000);
}

TEST_CASE("latency buckets: bounds are log-spaced, inclusive upper bounds, the last is +inf") {
  const auto& bounds = rollgate::agent::latencyBucketUpperMicros();
  REQUIRE(bounds.size() == 42);
  CHECK(bounds.front() == 64);
  CHECK(bounds[2] == 128);
  CHECK(bounds.back() == UINT64_MAX);
  CHECK(std::is_sorted(bounds.begin(), bounds.end()));
  WindowBuilder builder("web", "v1", 0);
  builder.addAccess(request(200, 64));          // bucket 0
  builder.addAccess(request(200, 65));          // bucket 1 (91)
  builder.addAccess(request(200, 0));           // bucket 0
  builder.addAccess(request(200, 1ULL << 40));  // +inf
  const auto window = builder.closeNow(5);
  CHECK(window.latencyBucketCounts[0] == 2);
  CHECK(window.latencyBucketCounts[1] == 1);
  CHECK(window.latencyBucketCounts.back() == 1);
  CHECK(std::count(window.latencySampleMicros.begin(), window.latencySampleMicros.end(),
                   UINT32_MAX) == 1);
}

TEST_CASE("a release switch cuts the window at that moment: no window mixes two releases") {
  WindowBuilder builder("web", "v1", 0, WindowOptions{.windowMillis = 10000});
  for (int i = 0; i < 5; ++i) builder.addAccess(request(200));
  const auto old = builder.switchRelease("v2", 4000);
  REQUIRE(old.has_value());
  CHECK(old->release == "v1");
  CHECK(old->startMillis == 0);
  CHECK(old->endMillis == 4000);
  CHECK(old->requests == 5);
  for (int i = 0; i < 3; ++i) builder.addAccess(request(500));
  CHECK_FALSE(builder.cut(13999).has_value());  // the new window runs a full length from 4000
  const auto next = builder.cut(14000);
  REQUIRE(next.has_value());
  CHECK(next->release == "v2");
  CHECK(next->startMillis == 4000);
  CHECK(next->requests == 3);
  CHECK(next->status5xx == 3);
  CHECK(next->status2xx == 0);
  // Switching again right at a cut boundary with nothing in the window emits nothing.
  CHECK_FALSE(builder.switchRelease("v3", 14000).has_value());
  CHECK(builder.release() == "v3");
}

TEST_CASE("the latency sample is bounded, uniform-ish and deterministic for a seed") {
  const auto run = [](std::uint64_t seed) {
    WindowBuilder builder("web", "v1", 0, WindowOptions{.sampleCapacity = 1024, .seed = seed});
    for (std::uint64_t i = 0; i < 100000; ++i) builder.addAccess(request(200, i));
    return builder.closeNow(10000);
  };
  const auto window = run(7);
  CHECK(window.requests == 100000);
  CHECK(sum(window.latencyBucketCounts) == 100000);
  REQUIRE(window.latencySampleMicros.size() == 1024);
  const std::set<std::uint32_t> distinct(window.latencySampleMicros.begin(),
                                         window.latencySampleMicros.end());
  CHECK(distinct.size() == 1024);  // sampled without replacement
  // Uniform over 0..99999: the sample mean is near 50000 (sd of the mean ~ 900).
  const double mean = static_cast<double>(std::accumulate(window.latencySampleMicros.begin(),
                                                          window.latencySampleMicros.end(), 0.0)) /
                      1024.0;
  CHECK(mean > 45000);
  CHECK(mean < 55000);
  // Late values are represented, not just the first 1024.
  CHECK(std::count_if(window.latencySampleMicros.begin(), window.latencySampleMicros.end(),
                      [](std::uint32_t v) { return v >= 50000; }) > 400);
  CHECK(run(7).latencySampleMicros == window.latencySampleMicros);
  CHECK(run(8).latencySampleMicros != window.latencySampleMicros);
}

TEST_CASE("the latency sample estimates the tail: its share above the p99 is about 1%") {
  // 40 windows of 100,000 requests, latency = arrival index: the slowest 1% are the last 1,000
  // arrivals, which a first-come or a biased sample would miss or over-represent.
  std::uint64_t above = 0, kept = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    WindowBuilder builder("web", "v1", 0, WindowOptions{.sampleCapacity = 1024, .seed = seed});
    for (std::uint64_t i = 0; i < 100000; ++i) builder.addAccess(request(200, i));
    const auto window = builder.closeNow(10000);
    kept += window.latencySampleMicros.size();
    above += static_cast<std::uint64_t>(std::count_if(window.latencySampleMicros.begin(),
                                                      window.latencySampleMicros.end(),
                                                      [](std::uint32_t v) { return v >= 99000; }));
  }
  REQUIRE(kept == 40 * 1024);
  // Expected 409.6, binomial sd about 20.
  CHECK(above > 350);
  CHECK(above < 470);
}

TEST_CASE("resources: CPU and restarts are deltas within the window, memory the latest") {
  WindowBuilder builder("web", "v1", 0);
  builder.addResourceSample(
      {.cpuMillis = 1000, .memoryBytes = 5000, .restarts = 2, .unitActive = true, .mainPid = 42});
  builder.addResourceSample(
      {.cpuMillis = 1250, .memoryBytes = 6000, .restarts = 2, .unitActive = true, .mainPid = 42});
  auto window = builder.cut(10000);
  REQUIRE(window);
  CHECK(window->cpuMillis == 250);
  CHECK(window->memoryBytes == 6000);
  CHECK(window->restarts == 0);
  CHECK(window->unitActive);
  CHECK(window->mainPid == 42);
  // A restart: the counter rises, the /proc CPU counter of the new process starts again near 0.
  builder.addResourceSample(
      {.cpuMillis = 1300, .memoryBytes = 6000, .restarts = 2, .unitActive = true, .mainPid = 42});
  builder.addResourceSample(
      {.cpuMillis = 30, .memoryBytes = 1000, .restarts = 3, .unitActive = true, .mainPid = 77});
  window = builder.cut(20000);
  REQUIRE(window);
  CHECK(window->cpuMillis == 50 + 30);
  CHECK(window->restarts == 1);
  CHECK(window->memoryBytes == 1000);
  CHECK(window->mainPid == 77);
  // No sample in a window: memory and state carry over, CPU is 0.
  window = builder.cut(30000);
  REQUIRE(window);
  CHECK(window->cpuMillis == 0);
  CHECK(window->memoryBytes == 1000);
  CHECK(window->mainPid == 77);
}
