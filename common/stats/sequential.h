// Repeated looks: the significance level a gate uses at each telemetry window of a stage, so that
// looking at every window does not inflate false alarms.
//
// The rule: Lan-DeMets alpha spending with the O'Brien-Fleming-type spending function
// alpha(t) = 2 - 2 Phi(z_{alpha/2} / sqrt(t)) over a known maximum number of looks K per stage,
// with information fraction t = look / K. Each look k rejects when the test's p-value is at most
// the nominal level nominalAlpha(k), where the nominal levels are the group-sequential boundaries
// computed by recursive numerical integration (Armitage-McPherson-Rowe) for a statistic that
// behaves like Brownian motion across looks: the probability, under no difference, of crossing
// at look k for the first time is exactly alpha(t_k) - alpha(t_{k-1}). So the chance that a stage
// raises a false alarm at any look is alpha. We chose it because
//  - early looks are strict (a nominal level of about 1e-10 at look 1 of 12 for alpha 0.05) and
//    the last look is nearly the fixed-sample alpha, which is what an operator wants: roll back
//    at once only on overwhelming evidence, and keep full power for the final decision;
//  - it needs only the planned number of looks, and skipped looks (not enough data, a window
//    lost) only make it more conservative;
//  - unlike an always-valid (mixture SPRT) p-value, it keeps the tests users know (Fisher,
//    Mann-Whitney) and their p-values, so a verdict can be checked with SciPy.
// A two-sided plan spends alpha/2 on each side with the one-sided function at alpha/2.
// Pocock-type spending alpha ln(1 + (e - 1) t) is offered for gates that should react earlier at
// the price of a stricter final look.
//
// Requires of the caller: the data at look k is the stage's cumulative data up to window k (the
// boundaries assume cumulative statistics), and looks are roughly equally spaced in data.
// Thread-safety: SequentialPlan is an immutable value; build it once per stage and share it.
#pragma once

#include <vector>

#include "common/result.h"

namespace rollgate::stats {

enum class SpendingFunction { kObrienFleming, kPocock };

// The cumulative alpha spent at information fraction t in [0, 1].
double spentAlpha(SpendingFunction spending, double alpha, double informationFraction);

class SequentialPlan {
 public:
  // Fails for alpha outside (0, 0.5] or plannedLooks outside [1, kMaxLooks].
  // Costs about 300 K^1.5 normal-density evaluations: a few milliseconds for K = 12,
  // about 100 ms for K = 240 (build it once per stage).
  static Result<SequentialPlan> make(double alpha, int plannedLooks, bool twoSided,
                                     SpendingFunction spending = SpendingFunction::kObrienFleming);

  static constexpr int kMaxLooks = 240;

  double alpha() const { return alpha_; }
  int plannedLooks() const { return static_cast<int>(nominal_.size()); }
  bool twoSided() const { return twoSided_; }
  SpendingFunction spending() const { return spending_; }

  // The p-value threshold at look (1-based). Requires: 1 <= look <= plannedLooks().
  double nominalAlpha(int look) const;
  // The boundary on the z scale at look (+inf when no alpha is spent there).
  double boundaryZ(int look) const;
  // alpha(t_look), the false-alarm probability spent by the end of that look.
  double cumulativeAlpha(int look) const;

 private:
  SequentialPlan() = default;
  double alpha_ = 0.0;
  bool twoSided_ = false;
  SpendingFunction spending_ = SpendingFunction::kObrienFleming;
  std::vector<double> nominal_;
  std::vector<double> boundary_;
  std::vector<double> cumulative_;
};

}  // namespace rollgate::stats
