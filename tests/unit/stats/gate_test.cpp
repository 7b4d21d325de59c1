// The gate evaluator's verdicts on a table of cases: not enough data is never a pass, a
// significant but tiny effect passes, a large significant effect fails, early looks are strict,
// thresholds compare the canary alone, and bad specs or inputs are errors naming the value.
#include "common/stats/gate.h"

#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace rollgate::stats {
namespace {

struct CountsCase {
  const char* what;
  CountsData counts;
  int look;
  int looks;
  Test test;
  Alternative alternative;
  std::optional<double> minimumAbsolute;
  std::optional<double> minimumRelative;
  std::uint64_t minData;
  double threshold;
  const char* verdict;
};

TEST_CASE("Count checks: verdict table") {
  const Test f = Test::kFisher;
  const Alternative g = Alternative::kGreater;
  // clang-format off
  const std::vector<CountsCase> cases = {
      {"clear regression, last look", {31, 1000, 2, 1000}, 1, 1, f, g, {}, 1.5, 100, 0, "fail"},
      {"clear regression, look 3 of 12", {31, 1000, 2, 1000}, 3, 12, f, g, {}, 1.5, 100, 0, "fail"},
      {"borderline at look 1 of 12 is not enough evidence", {12, 1000, 3, 1000}, 1, 12, f, g, {}, {}, 100, 0, "pass"},
      {"borderline at the single look fails", {12, 1000, 3, 1000}, 1, 1, f, g, {}, {}, 100, 0, "fail"},
      {"significant but tiny ratio passes", {13000, 1000000, 10000, 1000000}, 12, 12, f, g, {}, 1.5, 100, 0, "pass"},
      {"significant but tiny difference passes", {13000, 1000000, 10000, 1000000}, 12, 12, f, g, 0.005, {}, 100, 0, "pass"},
      {"both minimums met fails", {13000, 1000000, 10000, 1000000}, 12, 12, f, g, 0.002, 1.2, 100, 0, "fail"},
      {"one of two minimums met passes", {13000, 1000000, 10000, 1000000}, 12, 12, f, g, 0.002, 1.5, 100, 0, "pass"},
      {"canary better is no failure for greater", {2, 1000, 31, 1000}, 1, 1, f, g, {}, {}, 100, 0, "pass"},
      {"canary better fails for two-sided", {2, 1000, 31, 1000}, 1, 1, f, Alternative::kTwoSided, {}, 1.5, 100, 0, "fail"},
      {"success ratio lower fails for less", {850, 1000, 950, 1000}, 1, 1, f, Alternative::kLess, 0.05, 1.05, 100, 0, "fail"},
      {"too few canary requests", {31, 99, 2, 1000}, 1, 1, f, g, {}, {}, 100, 0, "not_enough_data"},
      {"too few baseline requests", {31, 1000, 0, 99}, 1, 1, f, g, {}, {}, 100, 0, "not_enough_data"},
      {"no requests at all", {0, 0, 0, 0}, 1, 1, f, g, {}, {}, 0, 0, "not_enough_data"},
      {"no errors on either side passes", {0, 5000, 0, 5000}, 1, 1, f, g, {}, 1.5, 100, 0, "pass"},
      {"errors only on the canary", {20, 5000, 0, 5000}, 1, 1, f, g, {}, 1.5, 100, 0, "fail"},
      {"5xx at most 0.5%: 0.5% passes", {5, 1000, 0, 0}, 1, 1, Test::kThresholdMax, g, {}, {}, 1000, 0.005, "pass"},
      {"5xx at most 0.5%: 0.6% fails", {6, 1000, 0, 0}, 1, 1, Test::kThresholdMax, g, {}, {}, 1000, 0.005, "fail"},
      {"5xx threshold with too few requests", {6, 999, 0, 0}, 1, 1, Test::kThresholdMax, g, {}, {}, 1000, 0.005, "not_enough_data"},
      {"2xx at least 90%: 89.9% fails", {899, 1000, 0, 0}, 1, 1, Test::kThresholdMin, g, {}, {}, 100, 0.9, "fail"},
      {"2xx at least 90%: 95% passes", {950, 1000, 0, 0}, 1, 1, Test::kThresholdMin, g, {}, {}, 100, 0.9, "pass"},
  };
  // clang-format on
  for (const CountsCase& c : cases) {
    CheckSpec spec;
    spec.alpha = 0.05;
    spec.name = "check";
    spec.metric = Metric::kHttp5xxRatio;
    spec.test = c.test;
    spec.alternative = c.alternative;
    spec.minEffect = c.minimumAbsolute.value_or(0.0);
    spec.minRatio = c.minimumRelative.value_or(0.0);
    spec.minData = c.minData;
    spec.threshold = c.threshold;
    const auto result = evaluateCheck(spec, {c.counts, c.look, c.looks});
    REQUIRE(result.ok());
    INFO(c.what << ": " << result->explanation);
    CHECK(std::string(toString(result->verdict)) == c.verdict);
    CHECK(result->explanation.find(std::string(": ") + c.verdict) != std::string::npos);
  }
}

TEST_CASE("Count check result carries the numbers and a checkable explanation") {
  CheckSpec spec;
  spec.alpha = 0.05;
  spec.name = "5xx";
  spec.metric = Metric::kHttp5xxRatio;
  spec.minRatio = 1.5;
  const auto plan = makeCheckPlan(spec, 12);
  REQUIRE(plan.ok());
  const auto r = evaluateCheck(spec, {CountsData{31, 1000, 2, 1000}, 3, 12}, *plan);
  REQUIRE(r.ok());
  CHECK(r->alphaAtLook == doctest::Approx(plan->nominalAlpha(3)));
  CHECK(r->alphaAtLook < 0.001);
  CHECK(r->pValue < 1e-7);
  CHECK(r->significant);
  CHECK(r->effectLargeEnough);
  CHECK(r->canaryCount == 1000);
  CHECK(r->baselineEvents == 2);
  CHECK(r->ratio.estimate == doctest::Approx(15.5));
  CHECK(r->ratio.low > 1.5);
  CHECK(r->effect.estimate == doctest::Approx(0.029));
  CHECK(
      r->explanation.starts_with("5xx ratio canary 3.10% (31/1000) vs baseline 0.20% (2/1000), "
                                 "Fisher greater p=5.3e-08 <= alpha"));
  CHECK(r->explanation.find("at look 3/12") != std::string::npos);
  CHECK(r->explanation.find("ratio 15.5 [3.72, 64.6]") != std::string::npos);
  CHECK(r->explanation.ends_with("ratio 15.5 reaches minimum 1.5: fail"));
}

TEST_CASE("Sample checks: latency shifts, minimum effect, thresholds and minimum data") {
  std::mt19937_64 random(9);
  std::lognormal_distribution<double> base(3.0, 0.5);
  std::vector<double> baseline(2000);
  std::vector<double> slower(2000);
  std::vector<double> slightlySlower(20000);
  std::vector<double> bigBaseline(20000);
  for (double& v : baseline) v = base(random);
  for (double& v : slower) v = base(random) * 1.3;
  for (double& v : slightlySlower) v = base(random) * 1.02;
  for (double& v : bigBaseline) v = base(random);

  CheckSpec spec;

  spec.alpha = 0.05;
  spec.name = "latency";
  spec.metric = Metric::kLatency;
  spec.test = Test::kMannWhitney;
  spec.minRatio = 1.1;
  spec.minData = 100;

  const auto fail = evaluateCheck(spec, {SamplesData{slower, baseline}, 1, 1});
  REQUIRE(fail.ok());
  CHECK(std::string(toString(fail->verdict)) == "fail");
  CHECK(fail->ratio.estimate == doctest::Approx(1.3).epsilon(0.1));
  CHECK(fail->effect.low < fail->effect.estimate);
  CHECK(fail->effect.estimate < fail->effect.high);
  CHECK(fail->explanation.find("Mann-Whitney greater U=") != std::string::npos);

  const auto tiny = evaluateCheck(spec, {SamplesData{slightlySlower, bigBaseline}, 1, 1});
  REQUIRE(tiny.ok());
  INFO(tiny->explanation);
  CHECK(std::string(toString(tiny->verdict)) == "pass");

  const auto better = evaluateCheck(spec, {SamplesData{baseline, slower}, 1, 1});
  CHECK(std::string(toString(better->verdict)) == "pass");

  const std::vector<double> few(99, 20.0);
  const auto notEnough = evaluateCheck(spec, {SamplesData{few, baseline}, 1, 1});
  CHECK(std::string(toString(notEnough->verdict)) == "not_enough_data");
  CHECK(notEnough->explanation ==
        "latency (us): not enough data: canary 99 samples, baseline 2000, minimum 100 per side: "
        "not_enough_data");

  CheckSpec p99;

  p99.alpha = 0.05;
  p99.name = "p99";
  p99.test = Test::kThresholdMax;
  p99.quantile = 0.99;
  p99.threshold = 1000.0;
  const auto within = evaluateCheck(p99, {SamplesData{baseline, {}}, 1, 1});
  CHECK(std::string(toString(within->verdict)) == "pass");
  p99.threshold = 30.0;
  const auto over = evaluateCheck(p99, {SamplesData{baseline, {}}, 1, 1});
  CHECK(std::string(toString(over->verdict)) == "fail");
}

TEST_CASE("Invalid specs and inputs are errors that name the value") {
  CheckSpec spec;
  spec.alpha = 0.05;
  spec.name = "c";
  const CheckInput ok{CountsData{1, 10, 1, 10}, 1, 1};
  spec.alpha = 0.0;
  CHECK(evaluateCheck(spec, ok).error().message == "check 'c': alpha 0 outside (0, 0.5]");
  spec.alpha = 0.05;
  spec.minRatio = 0.5;
  CHECK(evaluateCheck(spec, ok).error().message ==
        "check 'c': minimum relative effect 0.5 must be a ratio >= 1");
  spec.minRatio = 0.0;
  CHECK(evaluateCheck(spec, {CountsData{1, 10, 1, 10}, 13, 12}).error().message ==
        "check 'c': look 13 outside [1, 12]");
  CHECK(evaluateCheck(spec, {CountsData{11, 10, 1, 10}, 1, 1}).error().message ==
        "check 'c': canary events 11 exceed canary total 10");
  const std::vector<double> values{1.0, 2.0};
  CHECK(evaluateCheck(spec, {SamplesData{values, values}, 1, 1}).error().message ==
        "check 'c': fisher needs counts, got samples");
  spec.test = Test::kMannWhitney;
  const std::vector<double> withInf{1.0, std::numeric_limits<double>::infinity()};
  CHECK(evaluateCheck(spec, {SamplesData{values, withInf}, 1, 1}).error().message ==
        "check 'c': baseline sample 2 is inf");
  // A plan built for other settings is refused rather than silently misused.
  const auto plan = SequentialPlan::make(0.01, 12, false);
  REQUIRE(plan.ok());
  spec.test = Test::kFisher;
  CHECK_FALSE(evaluateCheck(spec, {CountsData{1, 10, 1, 10}, 1, 12}, *plan).ok());
}

TEST_CASE("Names of metrics, tests, tiers and verdicts parse and print") {
  CHECK(parseTest("mann_whitney").ok());
  CHECK(parseTest("t-test").error().message ==
        "expected a test (one of fisher, mann_whitney, threshold_max, threshold_min, restarts, tail_fisher, "
        "new_types), "
        "got \"t-test\"");
  for (const MetricInfo& info : allMetrics()) {
    CAPTURE(info.name);
    REQUIRE(parseMetric(info.name).ok());
    CHECK((*parseMetric(info.name) == info.metric));
    CHECK(&metricInfo(info.metric) == &info);
  }
  CHECK(metricInfo(Metric::kLatency).unit == "us");
  CHECK((metricInfo(Metric::kCpu).kind == MetricKind::kSamples));
  CHECK(testApplies(Test::kFisher, Metric::kErrorLogPerRequest));
  CHECK_FALSE(testApplies(Test::kFisher, Metric::kLatency));
  CHECK_FALSE(testApplies(Test::kThresholdMax, Metric::kRestarts));
  CHECK(testApplies(Test::kRestarts, Metric::kRestarts));
  CHECK(toString(*parseVerdict("skipped")) == "skipped");
  CHECK(toString(*parseTier("warn")) == "warn");
  CHECK_FALSE(parseTier("fatal").ok());
  CHECK(toString(Verdict::kNotEnoughData) == "not_enough_data");
  CHECK(toString(*parseAlternative("two-sided")) == "two-sided");
  CHECK_FALSE(parseAlternative("bigger").ok());
}

}  // namespace
}  // namespace rollgate::stats
