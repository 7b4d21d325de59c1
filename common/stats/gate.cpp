#include "common/stats/gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "common/stats/fisher.h"
#include "common/stats/mann_whitney.h"
#include "common/stats/sorting.h"
#include "common/stats/thresholds.h"

namespace rollgate::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

// Three significant digits; "inf", "-inf", "nan" spelled out.
std::string number(double value) {
  if (std::isnan(value)) return "n/a";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return format("%.3g", value);
}

std::string pValueText(double p) { return format("%.2g", p); }

std::string percent(double rate) {
  if (std::isnan(rate)) return "n/a";
  const double pct = rate * 100.0;
  if (pct == 0.0 || std::fabs(pct) >= 0.01) return format("%.2f%%", pct);
  return format("%.2g%%", pct);
}

std::string percentagePoints(double difference) {
  if (std::isnan(difference)) return "n/a";
  const double pp = difference * 100.0;
  std::string text = std::fabs(pp) >= 0.01 || pp == 0.0 ? format("%.2f", pp) : format("%.2g", pp);
  if (pp > 0) text = "+" + text;
  return text + " pp";
}

std::string interval(const EffectEstimate& e, std::string (*show)(double)) {
  if (std::isnan(e.low) && std::isnan(e.high)) return "";
  return " [" + show(e.low) + ", " + show(e.high) + "]";
}

std::string shiftText(double value) {
  if (std::isnan(value)) return "n/a";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return (value > 0 ? "+" : "") + number(value);
}

bool largeEnough(const CheckSpec& spec, double absolute, double relative) {
  bool ok = true;
  if (spec.minEffect != 0.0) {
    const double minimum = spec.minEffect;
    switch (spec.alternative) {
      case Alternative::kGreater:
        ok = ok && absolute >= minimum;
        break;
      case Alternative::kLess:
        ok = ok && -absolute >= minimum;
        break;
      case Alternative::kTwoSided:
        ok = ok && std::fabs(absolute) >= minimum;
        break;
    }
  }
  if (spec.minRatio != 0.0) {
    const double minimum = spec.minRatio;
    const double inverse = relative == 0.0 ? kInf : 1.0 / relative;
    switch (spec.alternative) {
      case Alternative::kGreater:
        ok = ok && relative >= minimum;
        break;
      case Alternative::kLess:
        ok = ok && inverse >= minimum;
        break;
      case Alternative::kTwoSided:
        ok = ok && (relative >= minimum || inverse >= minimum);
        break;
    }
  }
  return ok;
}

// One clause per minimum effect the check has, e.g. ", ratio 15.5 above minimum 1.5".
// ", ratio 2.5 reaches minimum 2" (nothing when the check has no minimum ratio).
std::string ratioClause(const CheckSpec& spec, double ratio) {
  if (spec.minRatio == 0.0) return {};
  CheckSpec only = spec;
  only.minEffect = 0.0;
  const bool met = largeEnough(only, kNaN, ratio);
  return ", ratio " + number(ratio) + (met ? " reaches" : " below") + " minimum " +
         number(spec.minRatio);
}

// ": pass (significant but too small)", ": fail", ...
std::string verdictEnding(const CheckResult& result) {
  std::string text = ": " + std::string(toString(result.verdict));
  if (result.significant && !result.effectLargeEnough) text += " (significant but too small)";
  return text;
}

std::string verdictClause(const CheckSpec& spec, const CheckResult& result, bool counts) {
  std::string text;
  if (spec.minEffect != 0.0) {
    CheckSpec only = spec;
    only.minRatio = 0.0;
    const bool met = largeEnough(only, result.effect.estimate, kNaN);
    text += counts
                ? ", difference " + percentagePoints(result.effect.estimate) +
                      (met ? " reaches" : " below") + " minimum " + percentagePoints(spec.minEffect)
                : ", shift " + shiftText(result.effect.estimate) + (met ? " reaches" : " below") +
                      " minimum " + number(spec.minEffect);
  }
  text += ratioClause(spec, result.ratio.estimate);
  text += verdictEnding(result);
  return text;
}

std::string lookText(const CheckInput& input) {
  return "look " + std::to_string(input.look) + "/" + std::to_string(input.plannedLooks);
}

