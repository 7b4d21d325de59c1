// Edge cases of the tests and effect sizes: all values equal, a single value, no errors on
// either side, huge counts, and the exact null distribution against brute-force enumeration.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "common/stats/effect.h"
#include "common/stats/fisher.h"
#include "common/stats/mann_whitney.h"
#include "common/stats/sorting.h"
#include "common/stats/thresholds.h"

namespace rollgate::stats {
namespace {

TEST_CASE("Mann-Whitney: all values equal gives U = n*m/2 and p = 1 for every alternative") {
  const std::vector<double> same(20, 3.5);
  for (Alternative a : {Alternative::kTwoSided, Alternative::kGreater, Alternative::kLess}) {
    const auto r = mannWhitneyU(same, same, a);
    REQUIRE(r.ok());
    CHECK(r->u == 200.0);
    CHECK(r->pValue == 1.0);
    CHECK(r->ties);
  }
}

TEST_CASE("Mann-Whitney: a single value on each side uses the exact distribution") {
  const std::vector<double> canary{2.0};
  const std::vector<double> baseline{1.0};
  const auto greater = mannWhitneyU(canary, baseline, Alternative::kGreater);
  REQUIRE(greater.ok());
  CHECK(greater->u == 1.0);
  CHECK(greater->method == MannWhitneyMethod::kExact);
  CHECK(greater->pValue == doctest::Approx(0.5));  // P(U >= 1) with two equally likely orders
  const auto less = mannWhitneyU(canary, baseline, Alternative::kLess);
  CHECK(less->pValue == doctest::Approx(1.0));
  const auto twoSided = mannWhitneyU(canary, baseline, Alternative::kTwoSided);
  CHECK(twoSided->pValue == 1.0);
}

TEST_CASE("Mann-Whitney: empty samples and NaN are errors naming the sample") {
  const std::vector<double> some{1.0, 2.0};
  const std::vector<double> none;
  const auto empty = mannWhitneyU(none, some, Alternative::kGreater);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message.find("canary") != std::string::npos);
  const std::vector<double> withNaN{1.0, std::numeric_limits<double>::quiet_NaN()};
  const auto nan = mannWhitneyU(some, withNaN, Alternative::kGreater);
  REQUIRE_FALSE(nan.ok());
  CHECK(nan.error().message.find("baseline value 2") != std::string::npos);
}

// Counts of U over all C(m+n, m) assignments of ranks, by enumerating subsets.
std::vector<double> bruteForceCounts(int m, int n) {
  std::vector<double> counts(static_cast<std::size_t>(m * n + 1), 0.0);
  const int total = m + n;
  for (unsigned mask = 0; mask < (1u << total); ++mask) {
    if (__builtin_popcount(mask) != m) continue;
    // U = pairs (canary rank > baseline rank).
    int u = 0;
    int baselineBelow = 0;
    for (int r = 0; r < total; ++r) {
      if (mask & (1u << r)) {
        u += baselineBelow;
      } else {
        ++baselineBelow;
      }
    }
    counts[static_cast<std::size_t>(u)] += 1.0;
  }
  return counts;
}

TEST_CASE("Mann-Whitney: the exact distribution equals enumeration of all rank orders") {
  for (int m = 1; m <= 6; ++m) {
    for (int n = 1; n <= 8; ++n) {
      const std::vector<double> counts = bruteForceCounts(m, n);
      const double all = std::accumulate(counts.begin(), counts.end(), 0.0);
      double cumulative = 0.0;
      for (int k = 0; k <= m * n; ++k) {
        cumulative += counts[static_cast<std::size_t>(k)];
        INFO("m=" << m << " n=" << n << " k=" << k);
        CHECK(mannWhitneyExactCdf(static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(m),
                                  static_cast<std::uint64_t>(n)) ==
              doctest::Approx(cumulative / all).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("Mann-Whitney: 8 values against 20,000 stay exact and agree with the normal tail") {
  std::mt19937_64 random(7);
  std::normal_distribution<double> normal;
  std::vector<double> canary(8);
  std::vector<double> baseline(20000);
  for (double& v : canary) v = normal(random) + 0.5;
  for (double& v : baseline) v = normal(random);
  const auto r = mannWhitneyU(canary, baseline, Alternative::kGreater);
  REQUIRE(r.ok());
  CHECK(r->method == MannWhitneyMethod::kExact);
  CHECK(r->pValue > 0.0);
  CHECK(r->pValue < 1.0);
  // With 20,000 values the exact tail is close to the normal approximation's.
  const double mu = 8.0 * 20000.0 / 2.0;
  const double sigma = std::sqrt(8.0 * 20000.0 * (20009.0) / 12.0);
  const double z = (r->u - mu - 0.5) / sigma;
  CHECK(r->pValue == doctest::Approx(0.5 * std::erfc(z / std::sqrt(2.0))).epsilon(0.05));
}

TEST_CASE("Fisher: zero errors on both sides and empty columns give p = 1") {
  for (Alternative a : {Alternative::kTwoSided, Alternative::kGreater, Alternative::kLess}) {
    CHECK(fisherExact(0, 1000, 0, 1000, a)->pValue == 1.0);
    CHECK(fisherExact(1000, 1000, 500, 500, a)->pValue == 1.0);  // no successes at all
    CHECK(std::isnan(fisherExact(0, 1000, 0, 1000, a)->oddsRatio));
  }
}

TEST_CASE("Fisher: errors above the total are refused with the numbers") {
  const auto r = fisherExact(11, 10, 0, 10, Alternative::kGreater);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "Fisher: canary errors 11 exceed canary total 10");
}

TEST_CASE("Fisher: huge counts stay finite, consistent and fast") {
  // Totals of 10^9 per side, equal rates: nothing significant.
  const auto same = fisherExact(1000000, 1000000000, 1000000, 1000000000, Alternative::kTwoSided);
  REQUIRE(same.ok());
  CHECK(same->pValue == doctest::Approx(1.0).epsilon(1e-6));
  // A 10% relative increase on a million errors is overwhelming: p far below 1e-100.
  const auto worse = fisherExact(1100000, 1000000000, 1000000, 1000000000, Alternative::kGreater);
  REQUIRE(worse.ok());
  CHECK(worse->pValue >= 0.0);
  CHECK(worse->pValue < 1e-100);
  const auto better = fisherExact(1100000, 1000000000, 1000000, 1000000000, Alternative::kLess);
  CHECK(better->pValue == doctest::Approx(1.0));
  // A small difference: greater + less = 1 + P(X = observed).
  const std::uint64_t a = 10150;
  const auto g = fisherExact(a, 1000000000, 10000, 1000000000, Alternative::kGreater);
  const auto l = fisherExact(a, 1000000000, 10000, 1000000000, Alternative::kLess);
  const Hypergeometric h(2000000000, 1000000000, a + 10000);
  CHECK(g->pValue + l->pValue ==
        doctest::Approx(1.0 + h.pmf(static_cast<std::int64_t>(a))).epsilon(1e-12));
  CHECK(g->pValue > 0.1);
  CHECK(g->pValue < 0.2);
}

TEST_CASE("Hypergeometric: pmf sums to one and matches exact small cases") {
  const Hypergeometric h(20, 7, 9);
  double sum = 0.0;
  for (std::int64_t x = h.lowest(); x <= h.highest(); ++x) sum += h.pmf(x);
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-14));
  // C(7,3) C(13,6) / C(20,9) = 35 * 1716 / 167960
  CHECK(h.pmf(3) == doctest::Approx(35.0 * 1716.0 / 167960.0).epsilon(1e-14));
  CHECK(h.cdf(3) + h.sf(3) == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(h.pmf(-1) == 0.0);
  CHECK(h.pmf(8) == 0.0);
}

TEST_CASE("Hodges-Lehmann: selection equals sorting all differences, ties included") {
  std::mt19937_64 random(11);
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 1 + static_cast<int>(random() % 400);
    const int m = 1 + static_cast<int>(random() % 400);
    std::vector<double> x(static_cast<std::size_t>(n));
    std::vector<double> y(static_cast<std::size_t>(m));
    const bool ties = trial % 2 == 1;
    for (double& v : x)
      v = ties ? static_cast<double>(random() % 7)
               : std::ldexp(static_cast<double>(random() % 100000), -7);
    for (double& v : y)
      v = ties ? static_cast<double>(random() % 5)
               : std::ldexp(static_cast<double>(random() % 90000), -7);
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    std::vector<double> all;
    for (double a : x)
      for (double b : y) all.push_back(a - b);
    std::sort(all.begin(), all.end());
    const std::uint64_t count = all.size();
    for (std::uint64_t k : {std::uint64_t{1}, count / 3 + 1, (count + 1) / 2, count}) {
      INFO("n=" << n << " m=" << m << " k=" << k);
      CHECK(pairwiseDifference(x, y, k) == all[k - 1]);
    }
    const double median =
        count % 2 == 1 ? all[count / 2] : (all[count / 2 - 1] + all[count / 2]) / 2.0;
    CHECK(hodgesLehmannShift(x, y) == median);
  }
}

TEST_CASE("Hodges-Lehmann: a pure shift is recovered exactly with its interval around it") {
  std::vector<double> baseline;
  for (int i = 0; i < 3000; ++i) baseline.push_back(static_cast<double>((i * 7919) % 3000));
  std::vector<double> canary = baseline;
  for (double& v : canary) v += 25.0;
  const std::vector<double> x = sortedCopy(canary);
  const std::vector<double> y = sortedCopy(baseline);
  const ShiftEffects e = shiftEffects(x, y, 0.95);
  CHECK(e.shift.estimate == 25.0);
  CHECK(e.shift.low < 25.0);
  CHECK(e.shift.high > 25.0);
  CHECK(e.canaryMedian == doctest::Approx(1524.5));
  CHECK(e.medianRatio == doctest::Approx(1524.5 / 1499.5));
}

TEST_CASE("Rate effects: Newcombe's and Katz's worked examples") {
  // Newcombe (1998), example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339.
  const RateEffects a = rateEffects(56, 70, 48, 80, 0.95);
  CHECK(a.difference.estimate == doctest::Approx(0.2));
  CHECK(a.difference.low == doctest::Approx(0.0524).epsilon(0.002));
  CHECK(a.difference.high == doctest::Approx(0.3339).epsilon(0.002));
  // Katz: 10/100 vs 5/100: ratio 2, exp(log 2 +- 1.96 sqrt(0.28)).
  const RateEffects b = rateEffects(10, 100, 5, 100, 0.95);
  CHECK(b.ratio.estimate == doctest::Approx(2.0));
  CHECK(b.ratio.low == doctest::Approx(0.7090).epsilon(0.001));
  CHECK(b.ratio.high == doctest::Approx(5.6415).epsilon(0.001));
  // No baseline errors: the ratio is infinite but its interval finite (0.5 added to counts).
  const RateEffects c = rateEffects(10, 1000, 0, 1000, 0.95);
  CHECK(std::isinf(c.ratio.estimate));
  CHECK(std::isfinite(c.ratio.high));
  CHECK(c.ratio.low > 1.0);
  // No errors anywhere: no ratio, a difference of zero with an interval around it.
  const RateEffects d = rateEffects(0, 1000, 0, 1000, 0.95);
  CHECK(std::isnan(d.ratio.estimate));
  CHECK(d.difference.estimate == 0.0);
  CHECK(d.difference.low < 0.0);
  CHECK(d.difference.high > 0.0);
}

TEST_CASE("Thresholds: rates and quantiles against limits") {
  CHECK(checkRateThreshold(5, 1000, 0.005, ThresholdDirection::kAtMost).within);
  CHECK_FALSE(checkRateThreshold(6, 1000, 0.005, ThresholdDirection::kAtMost).within);
  CHECK(checkRateThreshold(900, 1000, 0.9, ThresholdDirection::kAtLeast).within);
  CHECK_FALSE(checkRateThreshold(899, 1000, 0.9, ThresholdDirection::kAtLeast).within);
  const std::vector<double> values{1, 2, 3, 4, 5};
  CHECK(sortedQuantile(values, 0.5) == 3.0);
  CHECK(sortedQuantile(values, 0.9) == doctest::Approx(4.6));
  CHECK(sortedQuantile(values, 1.0) == 5.0);
  CHECK_FALSE(checkQuantileThreshold(values, 0.9, 4.5, ThresholdDirection::kAtMost).within);
}

TEST_CASE("Sorting: the radix sort orders negative, zero, positive and infinite values") {
  std::mt19937_64 random(5);
  std::vector<double> values;
  for (int i = 0; i < 5000; ++i) {
    values.push_back(
        std::ldexp(static_cast<double>(static_cast<std::int64_t>(random() % 20001) - 10000),
                   static_cast<int>(random() % 60) - 30));
  }
  values.push_back(std::numeric_limits<double>::infinity());
  values.push_back(-std::numeric_limits<double>::infinity());
  values.push_back(-0.0);
  std::vector<double> expected = values;
  std::sort(expected.begin(), expected.end());
  const std::vector<double> sorted = sortedCopy(values);
  REQUIRE(sorted.size() == expected.size());
  CHECK(std::equal(sorted.begin(), sorted.end(), expected.begin()));
}

}  // namespace
}  // namespace rollgate::stats
