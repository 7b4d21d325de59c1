#include "common/stats/effect.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/check.h"
#include "common/stats/normal.h"

namespace rollgate::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double rate(std::uint64_t events, std::uint64_t total) {
  return total == 0 ? kNaN : static_cast<double>(events) / static_cast<double>(total);
}

double zFor(double confidence) { return normalUpperQuantile((1.0 - confidence) / 2.0); }

// The difference matrix D[i][j] = x[i] - y[j] with x and y ascending: every row is
// non-increasing in j and every column non-decreasing in i (floating-point subtraction is
// monotone), so the entries <= t in row i are the suffix j >= start[i], and start[] is
// non-decreasing in i.
class DifferenceMatrix {
 public:
  DifferenceMatrix(std::span<const double> x, std::span<const double> y) : x_(x), y_(y) {}

  std::size_t rows() const { return x_.size(); }
  std::size_t columns() const { return y_.size(); }
  double at(std::size_t i, std::size_t j) const { return x_[i] - y_[j]; }

  // Number of entries <= t; writes each row's start of that suffix.
  std::uint64_t countAtMost(double t, std::vector<std::size_t>& start) const {
    const std::size_t m = y_.size();
    std::size_t p = 0;
    std::uint64_t count = 0;
    for (std::size_t i = 0; i < x_.size(); ++i) {
      while (p < m && x_[i] - y_[p] > t) ++p;
      start[i] = p;
      count += m - p;
    }
    return count;
  }

 private:
  std::span<const double> x_;
  std::span<const double> y_;
};

}  // namespace

double pairwiseDifference(std::span<const double> x, std::span<const double> y, std::uint64_t k) {
  const DifferenceMatrix d(x, y);
  const std::size_t n = d.rows();
  const std::size_t m = d.columns();
  ROLLGATE_CHECK_GE(k, 1u);
  ROLLGATE_CHECK_LE(k, static_cast<std::uint64_t>(n) * m);

  // Invariant: the answer is among the candidates lo < D <= hi, which are the columns
  // [hiStart[i], loStart[i]) of each row; countLo entries are <= lo, countHi entries <= hi.
  std::vector<std::size_t> loStart(n, m);
  std::vector<std::size_t> hiStart(n, 0);
  std::vector<std::size_t> scratch(n);
  std::vector<std::size_t> scratchBelow(n);
  std::uint64_t countLo = 0;
  std::uint64_t countHi = static_cast<std::uint64_t>(n) * m;

  constexpr std::size_t kSampleSize = 16384;
  const std::uint64_t enumerateLimit = static_cast<std::uint64_t>(n + m) + 65536;
  std::mt19937_64 random(0x5eed);  // fixed: the estimate is a pure function of the input
  std::vector<std::uint64_t> cumulative(n);
  std::vector<double> sample(kSampleSize);

  // Narrows the candidates with the pivot v (itself a candidate). Returns true when v is the
  // k-th smallest.
  auto split = [&](double v) {
    const std::uint64_t atMost = d.countAtMost(v, scratch);
    if (k > atMost) {
      countLo = atMost;
      loStart.swap(scratch);
      return false;
    }
    const double below = std::nextafter(v, -kInf);
    const std::uint64_t atMostBelow = d.countAtMost(below, scratchBelow);
    if (atMostBelow < k) return true;
    countHi = atMostBelow;
    hiStart.swap(scratchBelow);
    return false;
  };

  for (;;) {
    const std::uint64_t candidates = countHi - countLo;
    const std::uint64_t target = k - countLo;  // 1-based among the candidates
    if (candidates <= enumerateLimit) {
      std::vector<double> values;
      values.reserve(candidates);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = hiStart[i]; j < loStart[i]; ++j) values.push_back(d.at(i, j));
      }
      ROLLGATE_CHECK_EQ(values.size(), candidates);
      auto nth = values.begin() + static_cast<std::ptrdiff_t>(target - 1);
      std::nth_element(values.begin(), nth, values.end());
      return *nth;
    }
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < n; ++i) {
      running += loStart[i] - hiStart[i];
      cumulative[i] = running;
    }
    std::uniform_int_distribution<std::uint64_t> pick(0, candidates - 1);
    for (double& s : sample) {
      const std::uint64_t r = pick(random);
      const auto row = static_cast<std::size_t>(
          std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin());
      const std::uint64_t before = row == 0 ? 0 : cumulative[row - 1];
      s = d.at(row, hiStart[row] + static_cast<std::size_t>(r - before));
    }
    // Two sample quantiles that bracket the target with a margin of 3.5 binomial standard errors
    // (plus a few samples for targets near the ends).
    const double fraction = static_cast<double>(target) / static_cast<double>(candidates);
    const double margin =
        3.5 * std::sqrt(static_cast<double>(kSampleSize) * fraction * (1.0 - fraction)) + 4.0;
    const double center = fraction * static_cast<double>(kSampleSize);
    const auto lowIndex = static_cast<std::size_t>(
        std::clamp(std::floor(center - margin), 0.0, static_cast<double>(kSampleSize - 1)));
    const auto highIndex = static_cast<std::size_t>(
        std::clamp(std::ceil(center + margin), 0.0, static_cast<double>(kSampleSize - 1)));
    std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(lowIndex),
                     sample.end());
    const double a = sample[lowIndex];
    std::nth_element(sample.begin() + static_cast<std::ptrdiff_t>(lowIndex),
                     sample.begin() + static_cast<std::ptrdiff_t>(highIndex), sample.end());
    const double b = sample[highIndex];
    const std::uint64_t countLoBefore = countLo;
    if (split(a)) return a;
    // b (>= a) is still a candidate only if the split at a raised the lower end.
    if (countLo != countLoBefore && b > a && split(b)) return b;
  }
}

