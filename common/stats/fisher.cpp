#include "common/stats/fisher.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

namespace rollgate::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// log(n!) - log(sqrt(2 pi n) (n/e)^n), the remainder of Stirling's formula (Loader 2000).
double stirlingError(double n) {
  if (n <= 15.0) {
    const long double nl = n;
    return static_cast<double>(std::lgamma(nl + 1.0L) - (nl + 0.5L) * std::log(nl) + nl -
                               0.918938533204672741780329736406L);  // log(sqrt(2 pi))
  }
  constexpr double s0 = 1.0 / 12.0;
  constexpr double s1 = 1.0 / 360.0;
  constexpr double s2 = 1.0 / 1260.0;
  constexpr double s3 = 1.0 / 1680.0;
  constexpr double s4 = 1.0 / 1188.0;
  const double nn = n * n;
  if (n > 500) return (s0 - s1 / nn) / n;
  if (n > 80) return (s0 - (s1 - s2 / nn) / nn) / n;
  if (n > 35) return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
  return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

// x log(x / np) + np - x, without cancellation when x is close to np (Loader 2000).
double devianceTerm(double x, double np) {
  if (std::fabs(x - np) < 0.1 * (x + np)) {
    double v = (x - np) / (x + np);
    double s = (x - np) * v;
    if (std::fabs(s) < std::numeric_limits<double>::min()) return s;
    double ej = 2.0 * x * v;
    v = v * v;
    for (int j = 1; j < 1000; ++j) {
      ej *= v;
      const double s1 = s + ej / (2 * j + 1);
      if (s1 == s) return s1;
      s = s1;
    }
  }
  return x * std::log(x / np) + np - x;
}

// log of the binomial probability of x successes in n trials with success probability p
// (q = 1 - p, passed separately to keep its precision).
double logBinomialPmf(double x, double n, double p, double q) {
  if (p == 0.0) return x == 0.0 ? 0.0 : -kInf;
  if (q == 0.0) return x == n ? 0.0 : -kInf;
  if (x == 0.0) {
    if (n == 0.0) return 0.0;
    return p < 0.1 ? -devianceTerm(n, n * q) - n * p : n * std::log(q);
  }
  if (x == n) return q < 0.1 ? -devianceTerm(n, n * p) - n * q : n * std::log(p);
  if (x < 0.0 || x > n) return -kInf;
  const double lc = stirlingError(n) - stirlingError(x) - stirlingError(n - x) -
                    devianceTerm(x, n * p) - devianceTerm(n - x, n * q);
  const double lf = std::log(2.0 * std::numbers::pi) + std::log(x) + std::log1p(-x / n);
  return lc - 0.5 * lf;
}

// SciPy's _binary_search_for_binom_tst, verbatim: the i in [lo, hi] with a(i) <= d < a(i + 1)
// for a function a that increases over the range.
template <typename F>
std::int64_t binarySearch(const F& a, double d, std::int64_t lo, std::int64_t hi) {
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    const double midValue = a(mid);
    if (midValue < d) {
      lo = mid + 1;
    } else if (midValue > d) {
      hi = mid - 1;
    } else {
      return mid;
    }
  }
  return a(lo) <= d ? lo : lo - 1;
}

}  // namespace

Hypergeometric::Hypergeometric(std::uint64_t population, std::uint64_t successes,
                               std::uint64_t draws)
    : population_(static_cast<double>(population)),
      successes_(static_cast<double>(successes)),
      draws_(static_cast<double>(draws)),
      drawFraction_(population == 0 ? 0.0 : draws_ / population_),
      keepFraction_(population == 0 ? 1.0 : static_cast<double>(population - draws) / population_),
      lowest_(draws + successes > population
                  ? static_cast<std::int64_t>(draws + successes - population)
                  : 0),
      highest_(static_cast<std::int64_t>(std::min(successes, draws))),
      mode_(static_cast<std::int64_t>(static_cast<unsigned __int128>(successes + 1) * (draws + 1) /
                                      (population + 2))) {}

double Hypergeometric::logPmf(std::int64_t x) const {
  if (x < lowest_ || x > highest_) return -kInf;
  if (draws_ == 0.0) return 0.0;
  const double xd = static_cast<double>(x);
  // Loader's dhyper: Binom(x; K, p) Binom(d - x; N - K, p) / Binom(d; N, p) with p = d / N.
  return logBinomialPmf(xd, successes_, drawFraction_, keepFraction_) +
         logBinomialPmf(draws_ - xd, population_ - successes_, drawFraction_, keepFraction_) -
         logBinomialPmf(draws_, population_, drawFraction_, keepFraction_);
}

double Hypergeometric::pmf(std::int64_t x) const { return std::exp(logPmf(x)); }

double Hypergeometric::lowerTail(std::int64_t x) const {
  // pmf(j - 1) / pmf(j) = j (N - K - d + j) / ((K - j + 1)(d - j + 1)).
  const double base = population_ - successes_ - draws_;
  double term = 1.0;
  double sum = 1.0;
  for (std::int64_t j = x; j > lowest_; --j) {
    const double jd = static_cast<double>(j);
    term *= jd * (base + jd) / ((successes_ - jd + 1.0) * (draws_ - jd + 1.0));
    sum += term;
    if (term <= sum * kEpsilon) break;
  }
  return std::min(1.0, sum * pmf(x));
}

