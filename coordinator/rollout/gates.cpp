#include "coordinator/rollout/gates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rollgate::rollout {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

std::string metricText(Metric metric) { return std::string(stats::metricInfo(metric).text); }

std::string lookText(std::uint32_t look, std::uint32_t looks) {
  return " (look " + std::to_string(look) + "/" + std::to_string(looks) + ")";
}

CheckResult restartsCheck(const CheckSpec& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks) {
  CheckResult result = stats::unevaluatedResult(check, look, looks);
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
  result.effect.estimate = result.canaryValue - result.baselineValue;
  result.ratioName = "restarts per host ratio";
  result.ratio.estimate = result.baselineValue > 0 ? result.canaryValue / result.baselineValue
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

Status validateCheck(const CheckSpec& check) {
  if (check.test == Test::kRestarts) return {};
  return stats::validateCheckSpec(check);
}

Result<const stats::SequentialPlan*> PlanCache::get(const CheckSpec& check, std::uint32_t looks) {
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

CheckResult evaluateCheck(const CheckSpec& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks, PlanCache& plans) {
  if (check.test == Test::kRestarts) {
    return restartsCheck(check, canary, comparison, hasComparison, look, looks);
  }
  bool comparative = check.test == Test::kFisher || check.test == Test::kMannWhitney ||
                     check.test == Test::kTailFisher;
  bool counts = check.test != Test::kMannWhitney && check.test != Test::kTailFisher;
  if (comparative && !hasComparison) {
    CheckResult result = stats::unevaluatedResult(check, look, looks);
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
  Result<CheckResult> evaluated =
      plan ? stats::evaluateCheck(check, input, **plan) : Result<CheckResult>(plan.error());
  if (!evaluated) {
    CheckResult result = stats::unevaluatedResult(check, look, looks);
    result.verdict = Verdict::kNotEnoughData;
    result.explanation = metricText(check.metric) +
                         ": could not be evaluated: " + evaluated.error().message +
                         lookText(look, looks);
    return result;
  }
  CheckResult result = std::move(*evaluated);
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
