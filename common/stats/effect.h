// Effect sizes reported beside every test, so that a verdict says how large a difference is and
// not only whether it is significant:
//  - proportions: the difference of rates (canary - baseline) with Newcombe's hybrid score
//    interval built from two Wilson intervals, and the ratio of rates (canary / baseline) with
//    the Katz log interval (0.5 added to each count when a side has no events);
//  - distributions: the Hodges-Lehmann shift (median of all canary - baseline differences) with
//    the Moses distribution-free interval, and the ratio of the medians.
// The Hodges-Lehmann estimator never forms the n*m differences: it selects order statistics of
// the implicit sorted difference matrix by sampling pivots and counting with an O(n + m) sweep
// (a Floyd-Rivest-style narrowing), O((n + m) log(n m)) time and O(n + m) memory.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

namespace rollgate::stats {

// A point estimate with a two-sided confidence interval. Values that do not exist (a ratio with
// a zero denominator, an interval too wide for the sample) are NaN or +-inf.
struct EffectEstimate {
  double estimate = 0.0;
  double low = 0.0;
  double high = 0.0;
  double confidence = 0.95;
  bool operator==(const EffectEstimate&) const = default;
};

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// Wilson score interval for events/total at the normal quantile z. Requires: total > 0.
Interval wilsonInterval(std::uint64_t events, std::uint64_t total, double z);

struct RateEffects {
  double canaryRate = 0.0;  // NaN when the total is 0
  double baselineRate = 0.0;
  EffectEstimate difference;  // canaryRate - baselineRate (Newcombe hybrid score interval)
  EffectEstimate ratio;       // canaryRate / baselineRate (Katz log interval)
};

// Requires: events <= total on each side; 0 < confidence < 1.
RateEffects rateEffects(std::uint64_t canaryEvents, std::uint64_t canaryTotal,
                        std::uint64_t baselineEvents, std::uint64_t baselineTotal,
                        double confidence = 0.95);

struct ShiftEffects {
  EffectEstimate shift;  // Hodges-Lehmann estimate of canary - baseline, Moses interval
  double canaryMedian = 0.0;
  double baselineMedian = 0.0;
  double medianRatio = 0.0;  // canaryMedian / baselineMedian (+-inf or NaN for a zero median)
};

// Requires: both samples non-empty, sorted ascending, no NaN; 0 < confidence < 1.
ShiftEffects shiftEffects(std::span<const double> canarySorted,
                          std::span<const double> baselineSorted, double confidence = 0.95);

// The k-th smallest (1-based) of the n*m differences x_i - y_j.
// Requires: x and y sorted ascending, no NaN; 1 <= k <= x.size() * y.size().
double pairwiseDifference(std::span<const double> xSorted, std::span<const double> ySorted,
                          std::uint64_t k);

// The Hodges-Lehmann shift: the median of the differences x_i - y_j (the mean of the two middle
// ones when n*m is even). Requires: as pairwiseDifference, both non-empty.
double hodgesLehmannShift(std::span<const double> xSorted, std::span<const double> ySorted);

// Median of sorted values (mean of the middle two for an even count). Requires: non-empty.
double sortedMedian(std::span<const double> sorted);

}  // namespace rollgate::stats