Status validateInput(const CheckSpec& spec, const CheckInput& input, const SequentialPlan& plan) {
  if (input.plannedLooks < 1 || input.plannedLooks > SequentialPlan::kMaxLooks) {
    return makeError("check '" + spec.name + "': planned looks " +
                     std::to_string(input.plannedLooks) + " outside [1, " +
                     std::to_string(SequentialPlan::kMaxLooks) + "]");
  }
  if (input.look < 1 || input.look > input.plannedLooks) {
    return makeError("check '" + spec.name + "': look " + std::to_string(input.look) +
                     " outside [1, " + std::to_string(input.plannedLooks) + "]");
  }
  if (plan.plannedLooks() != input.plannedLooks || plan.alpha() != spec.alpha ||
      plan.twoSided() != (spec.alternative == Alternative::kTwoSided) ||
      plan.spending() != spec.spending) {
    return makeError("check '" + spec.name + "': the sequential plan (alpha " +
                     number(plan.alpha()) + ", " + std::to_string(plan.plannedLooks()) +
                     " looks) does not belong to this check (alpha " + number(spec.alpha) + ", " +
                     std::to_string(input.plannedLooks) + " looks)");
  }
  if (spec.test == Test::kRestarts) {
    return makeError("check '" + spec.name +
                     "': the restarts test counts restarts per host, it has no sample test");
  }
  if (const auto* counts = std::get_if<CountsData>(&input.data)) {
    if (spec.test == Test::kMannWhitney || spec.test == Test::kTailFisher) {
      return makeError("check '" + spec.name + "': " + std::string(toString(spec.test)) +
                       " needs samples, got counts");
    }
    if (counts->canaryEvents > counts->canaryTotal) {
      return makeError("check '" + spec.name + "': canary events " +
                       std::to_string(counts->canaryEvents) + " exceed canary total " +
                       std::to_string(counts->canaryTotal));
    }
    if (counts->baselineEvents > counts->baselineTotal) {
      return makeError("check '" + spec.name + "': baseline events " +
                       std::to_string(counts->baselineEvents) + " exceed baseline total " +
                       std::to_string(counts->baselineTotal));
    }
    if (counts->canaryTotal > kFisherMaxTotal || counts->baselineTotal > kFisherMaxTotal) {
      return makeError("check '" + spec.name + "': totals above " +
                       std::to_string(kFisherMaxTotal));
    }
  } else {
    const auto& samples = std::get<SamplesData>(input.data);
    if (spec.test == Test::kFisher) {
      return makeError("check '" + spec.name + "': fisher needs counts, got samples");
    }
    for (const auto& [side, values] :
         {std::pair{"canary", samples.canary}, std::pair{"baseline", samples.baseline}}) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) {
          return makeError("check '" + spec.name + "': " + side + " sample " +
                           std::to_string(i + 1) + " is " + number(values[i]));
        }
      }
    }
  }
  return {};
}

CheckResult baseResult(const CheckSpec& spec, const CheckInput& input) {
  return unevaluatedResult(spec, static_cast<std::uint32_t>(input.look),
                           static_cast<std::uint32_t>(input.plannedLooks));
}

bool notEnough(std::uint64_t count, const CheckSpec& spec) {
  return count == 0 || count < spec.minData;
}

