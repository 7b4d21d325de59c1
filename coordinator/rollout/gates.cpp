#include "coordinator/rollout/gates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rollgate::rollout {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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
      // Lines can outnumber requests; as events out of (requests + lines) the table stays a
      // valid 2x2 table and its odds still rise with lines per request.
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

std::string metricText(Metric metric) {
  switch (metric) {
    case Metric::kHttp5xxRatio:
      return "5xx ratio";
    case Metric::kHttp2xxRatio:
      return "2xx ratio";
    case Metric::kErrorLogPerRequest:
      return "error-log lines per request";
    case Metric::kLatency:
      return "latency (us)";
    case Metric::kCpu:
      return "CPU (ms/s)";
    case Metric::kMemory:
      return "memory (bytes)";
    case Metric::kRestarts:
      return "unit restarts";
  }
  return "?";
}

CheckResult baseResult(const CheckConfig& check, std::uint32_t look, std::uint32_t looks) {
  CheckResult result;
  result.name = check.name;
  result.metric = check.metric;
  result.test = check.test;
  result.alternative = check.alternative;
  result.tier = check.tier;
  result.look = look;
  result.looks = looks;
  result.alphaAtLook = kNaN;
  result.effectLow = result.effectHigh = kNaN;
  result.ratioLow = result.ratioHigh = kNaN;
  return result;
}

std::string lookText(std::uint32_t look, std::uint32_t looks) {
  return " (look " + std::to_string(look) + "/" + std::to_string(looks) + ")";
}

