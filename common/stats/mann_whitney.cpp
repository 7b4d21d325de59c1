#include "common/stats/mann_whitney.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/stats/normal.h"
#include "common/stats/sorting.h"

namespace rollgate::stats {
namespace {

// Coefficients 0..k of the Gaussian binomial [m+n choose m]_q (the counts of U = j), built as
// prod_{i=1..m} (1 - q^{n+i}) / (1 - q^i) on power series truncated at degree k. After step i
// the series is [n+i choose i]_q, so every intermediate coefficient is a non-negative count.
std::vector<double> exactCounts(std::uint64_t k, std::uint64_t m, std::uint64_t n) {
  std::vector<double> c(k + 1, 0.0);
  c[0] = 1.0;
  for (std::uint64_t i = 1; i <= m; ++i) {
    const std::uint64_t drop = n + i;
    for (std::uint64_t j = k; j >= drop && j <= k; --j) c[j] -= c[j - drop];
    for (std::uint64_t j = i; j <= k; ++j) c[j] += c[j - i];
  }
  return c;
}

double binomial(std::uint64_t m, std::uint64_t n) {  // C(m + n, m), m small
  double b = 1.0;
  for (std::uint64_t i = 1; i <= m; ++i)
    b = b * static_cast<double>(n + i) / static_cast<double>(i);
  return b;
}

// P(U <= k) summed directly. Requires: k <= m*n.
double lowerCdf(std::uint64_t k, std::uint64_t m, std::uint64_t n) {
  const std::vector<double> counts = exactCounts(k, m, n);
  double total = 0.0;
  for (double c : counts) total += c;
  return total / binomial(m, n);
}

}  // namespace

double mannWhitneyExactCdf(std::uint64_t k, std::uint64_t m, std::uint64_t n) {
  if (m > n) std::swap(m, n);
  const std::uint64_t mn = m * n;
  if (k >= mn) return 1.0;
  if (2 * k <= mn) return lowerCdf(k, m, n);
  // P(U <= k) = 1 - P(U >= k + 1) = 1 - P(U <= mn - k - 1) by symmetry.
  return 1.0 - lowerCdf(mn - k - 1, m, n);
}

MannWhitneyResult mannWhitneyUSorted(std::span<const double> x, std::span<const double> y,
                                     Alternative alternative) {
  ROLLGATE_CHECK(!x.empty() && !y.empty());
  const std::size_t n1 = x.size();
  const std::size_t n2 = y.size();
  const std::size_t nTotal = n1 + n2;

  // Merge the two sorted samples, one group of equal values at a time. A group of t values that
  // starts after `position` values has the average rank position + (t + 1) / 2, so twice the rank
  // sum of the canary is an exact integer.
  std::int64_t twiceRankSum = 0;
  double tieTerm = 0.0;
  bool ties = false;
  std::size_t i = 0;
  std::size_t j = 0;
  std::size_t position = 0;
  while (i < n1 || j < n2) {
    double value;
    if (j >= n2 || (i < n1 && x[i] <= y[j])) {
      value = x[i];
    } else {
      value = y[j];
    }
    std::size_t fromX = 0;
    std::size_t fromY = 0;
    while (i < n1 && x[i] == value) {
      ++i;
      ++fromX;
    }
    while (j < n2 && y[j] == value) {
      ++j;
      ++fromY;
    }
    const std::size_t t = fromX + fromY;
    twiceRankSum +=
        static_cast<std::int64_t>(fromX) * static_cast<std::int64_t>(2 * position + t + 1);
    if (t > 1) {
      ties = true;
      const double td = static_cast<double>(t);
      tieTerm += td * td * td - td;
    }
    position += t;
  }

  MannWhitneyResult result;
  result.canaryCount = n1;
  result.baselineCount = n2;
  result.ties = ties;
  const std::int64_t twiceU1 =
      twiceRankSum - static_cast<std::int64_t>(n1) * static_cast<std::int64_t>(n1 + 1);
  const double u1 = static_cast<double>(twiceU1) / 2.0;
  const double n1d = static_cast<double>(n1);
  const double n2d = static_cast<double>(n2);
  const double u2 = n1d * n2d - u1;
  result.u = u1;

  double u = u1;
  double factor = 1.0;
  if (alternative == Alternative::kLess) {
    u = u2;
  } else if (alternative == Alternative::kTwoSided) {
    u = std::max(u1, u2);
    factor = 2.0;
  }

  const std::uint64_t small = std::min(n1, n2);
  const std::uint64_t large = std::max(n1, n2);
  const std::uint64_t mn = small * large;
  double p;
  bool exact = small <= 8 && !ties;
  if (exact) {
    // The table needed is min(k, mn - k) + 1 entries for k = mn - U.
    const auto uInt = static_cast<std::uint64_t>(u);
    const std::uint64_t k = mn - uInt;
    if (std::min(k, mn - k) + 1 > kMannWhitneyMaxExactStates) exact = false;
  }
  if (exact) {
    // SciPy: sf(U) = P(U' >= U) = P(U' <= mn - U) by symmetry.
    const auto uInt = static_cast<std::uint64_t>(u);
    p = mannWhitneyExactCdf(mn - uInt, small, large);
    result.method = MannWhitneyMethod::kExact;
  } else {
    const double mu = n1d * n2d / 2.0;
    const double nd = static_cast<double>(nTotal);
    const double s = std::sqrt(n1d * n2d / 12.0 * ((nd + 1.0) - tieTerm / (nd * (nd - 1.0))));
    const double numerator = u - mu - 0.5;
    // All values equal: s = 0 and the numerator is -0.5, so z = -inf and p = 1 (as SciPy).
    const double z = numerator / s;
    p = normalSf(z);
    result.z = z;
    result.method = MannWhitneyMethod::kAsymptotic;
  }
  result.pValue = std::clamp(p * factor, 0.0, 1.0);
  return result;
}

Result<MannWhitneyResult> mannWhitneyU(std::span<const double> canary,
                                       std::span<const double> baseline, Alternative alternative) {
  if (canary.empty()) return makeError("Mann-Whitney: canary sample is empty");
  if (baseline.empty()) return makeError("Mann-Whitney: baseline sample is empty");
  for (std::size_t k = 0; k < canary.size(); ++k) {
    if (std::isnan(canary[k])) {
      return makeError("Mann-Whitney: canary value " + std::to_string(k + 1) + " is NaN");
    }
  }
  for (std::size_t k = 0; k < baseline.size(); ++k) {
    if (std::isnan(baseline[k])) {
      return makeError("Mann-Whitney: baseline value " + std::to_string(k + 1) + " is NaN");
    }
  }
  const std::vector<double> x = sortedCopy(canary);
  const std::vector<double> y = sortedCopy(baseline);
  return mannWhitneyUSorted(x, y, alternative);
}

}  // namespace rollgate::stats