CheckResult evaluateCounts(const CheckSpec& spec, const CheckInput& input,
                           const SequentialPlan& plan, const CountsData& c) {
  CheckResult result = baseResult(spec, input);
  result.canaryCount = c.canaryTotal;
  result.baselineCount = c.baselineTotal;
  result.canaryEvents = c.canaryEvents;
  result.baselineEvents = c.baselineEvents;
  const std::string canaryText =
      percent(c.canaryTotal == 0
                  ? kNaN
                  : static_cast<double>(c.canaryEvents) / static_cast<double>(c.canaryTotal)) +
      " (" + std::to_string(c.canaryEvents) + "/" + std::to_string(c.canaryTotal) + ")";
  const bool isThreshold = spec.test != Test::kFisher;

  if (notEnough(c.canaryTotal, spec) || (!isThreshold && notEnough(c.baselineTotal, spec))) {
    result.verdict = Verdict::kNotEnoughData;
    result.explanation =
        std::string(metricInfo(result.metric).text) + ": not enough data: canary " +
        std::to_string(c.canaryTotal) + " requests" +
        (isThreshold ? std::string() : ", baseline " + std::to_string(c.baselineTotal)) +
        ", minimum " + std::to_string(std::max<std::uint64_t>(1, spec.minData)) +
        (isThreshold ? "" : " per side") + ": not_enough_data";
    return result;
  }

  if (isThreshold) {
    const auto direction = spec.test == Test::kThresholdMax ? ThresholdDirection::kAtMost
                                                            : ThresholdDirection::kAtLeast;
    const ThresholdResult t =
        checkRateThreshold(c.canaryEvents, c.canaryTotal, spec.threshold, direction);
    result.statistic = t.value;
    result.canaryValue = t.value;
    result.verdict = t.within ? Verdict::kPass : Verdict::kFail;
    result.explanation =
        std::string(metricInfo(result.metric).text) + " canary " + canaryText + ", " +
        (direction == ThresholdDirection::kAtMost ? "at most " : "at least ") +
        percent(spec.threshold) + " allowed: " + std::string(toString(result.verdict));
    return result;
  }

  const auto fisher = fisherExact(c.canaryEvents, c.canaryTotal, c.baselineEvents, c.baselineTotal,
                                  spec.alternative);
  // Inputs were validated, so the test cannot fail here.
  const RateEffects effects = rateEffects(c.canaryEvents, c.canaryTotal, c.baselineEvents,
                                          c.baselineTotal, spec.confidence);
  result.statistic = fisher->oddsRatio;
  result.pValue = fisher->pValue;
  result.alphaAtLook = plan.nominalAlpha(input.look);
  result.significant = result.pValue <= result.alphaAtLook;
  result.effectName = "rate difference";
  result.effect = effects.difference;
  result.ratioName = "rate ratio";
  result.ratio = effects.ratio;
  result.canaryValue = effects.canaryRate;
  result.baselineValue = effects.baselineRate;
  result.effectLargeEnough = largeEnough(spec, effects.difference.estimate, effects.ratio.estimate);
  result.verdict = result.significant && result.effectLargeEnough ? Verdict::kFail : Verdict::kPass;

  const std::string baselineText = percent(effects.baselineRate) + " (" +
                                   std::to_string(c.baselineEvents) + "/" +
                                   std::to_string(c.baselineTotal) + ")";
  result.explanation =
      std::string(metricInfo(result.metric).text) + " canary " + canaryText + " vs baseline " +
      baselineText + ", Fisher " + std::string(toString(spec.alternative)) +
      " p=" + pValueText(result.pValue) + (result.significant ? " <= " : " > ") + "alpha " +
      pValueText(result.alphaAtLook) + " at " + lookText(input) + ", difference " +
      percentagePoints(effects.difference.estimate) +
      interval(effects.difference, percentagePoints) + ", ratio " + number(effects.ratio.estimate) +
      interval(effects.ratio, number) + verdictClause(spec, result, true);
  return result;
}

// "p99", "p99.9", "p50".
std::string quantileName(double q) { return "p" + format("%.4g", q * 100.0); }

// Milliseconds for a latency in microseconds ("412 ms", "3.5 ms"), the metric's own unit for
// any other metric.
std::string valueText(Metric metric, double value) {
  if (metricInfo(metric).unit.empty()) return number(value);  // a query's own unit
  if (metricInfo(metric).unit != "us")
    return number(value) + " " + std::string(metricInfo(metric).unit);
  const double millis = value / 1000.0;
  return (std::isfinite(millis) && std::fabs(millis) >= 100 ? format("%.0f", millis)
                                                            : number(millis)) +
         " ms";
}

