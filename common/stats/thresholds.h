// Static thresholds on the canary alone, as Instagram's first canary used them: "5xx ratio at
// most 0.5%", "2xx ratio at least 90%", "p99 latency at most 300 ms". A threshold compares the
// observed value itself (no test); the gate's minimum-data rule keeps it from judging a handful
// of requests. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

namespace rollgate::stats {

enum class ThresholdDirection { kAtMost, kAtLeast };

struct ThresholdResult {
  double value = 0.0;  // the observed rate or quantile
  double threshold = 0.0;
  bool within = true;  // value <= threshold (kAtMost) or value >= threshold (kAtLeast)
};

// events / total against the threshold. Requires: 0 < total, events <= total.
ThresholdResult checkRateThreshold(std::uint64_t events, std::uint64_t total, double threshold,
                                   ThresholdDirection direction);

// The q-quantile (linear interpolation between order statistics, NumPy's default) of sorted
// values. Requires: non-empty, sorted ascending, 0 <= q <= 1.
double sortedQuantile(std::span<const double> sorted, double q);

// The q-quantile of sorted samples against the threshold. Requires: as sortedQuantile.
ThresholdResult checkQuantileThreshold(std::span<const double> sorted, double q, double threshold,
                                       ThresholdDirection direction);

}  // namespace rollgate::stats
