// The latency tail check (tail_fisher): a slow tail that grows while the median stays put fails
// with an explanation naming its numbers, where the median-shift check passes; the same build on
// both sides passes; a heavier tail below the millisecond floor passes; and with identical builds
// its false-alarm rate at one look stays at alpha even with latencies in whole milliseconds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/stats/gate.h"

namespace rollgate::stats {
namespace {

CheckSpec tailSpec() {
  CheckSpec spec;
  spec.name = "latency_tail";
  spec.metric = Metric::kLatency;
  spec.test = Test::kTailFisher;
  spec.alternative = Alternative::kGreater;
  spec.alpha = 0.01;
  spec.quantile = 0.99;
  spec.minEffect = 50'000;
  spec.minRatio = 2.0;
  spec.minData = 200;
  return spec;
}

// `n` latencies in microseconds, lognormal around 20 ms, a share `slowShare` of them `slowFactor`
// times slower, rounded to whole milliseconds as nginx logs them.
std::vector<double> latencies(std::mt19937_64& random, int n, double slowShare = 0.0,
                              double slowFactor = 1.0) {
  std::lognormal_distribution<double> millis(std::log(20.0), 0.3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    double ms = millis(random);
    if (unit(random) < slowShare) ms *= slowFactor;
    out.push_back(std::round(ms) * 1000.0);
  }
  return out;
}

TEST_CASE("A slow tail 100x slower on 2% of requests fails the tail check, not the median one") {
  std::mt19937_64 random(7);
  const std::vector<double> canary = latencies(random, 3000, 0.02, 100.0);
  const std::vector<double> baseline = latencies(random, 6000);
  const SamplesData data{canary, baseline};

  const auto tail = evaluateCheck(tailSpec(), {data, 1, 1});
  REQUIRE(tail.ok());
  INFO(tail->explanation);
  CHECK(toString(tail->verdict) == "fail");
  CHECK(tail->pValue < 1e-10);
  CHECK(tail->canaryValue > 1'000'000);  // the canary's p99 is in the slow mode (about 2 s)
  CHECK(tail->baselineValue < 50'000);
  CHECK(tail->canaryEvents > 2 * tail->baselineEvents * canary.size() / baseline.size());
  CHECK(tail->effectName == "p99 difference");
  const std::string& text = tail->explanation;
  CHECK(text.rfind("latency tail: canary p99 ", 0) == 0);
  CHECK(text.find(" ms (n=3000) vs comparison p99 ") != std::string::npos);
  CHECK(text.find(" of canary samples (") != std::string::npos);
  CHECK(text.find(" over the pooled p99 ") != std::string::npos);
  CHECK(text.find("Fisher greater p=") != std::string::npos);
  CHECK(text.find("reaches minimum 50 ms") != std::string::npos);
  CHECK(text.find("reaches minimum 2: fail") != std::string::npos);

  // The incident this check exists for: the median-shift test sees nothing large enough.
  CheckSpec median = tailSpec();
  median.name = "latency";
  median.test = Test::kMannWhitney;
  median.minEffect = 5000;
  median.minRatio = 1.05;
  const auto shift = evaluateCheck(median, {data, 1, 1});
  REQUIRE(shift.ok());
  INFO(shift->explanation);
  CHECK(toString(shift->verdict) == "pass");
}

TEST_CASE("The tail check passes the same build, a small tail and a tail below the ms floor") {
  std::mt19937_64 random(11);
  SUBCASE("identical builds") {
    const auto canary = latencies(random, 3000);
    const auto baseline = latencies(random, 6000);
    const auto result = evaluateCheck(tailSpec(), {SamplesData{canary, baseline}, 1, 1});
    REQUIRE(result.ok());
    INFO(result->explanation);
    CHECK(toString(result->verdict) == "pass");
    // The pooled p99 splits about 1% off each side.
    CHECK(result->canaryEvents + result->baselineEvents >= 85);
    CHECK(result->canaryEvents + result->baselineEvents <= 95);
  }
  SUBCASE("a tail 3 ms slower on 5% of requests: significant, but under the 50 ms floor") {
    std::vector<double> canary = latencies(random, 20000);
    std::vector<double> baseline = latencies(random, 20000);
    std::sort(canary.begin(), canary.end());
    for (std::size_t i = canary.size() * 95 / 100; i < canary.size(); ++i) canary[i] += 3000;
    const auto result = evaluateCheck(tailSpec(), {SamplesData{canary, baseline}, 1, 1});
    REQUIRE(result.ok());
    INFO(result->explanation);
    CHECK(result->significant);
    CHECK(toString(result->verdict) == "pass");
    CHECK(result->explanation.find("below minimum 50 ms") != std::string::npos);
    CHECK(result->explanation.find("(significant but too small)") != std::string::npos);
  }
  SUBCASE("too few samples is not enough data") {
    const auto canary = latencies(random, 199, 0.5, 100.0);
    const auto baseline = latencies(random, 6000);
    const auto result = evaluateCheck(tailSpec(), {SamplesData{canary, baseline}, 1, 1});
    REQUIRE(result.ok());
    CHECK(toString(result->verdict) == "not_enough_data");
  }
}

TEST_CASE("The tail check refuses a quantile of 0 or 1 and counts instead of samples") {
  CheckSpec spec = tailSpec();
  spec.quantile = 1.0;
  auto refused = validateCheckSpec(spec);
  REQUIRE(!refused.ok());
  CHECK(refused.error().message ==
        "check 'latency_tail': tail_fisher quantile 1 outside (0, 1) (0.99 tests the slowest 1%)");
  const auto counts = evaluateCheck(tailSpec(), {CountsData{1, 10, 1, 10}, 1, 1});
  REQUIRE(!counts.ok());
  CHECK(counts.error().message == "check 'latency_tail': tail_fisher needs samples, got counts");
  CHECK(testApplies(Test::kTailFisher, Metric::kLatency));
  CHECK(!testApplies(Test::kTailFisher, Metric::kCpu));
}

// The threshold is the pooled quantile, so with identical builds the canary's count above it is
// exactly hypergeometric: at one look the false-alarm rate is at most alpha, ties and all (and not
// far below it: Fisher's discreteness makes it conservative, not blind).
TEST_CASE("Identical builds, whole-millisecond latencies: the tail check's false alarms <= alpha") {
  constexpr double kAlpha = 0.05;
  constexpr int kRuns = 3000;
  std::mt19937_64 random(20261202);
  CheckSpec spec = tailSpec();
  spec.alpha = kAlpha;
  spec.minEffect = 0;
  spec.minRatio = 0;
  int alarms = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto canary = latencies(random, 400);
    const auto baseline = latencies(random, 2000);
    const auto result = evaluateCheck(spec, {SamplesData{canary, baseline}, 1, 1});
    REQUIRE(result.ok());
    alarms += result->pValue <= kAlpha ? 1 : 0;
  }
  const double rate = static_cast<double>(alarms) / kRuns;
  MESSAGE("tail_fisher A/A at one look: " << rate << " false alarms at alpha " << kAlpha);
  CHECK(rate <= kAlpha + 3.0 * std::sqrt(kAlpha * (1 - kAlpha) / kRuns));
  CHECK(rate > kAlpha / 4);
}

}  // namespace
}  // namespace rollgate::stats