CheckResult evaluateTail(const CheckSpec& spec, const CheckInput& input, const SequentialPlan& plan,
                         const std::vector<double>& canary, const std::vector<double>& baseline) {
  CheckResult result = baseResult(spec, input);
  result.canaryCount = canary.size();
  result.baselineCount = baseline.size();
  std::vector<double> pooled(canary.size() + baseline.size());
  std::merge(canary.begin(), canary.end(), baseline.begin(), baseline.end(), pooled.begin());
  const double threshold = sortedQuantile(pooled, spec.quantile);
  auto above = [threshold](const std::vector<double>& sorted) {
    return static_cast<std::uint64_t>(sorted.end() -
                                      std::upper_bound(sorted.begin(), sorted.end(), threshold));
  };
  const std::uint64_t canaryAbove = above(canary);
  const std::uint64_t baselineAbove = above(baseline);
  const auto fisher =
      fisherExact(canaryAbove, canary.size(), baselineAbove, baseline.size(), spec.alternative);
  // Inputs were validated, so the test cannot fail here.
  const RateEffects rates =
      rateEffects(canaryAbove, canary.size(), baselineAbove, baseline.size(), spec.confidence);
  result.canaryEvents = canaryAbove;
  result.baselineEvents = baselineAbove;
  result.statistic = fisher->oddsRatio;
  result.pValue = fisher->pValue;
  result.alphaAtLook = plan.nominalAlpha(input.look);
  result.significant = result.pValue <= result.alphaAtLook;
  result.canaryValue = sortedQuantile(canary, spec.quantile);
  result.baselineValue = sortedQuantile(baseline, spec.quantile);
  const std::string q = quantileName(spec.quantile);
  result.effectName = q + " difference";
  result.effect = {result.canaryValue - result.baselineValue, kNaN, kNaN, spec.confidence};
  result.ratioName = "ratio of the fractions above the pooled " + q;
  result.ratio = rates.ratio;
  result.effectLargeEnough = largeEnough(spec, result.effect.estimate, result.ratio.estimate);
  result.verdict = result.significant && result.effectLargeEnough ? Verdict::kFail : Verdict::kPass;

  const Metric metric = result.metric;
  std::string text =
      std::string(metricInfo(metric).name) + " tail: canary " + q + " " +
      valueText(metric, result.canaryValue) + " (n=" + std::to_string(canary.size()) +
      ") vs comparison " + q + " " + valueText(metric, result.baselineValue) +
      " (n=" + std::to_string(baseline.size()) + "); " + percent(rates.canaryRate) +
      " of canary samples (" + std::to_string(canaryAbove) + ") over the pooled " + q + " " +
      valueText(metric, threshold) + " vs " + percent(rates.baselineRate) + " (" +
      std::to_string(baselineAbove) + "), Fisher " + std::string(toString(spec.alternative)) +
      " p=" + pValueText(result.pValue) + (result.significant ? " <= " : " > ") + "alpha " +
      pValueText(result.alphaAtLook) + " at " + lookText(input);
  if (spec.minEffect != 0.0) {
    CheckSpec only = spec;
    only.minRatio = 0.0;
    const bool met = largeEnough(only, result.effect.estimate, kNaN);
    text += ", " + q + " difference " + (result.effect.estimate > 0 ? "+" : "") +
            valueText(metric, result.effect.estimate) + (met ? " reaches" : " below") +
            " minimum " + valueText(metric, spec.minEffect);
  }
  text += ratioClause(spec, result.ratio.estimate);
  text += verdictEnding(result);
  result.explanation = std::move(text);
  return result;
}

CheckResult evaluateSamples(const CheckSpec& spec, const CheckInput& input,
                            const SequentialPlan& plan, const SamplesData& s) {
  CheckResult result = baseResult(spec, input);
  result.canaryCount = s.canary.size();
  result.baselineCount = s.baseline.size();
  const bool isThreshold = spec.test == Test::kThresholdMax || spec.test == Test::kThresholdMin;
  if (notEnough(s.canary.size(), spec) || (!isThreshold && notEnough(s.baseline.size(), spec))) {
    result.verdict = Verdict::kNotEnoughData;
    result.explanation =
        std::string(metricInfo(result.metric).text) + ": not enough data: canary " +
        std::to_string(s.canary.size()) + " samples" +
        (isThreshold ? std::string() : ", baseline " + std::to_string(s.baseline.size())) +
        ", minimum " + std::to_string(std::max<std::uint64_t>(1, spec.minData)) +
        (isThreshold ? "" : " per side") + ": not_enough_data";
    return result;
  }
  const std::vector<double> canary = sortedCopy(s.canary);

  if (isThreshold) {
    const auto direction = spec.test == Test::kThresholdMax ? ThresholdDirection::kAtMost
                                                            : ThresholdDirection::kAtLeast;
    const ThresholdResult t =
        checkQuantileThreshold(canary, spec.quantile, spec.threshold, direction);
    result.statistic = t.value;
    result.canaryValue = t.value;
    result.verdict = t.within ? Verdict::kPass : Verdict::kFail;
    result.explanation =
        std::string(metricInfo(result.metric).text) + " canary quantile " + number(spec.quantile) +
        " " + number(t.value) + " (n=" + std::to_string(canary.size()) + "), " +
        (direction == ThresholdDirection::kAtMost ? "at most " : "at least ") +
        number(spec.threshold) + " allowed: " + std::string(toString(result.verdict));
    return result;
  }

  const std::vector<double> baseline = sortedCopy(s.baseline);
  if (spec.test == Test::kTailFisher) return evaluateTail(spec, input, plan, canary, baseline);
  const MannWhitneyResult test = mannWhitneyUSorted(canary, baseline, spec.alternative);
  const ShiftEffects effects = shiftEffects(canary, baseline, spec.confidence);
  result.statistic = test.u;
  result.pValue = test.pValue;
  result.alphaAtLook = plan.nominalAlpha(input.look);
  result.significant = result.pValue <= result.alphaAtLook;
  result.effectName = "Hodges-Lehmann shift";
  result.effect = effects.shift;
  result.ratioName = "median ratio";
  result.ratio = {effects.medianRatio, kNaN, kNaN, spec.confidence};
  result.canaryValue = effects.canaryMedian;
  result.baselineValue = effects.baselineMedian;
  result.effectLargeEnough = largeEnough(spec, effects.shift.estimate, effects.medianRatio);
  result.verdict = result.significant && result.effectLargeEnough ? Verdict::kFail : Verdict::kPass;
  result.explanation = std::string(metricInfo(result.metric).text) + " canary median " +
                       number(effects.canaryMedian) + " (n=" + std::to_string(canary.size()) +
                       ") vs baseline median " + number(effects.baselineMedian) +
                       " (n=" + std::to_string(baseline.size()) + "), Mann-Whitney " +
                       std::string(toString(spec.alternative)) + " U=" + number(test.u) +
                       " p=" + pValueText(result.pValue) + (result.significant ? " <= " : " > ") +
                       "alpha " + pValueText(result.alphaAtLook) + " at " + lookText(input) +
                       ", shift " + shiftText(effects.shift.estimate) +
                       interval(effects.shift, shiftText) + ", median ratio " +
                       number(effects.medianRatio) + verdictClause(spec, result, false);
  return result;
}

}  // namespace

