#include "coordinator/rollout/gates.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/stats/fisher.h"
#include "common/stats/mann_whitney.h"
#include "common/stats/normal.h"

namespace rollgate::rollout {

namespace {

stats::Alternative toStats(Alternative alternative) {
  switch (alternative) {
    case Alternative::kGreater:
      return stats::Alternative::kGreater;
    case Alternative::kLess:
      return stats::Alternative::kLess;
    case Alternative::kTwoSided:
      break;
  }
  return stats::Alternative::kTwoSided;
}

double spent(double alpha, double t) {
  if (t <= 0) return 0.0;
  if (t >= 1) return alpha;
  double z = stats::normalUpperQuantile(alpha / 2) / std::sqrt(t);
  return std::min(alpha, 2.0 * stats::normalSf(z));
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

double relative(double canary, double baseline) {
  if (baseline == 0) {
    return canary == 0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), canary);
  }
  return canary / baseline - 1.0;
}

// The effect in the direction the alternative looks for.
bool effectLargeEnough(const CheckConfig& check, double effect, double effectRelative) {
  double absolute = effect;
  double rel = effectRelative;
  if (check.alternative == Alternative::kLess) {
    absolute = -effect;
    rel = -effectRelative;
  } else if (check.alternative == Alternative::kTwoSided) {
    absolute = std::fabs(effect);
    rel = std::fabs(effectRelative);
  }
  if (absolute <= 0) return false;
  if (check.minEffect > 0 && absolute < check.minEffect) return false;
  if (check.minEffectRelative > 0 && !(rel >= check.minEffectRelative)) return false;
  return true;
}

std::string format(const char* fmt, double a, double b = 0, double c = 0, double d = 0,
                   double e = 0) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, fmt, a, b, c, d, e);
  return buffer;
}

struct Counts {
  std::uint64_t events = 0;
  std::uint64_t total = 0;
};

Counts countsOf(Metric metric, const GroupData& group) {
  switch (metric) {
    case Metric::kHttp5xxRatio:
      return {group.status5xx, group.requests};
    case Metric::kHttp2xxRatio:
      return {group.status2xx, group.requests};
    case Metric::kErrorLogPerRequest:
      return {group.errorLogLines, group.requests + group.errorLogLines};
    default:
      return {};
  }
}

const std::vector<double>& samplesOf(Metric metric, const GroupData& group) {
  switch (metric) {
    case Metric::kLatency:
      return group.latencyMicros;
    case Metric::kCpu:
      return group.cpuMillisPerSecond;
    default:
      return group.memoryBytes;
  }
}

const char* unitOf(Metric metric) {
  switch (metric) {
    case Metric::kLatency:
      return "us";
    case Metric::kCpu:
      return "CPU ms/s";
    case Metric::kMemory:
      return "bytes";
    default:
      return "";
  }
}

}  // namespace

void addWindow(GroupData& group, const TelemetryWindow& window) {
  group.windows += 1;
  group.requests += window.requests;
  group.status2xx += window.status2xx;
  group.status5xx += window.status5xx;
  group.errorLogLines += window.errorLogLines;
  group.restarts += window.restarts;
  for (auto micros : window.latencySampleMicros) group.latencyMicros.push_back(micros);
  double seconds = window.endMillis > window.startMillis
                       ? static_cast<double>(window.endMillis - window.startMillis) / 1000.0
                       : 0.0;
  if (seconds > 0) {
    group.cpuMillisPerSecond.push_back(static_cast<double>(window.cpuMillis) / seconds);
  }
  group.memoryBytes.push_back(static_cast<double>(window.memoryBytes));
}

std::string_view verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kNotEnoughData:
      return "not_enough_data";
    case Verdict::kSkipped:
      return "skipped";
  }
  return "?";
}

double alphaAtLook(double alpha, std::uint32_t look, std::uint32_t previousLook,
                   std::uint32_t looks) {
  assert(previousLook < look && look <= looks);
  double now = spent(alpha, static_cast<double>(look) / looks);
  double before = spent(alpha, static_cast<double>(previousLook) / looks);
  return std::max(0.0, now - before);
}

