#include "common/stats/thresholds.h"

#include <cmath>

#include "common/check.h"

namespace rollgate::stats {
namespace {

ThresholdResult compare(double value, double threshold, ThresholdDirection direction) {
  ThresholdResult result;
  result.value = value;
  result.threshold = threshold;
  result.within =
      direction == ThresholdDirection::kAtMost ? value <= threshold : value >= threshold;
  return result;
}

}  // namespace

ThresholdResult checkRateThreshold(std::uint64_t events, std::uint64_t total, double threshold,
                                   ThresholdDirection direction) {
  ROLLGATE_CHECK_GT(total, 0u);
  ROLLGATE_CHECK_LE(events, total);
  return compare(static_cast<double>(events) / static_cast<double>(total), threshold, direction);
}

double sortedQuantile(std::span<const double> sorted, double q) {
  ROLLGATE_CHECK(!sorted.empty());
  ROLLGATE_CHECK(q >= 0.0 && q <= 1.0, "q = ", q);
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  if (below + 1 >= sorted.size()) return sorted.back();
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[below + 1] - sorted[below]);
}

ThresholdResult checkQuantileThreshold(std::span<const double> sorted, double q, double threshold,
                                       ThresholdDirection direction) {
  return compare(sortedQuantile(sorted, q), threshold, direction);
}

}  // namespace rollgate::stats
