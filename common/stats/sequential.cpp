#include "common/stats/sequential.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "common/check.h"
#include "common/stats/normal.h"

namespace rollgate::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kRange = 8.0;       // the density is carried over +-8 standard deviations
constexpr double kStepsPerSd = 4.0;  // grid points per standard deviation of one increment
constexpr double kMaxZ = 40.0;

// The sub-density of the score S_k = Z_k sqrt(t_k) on the continuation region of look k, on a
// uniform grid with Simpson weights already folded in.
struct Grid {
  std::vector<double> points;
  std::vector<double> weightedDensity;  // Simpson weight times density
};

Grid makeGrid(double low, double high, double step) {
  Grid grid;
  auto intervals = static_cast<std::size_t>(std::ceil((high - low) / step));
  intervals = std::max<std::size_t>(2, intervals + (intervals % 2));
  const double h = (high - low) / static_cast<double>(intervals);
  grid.points.resize(intervals + 1);
  grid.weightedDensity.assign(intervals + 1, 0.0);
  for (std::size_t i = 0; i <= intervals; ++i) grid.points[i] = low + h * static_cast<double>(i);
  return grid;
}

double simpsonWeight(std::size_t i, std::size_t last, double h) {
  if (i == 0 || i == last) return h / 3.0;
  return (i % 2 == 1 ? 4.0 : 2.0) * h / 3.0;
}

}  // namespace

double spentAlpha(SpendingFunction spending, double alpha, double t) {
  if (t <= 0.0) return 0.0;
  if (t >= 1.0) return alpha;
  switch (spending) {
    case SpendingFunction::kObrienFleming:
      return 2.0 * normalSf(normalUpperQuantile(alpha / 2.0) / std::sqrt(t));
    case SpendingFunction::kPocock:
      return alpha * std::log(1.0 + (std::numbers::e - 1.0) * t);
  }
  return alpha;
}

Result<SequentialPlan> SequentialPlan::make(double alpha, int plannedLooks, bool twoSided,
                                            SpendingFunction spending) {
  if (!(alpha > 0.0 && alpha <= 0.5)) {
    return makeError("sequential plan: alpha " + std::to_string(alpha) + " is outside (0, 0.5]");
  }
  if (plannedLooks < 1 || plannedLooks > kMaxLooks) {
    return makeError("sequential plan: planned looks " + std::to_string(plannedLooks) +
                     " is outside [1, " + std::to_string(kMaxLooks) + "]");
  }
  SequentialPlan plan;
  plan.alpha_ = alpha;
  plan.twoSided_ = twoSided;
  plan.spending_ = spending;
  const int looks = plannedLooks;
  const double sides = twoSided ? 2.0 : 1.0;

  Grid previous;
  double previousT = 0.0;
  double previousSpent = 0.0;
  for (int k = 1; k <= looks; ++k) {
    const double t = static_cast<double>(k) / looks;
    // Two-sided: each side spends alpha/2 by the one-sided function (as in Lan-DeMets' tables).
    const double spent =
        twoSided ? 2.0 * spentAlpha(spending, alpha / 2.0, t) : spentAlpha(spending, alpha, t);
    const double increment = std::max(0.0, spent - previousSpent);
    const double sqrtT = std::sqrt(t);
    const double sd = std::sqrt(t - previousT);

    double c = kInf;
    if (k == 1) {
      if (increment > 0.0) c = normalUpperQuantile(increment / sides);
    } else if (increment > 0.0) {
      // Probability of crossing at look k (having continued so far) for a boundary c.
      auto crossing = [&](double z) {
        const double b = z * sqrtT;
        double p = 0.0;
        for (std::size_t i = 0; i < previous.points.size(); ++i) {
          const double u = previous.points[i];
          // Points more than kRange + 1 increments away from both boundaries add nothing.
          const double upper = (b - u) / sd;
          const double lower = (-b - u) / sd;
          if (upper > kRange + 1.0 && (!twoSided || lower < -(kRange + 1.0))) continue;
          double q = normalSf(upper);
          if (twoSided) q += normalCdf(lower);
          p += previous.weightedDensity[i] * q;
        }
        return p;
      };
      if (crossing(0.0) <= increment) {
        c = 0.0;
      } else {
        double lo = 0.0;
        double hi = kMaxZ;
        for (int iteration = 0; iteration < 48; ++iteration) {
          const double mid = 0.5 * (lo + hi);
          if (crossing(mid) > increment) {
            lo = mid;
          } else {
            hi = mid;
          }
        }
        c = 0.5 * (lo + hi);
      }
    }
    plan.boundary_.push_back(c);
    plan.nominal_.push_back(std::isinf(c) ? 0.0 : std::min(1.0, sides * normalSf(c)));
    plan.cumulative_.push_back(spent);

    if (k == looks) break;
    // The sub-density of S_k on the continuation region, by convolving with the increment.
    const double high = std::min(c, kRange) * sqrtT;
    const double low = twoSided ? -high : -kRange * sqrtT;
    const double step = std::sqrt(1.0 / looks) / kStepsPerSd;
    Grid next = makeGrid(low, high, step);
    const std::size_t last = next.points.size() - 1;
    const double h = next.points[1] - next.points[0];
    for (std::size_t j = 0; j <= last; ++j) {
      const double s = next.points[j];
      double density = 0.0;
      if (k == 1) {
        density = normalPdf(s / sqrtT) / sqrtT;
      } else {
        // z_i = (s - u_i) / sd falls by delta per grid point, so the normal density along i
        // follows pdf(z_{i+1}) = pdf(z_i) g_i with g_{i+1} = g_i exp(-delta^2): no exp per term.
        const std::size_t count = previous.points.size();
        const double previousStep = previous.points[1] - previous.points[0];
        const double delta = previousStep / sd;
        const double reach = (kRange + 1.0) * sd;
        const double first = std::ceil((s - reach - previous.points[0]) / previousStep);
        std::size_t i = first <= 0.0 ? 0 : static_cast<std::size_t>(first);
        if (i < count) {
          double z = (s - previous.points[i]) / sd;
          double pdf = normalPdf(z);
          double growth = std::exp(z * delta - 0.5 * delta * delta);
          const double decay = std::exp(-delta * delta);
          for (; i < count && z >= -(kRange + 1.0); ++i) {
            density += previous.weightedDensity[i] * pdf;
            pdf *= growth;
            growth *= decay;
            z -= delta;
          }
        }
        density /= sd;
      }
      next.weightedDensity[j] = density * simpsonWeight(j, last, h);
    }
    previous = std::move(next);
    previousT = t;
    previousSpent = spent;
  }
  return plan;
}

double SequentialPlan::nominalAlpha(int look) const {
  ROLLGATE_CHECK(look >= 1 && look <= plannedLooks(), "look ", look, " of ", plannedLooks());
  return nominal_[static_cast<std::size_t>(look - 1)];
}

double SequentialPlan::boundaryZ(int look) const {
  ROLLGATE_CHECK(look >= 1 && look <= plannedLooks(), "look ", look, " of ", plannedLooks());
  return boundary_[static_cast<std::size_t>(look - 1)];
}

double SequentialPlan::cumulativeAlpha(int look) const {
  ROLLGATE_CHECK(look >= 1 && look <= plannedLooks(), "look ", look, " of ", plannedLooks());
  return cumulative_[static_cast<std::size_t>(look - 1)];
}

}  // namespace rollgate::stats
