// Mann-Whitney U test of a canary sample against a baseline sample, matching SciPy 1.10's
// `mannwhitneyu(canary, baseline, use_continuity=True, method='auto')`:
//  - the exact null distribution when either sample has at most 8 values and there are no ties
//    (computed as the coefficients of a Gaussian binomial, truncated at the smaller tail, so a
//    sample of 8 against 10^6 values costs a few milliseconds);
//  - otherwise the normal approximation with tie correction and continuity correction.
// `u` is always the U statistic of the canary sample (SciPy's U1); the alternatives are about the
// canary: `greater` = canary values tend to be larger.
// Ranking sorts both samples once: O((n + m) log(n + m)).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"
#include "common/stats/alternative.h"

namespace rollgate::stats {

enum class MannWhitneyMethod { kExact, kAsymptotic };

struct MannWhitneyResult {
  double u = 0.0;  // U of the canary sample: pairs (c, b) with c > b, plus half the ties
  double pValue = 1.0;
  MannWhitneyMethod method = MannWhitneyMethod::kAsymptotic;
  double z = 0.0;     // the normal deviate (asymptotic method only, 0 otherwise)
  bool ties = false;  // any value occurs more than once in the pooled sample
  std::size_t canaryCount = 0;
  std::size_t baselineCount = 0;
};

// Fails (naming the sample and the value) on an empty sample or a NaN.
Result<MannWhitneyResult> mannWhitneyU(std::span<const double> canary,
                                       std::span<const double> baseline, Alternative alternative);

// As above, on samples already sorted ascending.
// Requires: both non-empty, sorted ascending, no NaN.
MannWhitneyResult mannWhitneyUSorted(std::span<const double> canarySorted,
                                     std::span<const double> baselineSorted,
                                     Alternative alternative);

// The exact null distribution of U for samples of sizes m and n without ties: P(U <= k).
// Costs O(min(m, n) * min(k, m*n - k)) time and memory.
double mannWhitneyExactCdf(std::uint64_t k, std::uint64_t m, std::uint64_t n);

// The exact method is used only while its table stays below this many entries (32 MB); beyond
// it (a sample of at most 8 values against more than about a million) the normal approximation
// is used and `method` says so. SciPy would still use the exact method there.
inline constexpr std::uint64_t kMannWhitneyMaxExactStates = std::uint64_t{1} << 22;

}  // namespace rollgate::stats