double hodgesLehmannShift(std::span<const double> x, std::span<const double> y) {
  const std::uint64_t nm = static_cast<std::uint64_t>(x.size()) * y.size();
  if (nm % 2 == 1) return pairwiseDifference(x, y, (nm + 1) / 2);
  const std::uint64_t k = nm / 2;
  const double lower = pairwiseDifference(x, y, k);
  // The (k+1)-th is `lower` again when it is tied, else the smallest difference above it: in
  // each row the entry just before the suffix of entries <= lower.
  const DifferenceMatrix d(x, y);
  std::vector<std::size_t> start(x.size());
  if (d.countAtMost(lower, start) > k) return lower;
  double upper = kInf;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (start[i] > 0) upper = std::min(upper, d.at(i, start[i] - 1));
  }
  return (lower + upper) / 2.0;
}

double sortedMedian(std::span<const double> sorted) {
  ROLLGATE_CHECK(!sorted.empty());
  const std::size_t n = sorted.size();
  if (n % 2 == 1) return sorted[n / 2];
  return (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

Interval wilsonInterval(std::uint64_t events, std::uint64_t total, double z) {
  ROLLGATE_CHECK_GT(total, 0u);
  const double n = static_cast<double>(total);
  const double p = static_cast<double>(events) / n;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / n;
  const double center = (p + z2 / (2.0 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

RateEffects rateEffects(std::uint64_t canaryEvents, std::uint64_t canaryTotal,
                        std::uint64_t baselineEvents, std::uint64_t baselineTotal,
                        double confidence) {
  ROLLGATE_CHECK_LE(canaryEvents, canaryTotal);
  ROLLGATE_CHECK_LE(baselineEvents, baselineTotal);
  RateEffects effects;
  const double p1 = rate(canaryEvents, canaryTotal);
  const double p0 = rate(baselineEvents, baselineTotal);
  effects.canaryRate = p1;
  effects.baselineRate = p0;
  effects.difference.confidence = confidence;
  effects.ratio.confidence = confidence;
  if (canaryTotal == 0 || baselineTotal == 0) {
    effects.difference = {kNaN, kNaN, kNaN, confidence};
    effects.ratio = {kNaN, kNaN, kNaN, confidence};
    return effects;
  }
  const double z = zFor(confidence);

  // Newcombe (1998) method 10: hybrid score interval from the Wilson intervals of each side.
  const Interval w1 = wilsonInterval(canaryEvents, canaryTotal, z);
  const Interval w0 = wilsonInterval(baselineEvents, baselineTotal, z);
  const double diff = p1 - p0;
  effects.difference.estimate = diff;
  effects.difference.low =
      diff - std::sqrt((p1 - w1.low) * (p1 - w1.low) + (w0.high - p0) * (w0.high - p0));
  effects.difference.high =
      diff + std::sqrt((w1.high - p1) * (w1.high - p1) + (p0 - w0.low) * (p0 - w0.low));

  // Katz log interval; with no events on a side, 0.5 is added to each count for the interval.
  if (baselineEvents == 0) {
    effects.ratio.estimate = canaryEvents == 0 ? kNaN : kInf;
  } else {
    effects.ratio.estimate = p1 / p0;
  }
  double e1 = static_cast<double>(canaryEvents);
  double n1 = static_cast<double>(canaryTotal);
  double e0 = static_cast<double>(baselineEvents);
  double n0 = static_cast<double>(baselineTotal);
  if (canaryEvents == 0 || baselineEvents == 0) {
    e1 += 0.5;
    n1 += 1.0;
    e0 += 0.5;
    n0 += 1.0;
  }
  const double logRatio = std::log((e1 / n1) / (e0 / n0));
  const double se = std::sqrt(std::max(0.0, 1.0 / e1 - 1.0 / n1 + 1.0 / e0 - 1.0 / n0));
  effects.ratio.low = std::exp(logRatio - z * se);
  effects.ratio.high = std::exp(logRatio + z * se);
  return effects;
}

ShiftEffects shiftEffects(std::span<const double> x, std::span<const double> y, double confidence) {
  ROLLGATE_CHECK(!x.empty() && !y.empty());
  ShiftEffects effects;
  effects.canaryMedian = sortedMedian(x);
  effects.baselineMedian = sortedMedian(y);
  if (effects.baselineMedian == 0.0) {
    effects.medianRatio = effects.canaryMedian == 0.0  ? kNaN
                          : effects.canaryMedian > 0.0 ? kInf
                                                       : -kInf;
  } else {
    effects.medianRatio = effects.canaryMedian / effects.baselineMedian;
  }
  effects.shift.confidence = confidence;
  effects.shift.estimate = hodgesLehmannShift(x, y);

  // Moses interval: order statistics C and nm + 1 - C of the differences, with C from the
  // normal approximation to the null distribution of U.
  const double n = static_cast<double>(x.size());
  const double m = static_cast<double>(y.size());
  const double nm = n * m;
  const double sd = std::sqrt(nm * (n + m + 1.0) / 12.0);
  const double c = std::floor(nm / 2.0 - zFor(confidence) * sd);
  if (c < 1.0) {
    effects.shift.low = -kInf;
    effects.shift.high = kInf;
  } else {
    const auto lowRank = static_cast<std::uint64_t>(c);
    const std::uint64_t count = static_cast<std::uint64_t>(x.size()) * y.size();
    effects.shift.low = pairwiseDifference(x, y, lowRank);
    effects.shift.high = pairwiseDifference(x, y, count + 1 - lowRank);
  }
  return effects;
}

}  // namespace rollgate::stats
