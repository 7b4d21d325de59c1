// Fisher's exact test on the 2x2 table [[canary_errors, canary_ok], [baseline_errors,
// baseline_ok]], matching SciPy 1.10's `fisher_exact(table, alternative)` including its
// definition of the two-sided p-value (tables no more probable than the observed one, with a
// relative tolerance of 1e-14).
//
// The hypergeometric probabilities are computed in log space with Loader's saddle-point
// expansion (Stirling remainders and the deviance term bd0), accurate to a few ulps however
// large the counts; tails are summed from the observed table outwards by the exact term ratio
// and stop once terms no longer change the sum. Cost grows with the spread of the distribution,
// not with the counts: microseconds for totals of 10^9 with realistic error rates.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "common/stats/alternative.h"

namespace rollgate::stats {

struct FisherResult {
  double pValue = 1.0;
  double oddsRatio = 0.0;  // (a*d)/(b*c); +inf when b or c is 0; NaN when a margin is 0
};

// Events are "errors" (or whatever the metric counts) out of each side's total.
// `greater` = the canary's odds of an event are higher than the baseline's.
// Fails when events exceed a total or a total exceeds kFisherMaxTotal.
Result<FisherResult> fisherExact(std::uint64_t canaryEvents, std::uint64_t canaryTotal,
                                 std::uint64_t baselineEvents, std::uint64_t baselineTotal,
                                 Alternative alternative);

// Counts above this are refused (they must stay exact in a double when added).
inline constexpr std::uint64_t kFisherMaxTotal = std::uint64_t{1} << 50;

// The hypergeometric distribution of the number of successes X in `draws` draws without
// replacement from a population of `population` items of which `successes` are successes.
// Exposed for tests. Requires: successes <= population, draws <= population.
class Hypergeometric {
 public:
  Hypergeometric(std::uint64_t population, std::uint64_t successes, std::uint64_t draws);

  std::int64_t lowest() const { return lowest_; }
  std::int64_t highest() const { return highest_; }
  // floor((successes + 1)(draws + 1) / (population + 2)), the mode as Boost defines it.
  std::int64_t mode() const { return mode_; }

  double logPmf(std::int64_t x) const;  // -inf outside the support
  double pmf(std::int64_t x) const;
  double cdf(std::int64_t x) const;  // P(X <= x)
  double sf(std::int64_t x) const;   // P(X > x)

 private:
  double lowerTail(std::int64_t x) const;  // P(X <= x), x in the support
  double upperTail(std::int64_t x) const;  // P(X >= x), x in the support

  double population_;
  double successes_;
  double draws_;
  double drawFraction_;
  double keepFraction_;
  std::int64_t lowest_;
  std::int64_t highest_;
  std::int64_t mode_;
};

}  // namespace rollgate::stats