CheckResult evaluateCheck(const CheckConfig& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t previousLook, std::uint32_t looks) {
  CheckResult result;
  result.name = check.name;
  result.metric = check.metric;
  result.test = check.test;
  result.alternative = check.alternative;
  result.tier = check.tier;
  result.look = look;
  result.looks = looks;
  const std::string metric(metricName(check.metric));
  const std::string lookText = " (look " + std::to_string(look) + "/" + std::to_string(looks) + ")";

  switch (check.test) {
    case Test::kFisher: {
      Counts c = countsOf(check.metric, canary);
      Counts b = countsOf(check.metric, comparison);
      result.canaryCount = c.total;
      result.baselineCount = b.total;
      if (!hasComparison) {
        result.verdict = Verdict::kSkipped;
        result.explanation = metric + ": skipped, no comparison host is left on the old release";
        return result;
      }
      result.canaryValue = c.total ? static_cast<double>(c.events) / c.total : 0.0;
      result.baselineValue = b.total ? static_cast<double>(b.events) / b.total : 0.0;
      result.effect = result.canaryValue - result.baselineValue;
      result.effectRelative = relative(result.canaryValue, result.baselineValue);
      if (c.total < std::max<std::uint64_t>(check.minData, 1) ||
          b.total < std::max<std::uint64_t>(check.minData, 1)) {
        result.verdict = Verdict::kNotEnoughData;
        result.explanation = metric + ": not enough data, " + std::to_string(c.total) +
                             " canary and " + std::to_string(b.total) +
                             " comparison requests, need " + std::to_string(check.minData) +
                             " each" + lookText;
        return result;
      }
      result.alphaAtLook = alphaAtLook(check.alpha, look, previousLook, looks);
      auto fisher = stats::fisherExact(c.events, c.total, b.events, b.total,
                                       toStats(check.alternative));
      if (!fisher) {
        result.verdict = Verdict::kNotEnoughData;
        result.explanation = metric + ": Fisher's exact test refused the counts: " +
                             fisher.error().message;
        return result;
      }
      result.statistic = fisher->oddsRatio;
      result.pValue = fisher->pValue;
      bool significant = result.pValue < result.alphaAtLook;
      bool large = effectLargeEnough(check, result.effect, result.effectRelative);
      result.verdict = significant && large ? Verdict::kFail : Verdict::kPass;
      result.explanation =
          metric + ": canary " + std::to_string(c.events) + "/" + std::to_string(c.total) +
          format(" (%.4g%%) vs comparison ", 100 * result.canaryValue) + std::to_string(b.events) +
          "/" + std::to_string(b.total) +
          format(" (%.4g%%); Fisher p=%.3g, alpha at this look %.3g, odds ratio %.3g",
                 100 * result.baselineValue, result.pValue, result.alphaAtLook, result.statistic) +
          (significant && !large ? "; significant but below the minimum effect" : "") + lookText;
      return result;
    }
    case Test::kMannWhitney: {
      const auto& c = samplesOf(check.metric, canary);
      const auto& b = samplesOf(check.metric, comparison);
      result.canaryCount = c.size();
      result.baselineCount = b.size();
      if (!hasComparison) {
        result.verdict = Verdict::kSkipped;
        result.explanation = metric + ": skipped, no comparison host is left on the old release";
        return result;
      }
      std::uint64_t need = std::max<std::uint64_t>(check.minData, 1);
      if (c.size() < need || b.size() < need) {
        result.verdict = Verdict::kNotEnoughData;
        result.explanation = metric + ": not enough data, " + std::to_string(c.size()) +
                             " canary and " + std::to_string(b.size()) +
                             " comparison samples, need " + std::to_string(need) + " each" +
                             lookText;
        return result;
      }
      result.canaryValue = median(c);
      result.baselineValue = median(b);
      result.effect = result.canaryValue - result.baselineValue;
      result.effectRelative = relative(result.canaryValue, result.baselineValue);
      result.alphaAtLook = alphaAtLook(check.alpha, look, previousLook, looks);
      auto test = stats::mannWhitneyU(c, b, toStats(check.alternative));
      if (!test) {
        result.verdict = Verdict::kNotEnoughData;
        result.explanation = metric + ": Mann-Whitney U refused the samples: " +
                             test.error().message;
        return result;
      }
      result.statistic = test->u;
      result.pValue = test->pValue;
      bool significant = result.pValue < result.alphaAtLook;
      bool large = effectLargeEnough(check, result.effect, result.effectRelative);
      result.verdict = significant && large ? Verdict::kFail : Verdict::kPass;
      result.explanation =
          metric + format(": canary median %.6g vs comparison %.6g ", result.canaryValue,
                          result.baselineValue) +
          unitOf(check.metric) +
          format(" (shift %+.6g, %+.3g%%); Mann-Whitney U=%.6g, p=%.3g", result.effect,
                 100 * result.effectRelative, result.statistic, result.pValue) +
          format(", alpha at this look %.3g; n=%.0f vs %.0f", result.alphaAtLook,
                 static_cast<double>(c.size()), static_cast<double>(b.size())) +
          (significant && !large ? "; significant but below the minimum effect" : "") + lookText;
      return result;
    }
    case Test::kMaxRatio:
    case Test::kMinRatio: {
      Counts c = countsOf(check.metric, canary);
      result.canaryCount = c.total;
      std::uint64_t need = std::max<std::uint64_t>(check.minData, 1);
      if (c.total < need) {
        result.verdict = Verdict::kNotEnoughData;
        result.explanation = metric + ": not enough data, " + std::to_string(c.total) +
                             " canary requests, need " + std::to_string(need) + lookText;
        return result;
      }
      result.canaryValue = static_cast<double>(c.events) / c.total;
      result.statistic = result.canaryValue;
      result.baselineValue = check.threshold;
      result.effect = result.canaryValue - check.threshold;
      result.effectRelative = relative(result.canaryValue, check.threshold);
      bool pass = check.test == Test::kMaxRatio ? result.canaryValue < check.threshold
                                                : result.canaryValue >= check.threshold;
      result.verdict = pass ? Verdict::kPass : Verdict::kFail;
      char limit[128];
      std::snprintf(limit, sizeof limit, " = %.4g%%, must be %s %.4g%%", 100 * result.canaryValue,
                    check.test == Test::kMaxRatio ? "below" : "at least", 100 * check.threshold);
      result.explanation = metric + ": canary " + std::to_string(c.events) + "/" +
                           std::to_string(c.total) + limit + lookText;
      return result;
    }
    case Test::kRestarts: {
      result.canaryCount = canary.windows;
      result.baselineCount = comparison.windows;
      std::uint64_t need = std::max<std::uint64_t>(check.minData, 1);
      if (canary.windows < need) {
        result.verdict = Verdict::kNotEnoughData;
        result.explanation = metric + ": not enough data, " + std::to_string(canary.windows) +
                             " canary windows, need " + std::to_string(need) + lookText;
        return result;
      }
      double hostsC = static_cast<double>(std::max<std::uint64_t>(canary.hostCount, 1));
      double hostsB = static_cast<double>(std::max<std::uint64_t>(comparison.hostCount, 1));
      result.statistic = static_cast<double>(canary.restarts);
      result.canaryValue = static_cast<double>(canary.restarts) / hostsC;
      result.baselineValue = hasComparison ? static_cast<double>(comparison.restarts) / hostsB : 0;
      result.effect = result.canaryValue - result.baselineValue;
      result.effectRelative = relative(result.canaryValue, result.baselineValue);
      bool fail = canary.restarts > 0 && result.canaryValue > result.baselineValue;
      result.verdict = fail ? Verdict::kFail : Verdict::kPass;
      result.explanation = metric + ": canary group " + std::to_string(canary.restarts) +
                           " unit restarts over " + std::to_string(canary.hostCount) +
                           " hosts, comparison " + std::to_string(comparison.restarts) +
                           " over " + std::to_string(comparison.hostCount) + lookText;
      return result;
    }
  }
  return result;
}

}  // namespace rollgate::rollout