CheckResult restartsCheck(const CheckConfig& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks) {
  CheckResult result = baseResult(check, look, looks);
  result.canaryCount = canary.windows;
  result.baselineCount = comparison.windows;
  result.canaryEvents = canary.restarts;
  result.baselineEvents = comparison.restarts;
  std::uint64_t need = std::max<std::uint64_t>(check.minData, 1);
  if (canary.windows < need) {
    result.verdict = Verdict::kNotEnoughData;
    result.explanation = "unit restarts: not enough data: " + std::to_string(canary.windows) +
                         " canary windows, minimum " + std::to_string(need) +
                         lookText(look, looks) + ": not_enough_data";
    return result;
  }
  double hostsC = static_cast<double>(std::max<std::uint64_t>(canary.hostCount, 1));
  double hostsB = static_cast<double>(std::max<std::uint64_t>(comparison.hostCount, 1));
  result.statistic = static_cast<double>(canary.restarts);
  result.canaryValue = static_cast<double>(canary.restarts) / hostsC;
  result.baselineValue = hasComparison ? static_cast<double>(comparison.restarts) / hostsB : 0.0;
  result.effectName = "restarts per host difference";
  result.effect = result.canaryValue - result.baselineValue;
  result.ratioName = "restarts per host ratio";
  result.ratio = result.baselineValue > 0 ? result.canaryValue / result.baselineValue
                 : result.canaryValue > 0 ? std::numeric_limits<double>::infinity()
                                          : kNaN;
  bool fail = canary.restarts > 0 && result.canaryValue > result.baselineValue;
  result.significant = result.effectLargeEnough = fail;
  result.verdict = fail ? Verdict::kFail : Verdict::kPass;
  result.explanation = "unit restarts: canary group " + std::to_string(canary.restarts) + " over " +
                       std::to_string(canary.hostCount) + " hosts, comparison " +
                       std::to_string(comparison.restarts) + " over " +
                       std::to_string(comparison.hostCount) + " hosts" + lookText(look, looks) +
                       (fail ? ": fail" : ": pass");
  return result;
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
    double cpuMillis = window.cpuMicros != 0 ? static_cast<double>(window.cpuMicros) / 1000.0
                                             : static_cast<double>(window.cpuMillis);
    group.cpuMillisPerSecond.push_back(cpuMillis / seconds);
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

stats::CheckSpec toStatsSpec(const CheckConfig& check) {
  stats::CheckSpec spec;
  spec.name = check.name;
  spec.metric = metricText(check.metric);
  switch (check.test) {
    case Test::kFisher:
      spec.test = stats::CheckTest::kFisher;
      break;
    case Test::kMannWhitney:
      spec.test = stats::CheckTest::kMannWhitney;
      break;
    case Test::kThresholdMin:
      spec.test = stats::CheckTest::kThresholdMin;
      break;
    case Test::kThresholdMax:
    case Test::kRestarts:
      spec.test = stats::CheckTest::kThresholdMax;
      break;
  }
  spec.alternative = toStats(check.alternative);
  spec.alpha = check.alpha;
  if (check.minEffect > 0) spec.minimumAbsoluteEffect = check.minEffect;
  if (check.minRatio > 0) spec.minimumRelativeEffect = check.minRatio;
  spec.minimumPerSide = check.minData;
  spec.threshold = check.threshold;
  switch (check.tier) {
    case Tier::kCritical:
      spec.tier = stats::Tier::kCritical;
      break;
    case Tier::kWarn:
      spec.tier = stats::Tier::kWarn;
      break;
    case Tier::kDebug:
      spec.tier = stats::Tier::kDebug;
      break;
  }
  return spec;
}

Status validateCheck(const CheckConfig& check) {
  if (check.test == Test::kRestarts) return {};
  return stats::validateCheckSpec(toStatsSpec(check));
}

Result<const stats::SequentialPlan*> PlanCache::get(const CheckConfig& check, std::uint32_t looks) {
  bool twoSided = check.alternative == Alternative::kTwoSided;
  auto key = std::make_tuple(check.alpha, looks, twoSided);
  auto found = plans_.find(key);
  if (found == plans_.end()) {
    auto plan = stats::SequentialPlan::make(check.alpha, static_cast<int>(looks), twoSided);
    if (!plan) return plan.error();
    found = plans_.emplace(key, std::move(*plan)).first;
  }
  return &found->second;
}

CheckResult evaluateCheck(const CheckConfig& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks, PlanCache& plans) {
  if (check.test == Test::kRestarts) {
    return restartsCheck(check, canary, comparison, hasComparison, look, looks);
  }
  bool comparative = check.test == Test::kFisher || check.test == Test::kMannWhitney;
  bool counts = check.test != Test::kMannWhitney;
  if (comparative && !hasComparison) {
    CheckResult result = baseResult(check, look, looks);
    if (counts) {
      Counts c = countsOf(check.metric, canary);
      result.canaryCount = c.total;
      result.canaryEvents = c.events;
    } else {
      result.canaryCount = samplesOf(check.metric, canary).size();
    }
    result.verdict = Verdict::kSkipped;
    result.explanation = metricText(check.metric) +
                         ": skipped, no comparison host is left on the old release" +
                         lookText(look, looks);
    return result;
  }
  stats::CheckInput input;
  input.look = static_cast<int>(look);
  input.plannedLooks = static_cast<int>(looks);
  if (counts) {
    Counts c = countsOf(check.metric, canary);
    Counts b = countsOf(check.metric, comparison);
    input.data = stats::CountsData{c.events, c.total, b.events, b.total};
  } else {
    input.data =
        stats::SamplesData{samplesOf(check.metric, canary), samplesOf(check.metric, comparison)};
  }
  auto plan = plans.get(check, looks);
  Result<stats::CheckResult> evaluated =
      plan ? stats::evaluateCheck(toStatsSpec(check), input, **plan)
           : Result<stats::CheckResult>(plan.error());
  if (!evaluated) {
    CheckResult result = baseResult(check, look, looks);
    result.verdict = Verdict::kNotEnoughData;
    result.explanation = metricText(check.metric) +
                         ": could not be evaluated: " + evaluated.error().message +
                         lookText(look, looks);
    return result;
  }
  const stats::CheckResult& r = *evaluated;
  CheckResult result = baseResult(check, look, looks);
  switch (r.verdict) {
    case stats::Verdict::kPass:
      result.verdict = Verdict::kPass;
      break;
    case stats::Verdict::kFail:
      result.verdict = Verdict::kFail;
      break;
    case stats::Verdict::kNotEnoughData:
      result.verdict = Verdict::kNotEnoughData;
      break;
  }
  result.statistic = r.statistic;
  result.pValue = r.pValue;
  result.alphaAtLook = r.alphaAtLook;
  result.significant = r.significant;
  result.effectLargeEnough = r.effectLargeEnough;
  result.canaryValue = r.canaryValue;
  result.baselineValue = r.baselineValue;
  result.effectName = r.absoluteEffectName;
  result.effect = r.absoluteEffect.estimate;
  result.effectLow = r.absoluteEffect.low;
  result.effectHigh = r.absoluteEffect.high;
  result.ratioName = r.relativeEffectName;
  result.ratio = r.relativeEffect.estimate;
  result.ratioLow = r.relativeEffect.low;
  result.ratioHigh = r.relativeEffect.high;
  result.canaryCount = r.canaryCount;
  result.baselineCount = r.baselineCount;
  result.canaryEvents = r.canaryEvents;
  result.baselineEvents = r.baselineEvents;
  result.explanation = r.explanation;
  // A static threshold has no significance test to correct for looking every window: before the
  // last look it may fail a step only on a large sample; otherwise the last look decides.
  bool threshold = check.test == Test::kThresholdMax || check.test == Test::kThresholdMin;
  if (threshold && result.verdict == Verdict::kFail && look < looks &&
      result.canaryCount < kThresholdEarlyRequests) {
    result.verdict = Verdict::kNotEnoughData;
    result.explanation += " (interim: before the last look a static threshold fails only on " +
                          std::to_string(kThresholdEarlyRequests) + " requests or more)";
  }
  return result;
}

}  // namespace rollgate::rollout