Status validateCheckSpec(const CheckSpec& spec) {
  const std::string what = "check '" + spec.name + "': ";
  if (!(spec.alpha > 0.0 && spec.alpha <= 0.5)) {
    return makeError(what + "alpha " + number(spec.alpha) + " outside (0, 0.5]");
  }
  if (!(spec.confidence > 0.0 && spec.confidence < 1.0)) {
    return makeError(what + "confidence " + number(spec.confidence) + " outside (0, 1)");
  }
  if (!(spec.minEffect >= 0.0)) {
    return makeError(what + "minimum absolute effect " + number(spec.minEffect) + " must be >= 0");
  }
  if (spec.minRatio != 0.0 && !(spec.minRatio >= 1.0)) {
    return makeError(what + "minimum relative effect " + number(spec.minRatio) +
                     " must be a ratio >= 1");
  }
  if (!(spec.quantile >= 0.0 && spec.quantile <= 1.0)) {
    return makeError(what + "quantile " + number(spec.quantile) + " outside [0, 1]");
  }
  if (spec.test == Test::kTailFisher && !(spec.quantile > 0.0 && spec.quantile < 1.0)) {
    return makeError(what + "tail_fisher quantile " + number(spec.quantile) +
                     " outside (0, 1) (0.99 tests the slowest 1%)");
  }
  if (!std::isfinite(spec.threshold)) {
    return makeError(what + "threshold " + number(spec.threshold) + " is not finite");
  }
  return {};
}

Result<SequentialPlan> makeCheckPlan(const CheckSpec& spec, int plannedLooks) {
  if (Status valid = validateCheckSpec(spec); !valid) return valid.error();
  return SequentialPlan::make(spec.alpha, plannedLooks, spec.alternative == Alternative::kTwoSided,
                              spec.spending);
}

Result<CheckResult> evaluateCheck(const CheckSpec& spec, const CheckInput& input,
                                  const SequentialPlan& plan) {
  if (Status valid = validateCheckSpec(spec); !valid) return valid.error();
  if (Status valid = validateInput(spec, input, plan); !valid) return valid.error();
  if (const auto* counts = std::get_if<CountsData>(&input.data)) {
    return evaluateCounts(spec, input, plan, *counts);
  }
  return evaluateSamples(spec, input, plan, std::get<SamplesData>(input.data));
}

Result<CheckResult> evaluateCheck(const CheckSpec& spec, const CheckInput& input) {
  if (input.plannedLooks < 1 || input.plannedLooks > SequentialPlan::kMaxLooks) {
    return makeError("check '" + spec.name + "': planned looks " +
                     std::to_string(input.plannedLooks) + " outside [1, " +
                     std::to_string(SequentialPlan::kMaxLooks) + "]");
  }
  auto plan = makeCheckPlan(spec, input.plannedLooks);
  if (!plan) return plan.error();
  return evaluateCheck(spec, input, *plan);
}

}  // namespace rollgate::stats