double Hypergeometric::upperTail(std::int64_t x) const {
  // pmf(j + 1) / pmf(j) = (K - j)(d - j) / ((j + 1)(N - K - d + j + 1)).
  const double base = population_ - successes_ - draws_;
  double term = 1.0;
  double sum = 1.0;
  for (std::int64_t j = x; j < highest_; ++j) {
    const double jd = static_cast<double>(j);
    term *= (successes_ - jd) * (draws_ - jd) / ((jd + 1.0) * (base + jd + 1.0));
    sum += term;
    if (term <= sum * kEpsilon) break;
  }
  return std::min(1.0, sum * pmf(x));
}

double Hypergeometric::cdf(std::int64_t x) const {
  if (x < lowest_) return 0.0;
  if (x >= highest_) return 1.0;
  if (x < mode_) return lowerTail(x);
  return std::max(0.0, 1.0 - upperTail(x + 1));
}

double Hypergeometric::sf(std::int64_t x) const {
  if (x < lowest_) return 1.0;
  if (x >= highest_) return 0.0;
  if (x < mode_) return std::max(0.0, 1.0 - lowerTail(x));
  return upperTail(x + 1);
}

Result<FisherResult> fisherExact(std::uint64_t canaryEvents, std::uint64_t canaryTotal,
                                 std::uint64_t baselineEvents, std::uint64_t baselineTotal,
                                 Alternative alternative) {
  if (canaryTotal > kFisherMaxTotal || baselineTotal > kFisherMaxTotal) {
    return makeError("Fisher: totals " + std::to_string(canaryTotal) + " and " +
                     std::to_string(baselineTotal) + " exceed the limit " +
                     std::to_string(kFisherMaxTotal));
  }
  if (canaryEvents > canaryTotal) {
    return makeError("Fisher: canary errors " + std::to_string(canaryEvents) +
                     " exceed canary total " + std::to_string(canaryTotal));
  }
  if (baselineEvents > baselineTotal) {
    return makeError("Fisher: baseline errors " + std::to_string(baselineEvents) +
                     " exceed baseline total " + std::to_string(baselineTotal));
  }
  const std::uint64_t c00 = canaryEvents;
  const std::uint64_t c01 = canaryTotal - canaryEvents;
  const std::uint64_t c10 = baselineEvents;
  const std::uint64_t c11 = baselineTotal - baselineEvents;

  FisherResult result;
  if (c00 + c10 == 0 || c01 + c11 == 0 || canaryTotal == 0 || baselineTotal == 0) {
    result.oddsRatio = std::numeric_limits<double>::quiet_NaN();
    result.pValue = 1.0;
    return result;
  }
  result.oddsRatio = (c10 > 0 && c01 > 0)
                         ? (static_cast<double>(c00) * static_cast<double>(c11)) /
                               (static_cast<double>(c10) * static_cast<double>(c01))
                         : kInf;

  const std::uint64_t n1 = canaryTotal;
  const std::uint64_t population = canaryTotal + baselineTotal;
  const std::uint64_t n = c00 + c10;  // all events
  const Hypergeometric events(population, n1, n);
  const auto x = static_cast<std::int64_t>(c00);

  double p = 1.0;
  switch (alternative) {
    case Alternative::kLess:
      p = events.cdf(x);
      break;
    case Alternative::kGreater: {
      // As SciPy: the 'less' formula on the second column (the canary's successes).
      const Hypergeometric oks(population, n1, c01 + c11);
      p = oks.cdf(static_cast<std::int64_t>(c01));
      break;
    }
    case Alternative::kTwoSided: {
      const std::int64_t mode = events.mode();
      const double pExact = events.pmf(x);
      const double pMode = events.pmf(mode);
      constexpr double epsilon = 1e-14;
      constexpr double gamma = 1.0 + epsilon;
      const auto nEvents = static_cast<std::int64_t>(n);
      if (std::fabs(pExact - pMode) / std::max(pExact, pMode) <= epsilon) {
        p = 1.0;
      } else if (x < mode) {
        const double pLower = events.cdf(x);
        if (events.pmf(nEvents) > pExact * gamma) {
          p = pLower;
        } else {
          const std::int64_t guess = binarySearch([&](std::int64_t k) { return -events.pmf(k); },
                                                  -pExact * gamma, mode, nEvents);
          p = pLower + events.sf(guess);
        }
      } else {
        const double pUpper = events.sf(x - 1);
        if (events.pmf(0) > pExact * gamma) {
          p = pUpper;
        } else {
          const std::int64_t guess =
              binarySearch([&](std::int64_t k) { return events.pmf(k); }, pExact * gamma, 0, mode);
          p = pUpper + events.cdf(guess);
        }
      }
      break;
    }
  }
  result.pValue = std::min(p, 1.0);
  return result;
}

}  // namespace rollgate::stats
