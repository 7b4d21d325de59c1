// The standard normal distribution, accurate in the far tails (used by the asymptotic tests,
// the confidence intervals and the group-sequential boundaries).
// Thread-safety: pure functions.
#pragma once

namespace rollgate::stats {

// P(Z > z); 1 at -inf, 0 at +inf. Relative accuracy near machine precision in both tails.
double normalSf(double z);
// P(Z <= z).
double normalCdf(double z);
// Standard normal density.
double normalPdf(double z);
// The z with P(Z > z) = upperTail. Requires: 0 < upperTail < 1.
double normalUpperQuantile(double upperTail);

}  // namespace rollgate::stats
