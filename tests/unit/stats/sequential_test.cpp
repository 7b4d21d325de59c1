// The repeated-looks rule: published Lan-DeMets boundaries, and A/A simulations showing that
// looking at every window keeps a stage's false-alarm rate at alpha (and not far below it).
#include "common/stats/sequential.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/stats/fisher.h"
#include "common/stats/gate.h"
#include "common/stats/mann_whitney.h"

namespace rollgate::stats {
namespace {

TEST_CASE("Lan-DeMets O'Brien-Fleming boundaries for 5 looks match the published table") {
  // Jennison & Turnbull / ldbounds: two-sided alpha 0.05 (= one-sided 0.025), 5 equal looks.
  const double expected[] = {4.8769, 3.3569, 2.6803, 2.2898, 2.0310};
  const auto oneSided = SequentialPlan::make(0.025, 5, false);
  const auto twoSided = SequentialPlan::make(0.05, 5, true);
  REQUIRE(oneSided.ok());
  REQUIRE(twoSided.ok());
  for (int k = 1; k <= 5; ++k) {
    INFO("look " << k);
    CHECK(oneSided->boundaryZ(k) == doctest::Approx(expected[k - 1]).epsilon(2e-4));
    CHECK(twoSided->boundaryZ(k) == doctest::Approx(expected[k - 1]).epsilon(2e-4));
  }
  CHECK(oneSided->cumulativeAlpha(5) == doctest::Approx(0.025));
}

TEST_CASE("A single look uses alpha itself; early looks are strict, the last nearly alpha") {
  const auto one = SequentialPlan::make(0.05, 1, false);
  REQUIRE(one.ok());
  CHECK(one->nominalAlpha(1) == doctest::Approx(0.05));
  const auto twelve = SequentialPlan::make(0.05, 12, false);
  REQUIRE(twelve.ok());
  CHECK(twelve->nominalAlpha(1) < 1e-9);
  for (int k = 2; k <= 12; ++k) CHECK(twelve->nominalAlpha(k) > twelve->nominalAlpha(k - 1));
  CHECK(twelve->nominalAlpha(12) > 0.03);
  CHECK(twelve->nominalAlpha(12) < 0.05);
  const auto pocock = SequentialPlan::make(0.05, 12, false, SpendingFunction::kPocock);
  REQUIRE(pocock.ok());
  CHECK(pocock->nominalAlpha(1) > twelve->nominalAlpha(1) * 1000);
  CHECK(pocock->nominalAlpha(12) < twelve->nominalAlpha(12));
}

TEST_CASE("Plans refuse alpha and look counts outside their range") {
  CHECK_FALSE(SequentialPlan::make(0.0, 12, false).ok());
  CHECK_FALSE(SequentialPlan::make(0.7, 12, false).ok());
  CHECK_FALSE(SequentialPlan::make(0.05, 0, false).ok());
  const auto tooMany = SequentialPlan::make(0.05, SequentialPlan::kMaxLooks + 1, false);
  REQUIRE_FALSE(tooMany.ok());
  CHECK(tooMany.error().message.find("241") != std::string::npos);
}

struct Share {
  int failed = 0;
  int stages = 0;
  double value() const { return static_cast<double>(failed) / stages; }
};

// The allowed sampling error: three binomial standard deviations.
double tolerance(double alpha, int stages) { return 3.0 * std::sqrt(alpha * (1 - alpha) / stages); }

TEST_CASE("A/A simulation, Fisher at every window: stage false alarms stay at alpha") {
  constexpr double kAlpha = 0.05;
  constexpr int kStages = 4000;
  constexpr int kLooks = 12;
  constexpr std::uint64_t kRequestsPerWindow = 2000;
  CheckSpec spec;
  spec.alpha = 0.05;
  spec.name = "errors";
  spec.test = Test::kFisher;
  spec.alternative = Alternative::kGreater;
  spec.alpha = kAlpha;
  spec.minData = 1000;
  const auto plan = makeCheckPlan(spec, kLooks);
  REQUIRE(plan.ok());

  std::mt19937_64 random(20261121);
  std::binomial_distribution<std::uint64_t> errors(kRequestsPerWindow, 0.01);
  Share sequential;
  Share naive;  // the same looks, each at the fixed alpha: what the rule prevents
  for (int stage = 0; stage < kStages; ++stage) {
    CountsData counts;
    bool failed = false;
    bool naiveFailed = false;
    for (int look = 1; look <= kLooks; ++look) {
      counts.canaryEvents += errors(random);
      counts.baselineEvents += errors(random);
      counts.canaryTotal += kRequestsPerWindow;
      counts.baselineTotal += kRequestsPerWindow;
      const auto result = evaluateCheck(spec, {counts, look, kLooks}, *plan);
      REQUIRE(result.ok());
      REQUIRE(toString(result->verdict) != "not_enough_data");
      failed = failed || result->verdict == Verdict::kFail;
      naiveFailed = naiveFailed || result->pValue <= kAlpha;
    }
    sequential.failed += failed ? 1 : 0;
    naive.failed += naiveFailed ? 1 : 0;
    ++sequential.stages;
    ++naive.stages;
  }
  MESSAGE("Fisher A/A: " << sequential.value() << " of stages failed with the rule, "
                         << naive.value() << " with alpha at every look");
  CHECK(sequential.value() <= kAlpha + tolerance(kAlpha, kStages));
  CHECK(sequential.value() > kAlpha / 4);
  CHECK(naive.value() > 2 * kAlpha);  // the rule is needed
}

TEST_CASE("A/A simulation, Mann-Whitney at every window: stage false alarms stay at alpha") {
  constexpr double kAlpha = 0.05;
  constexpr int kStages = 2500;
  constexpr int kLooks = 10;
  constexpr int kSamplesPerWindow = 30;
  const auto plan = SequentialPlan::make(kAlpha, kLooks, false);
  REQUIRE(plan.ok());
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> latency(3.0, 0.6);
  Share share;
  for (int stage = 0; stage < kStages; ++stage) {
    std::vector<double> canary;
    std::vector<double> baseline;
    bool failed = false;
    for (int look = 1; look <= kLooks && !failed; ++look) {
      for (int i = 0; i < kSamplesPerWindow; ++i) {
        canary.push_back(latency(random));
        baseline.push_back(latency(random));
      }
      const auto result = mannWhitneyU(canary, baseline, Alternative::kGreater);
      REQUIRE(result.ok());
      failed = result->pValue <= plan->nominalAlpha(look);
    }
    share.failed += failed ? 1 : 0;
    ++share.stages;
  }
  MESSAGE("Mann-Whitney A/A: " << share.value() << " of stages failed");
  CHECK(share.value() <= kAlpha + tolerance(kAlpha, kStages));
  CHECK(share.value() > kAlpha / 4);
}

TEST_CASE("A real regression is caught before the last look") {
  CheckSpec spec;
  spec.alpha = 0.05;
  spec.name = "5xx";
  spec.alpha = 0.05;
  spec.minRatio = 1.5;
  const auto plan = makeCheckPlan(spec, 12);
  REQUIRE(plan.ok());
  std::mt19937_64 random(3);
  std::binomial_distribution<std::uint64_t> baselineErrors(2000, 0.002);
  std::binomial_distribution<std::uint64_t> canaryErrors(2000, 0.02);
  CountsData counts;
  int failedAt = 0;
  for (int look = 1; look <= 12 && failedAt == 0; ++look) {
    counts.canaryEvents += canaryErrors(random);
    counts.baselineEvents += baselineErrors(random);
    counts.canaryTotal += 2000;
    counts.baselineTotal += 2000;
    const auto result = evaluateCheck(spec, {counts, look, 12}, *plan);
    REQUIRE(result.ok());
    if (result->verdict == Verdict::kFail) failedAt = look;
  }
  CHECK(failedAt >= 1);
  CHECK(failedAt <= 3);
}

}  // namespace
}  // namespace rollgate::stats
