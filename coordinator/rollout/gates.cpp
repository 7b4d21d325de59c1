#include "coordinator/rollout/gates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

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
    case Metric::kExceptionsPerRequest:
      // As error-log lines: events out of (requests + events) keeps a valid 2x2 table.
      return {group.sentryErrors, group.sentryRequests + group.sentryErrors};
    case Metric::kCrashedSessions:
      // A session that started before the analysis window may crash inside it.
      return {std::min(group.sentryCrashed, group.sentrySessions), group.sentrySessions};
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
    case Metric::kPrometheus:
      return group.prometheusValues;
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

bool isSentryMetric(Metric metric) {
  return metric == Metric::kExceptionsPerRequest || metric == Metric::kCrashedSessions ||
         metric == Metric::kNewErrorTypes;
}

// A Sentry check where a side has no Sentry counts: skipped when neither has (no endpoint for
// this service), not enough data when one side lacks them.
std::optional<CheckResult> sentryPresence(const CheckSpec& check, const GroupData& canary,
                                          const GroupData& comparison, bool hasComparison,
                                          std::uint32_t look, std::uint32_t looks) {
  if (!isSentryMetric(check.metric)) return std::nullopt;
  bool canaryHas = canary.sentryWindows > 0;
  bool comparisonHas = comparison.sentryWindows > 0 || !hasComparison;
  if (canaryHas && comparisonHas) return std::nullopt;
  CheckResult result = stats::unevaluatedResult(check, look, looks);
  if (!canaryHas && (!comparisonHas || comparison.sentryWindows == 0)) {
    result.verdict = Verdict::kSkipped;
    result.explanation = metricText(check.metric) +
                         ": skipped, no Sentry counts from this service (no [service.sentry] "
                         "endpoint on its hosts)" + lookText(look, looks);
  } else {
    result.verdict = Verdict::kNotEnoughData;
    result.explanation = metricText(check.metric) + ": not enough data: Sentry counts from " +
                         std::to_string(canary.sentryWindows) + " canary and " +
                         std::to_string(comparison.sentryWindows) + " comparison windows" +
                         lookText(look, looks) + ": not_enough_data";
  }
  return result;
}

std::string formatShare(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

std::string quotedMessage(const std::string& message) {
  if (message.empty()) return "";
  std::string text = message.size() > 80 ? message.substr(0, 77) + "..." : message;
  return ", e.g. \"" + text + "\"";
}

CheckResult newTypesCheck(const CheckSpec& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks, PlanCache& plans) {
  CheckResult result = stats::unevaluatedResult(check, look, looks);
  result.canaryCount = canary.sentryErrors;
  result.baselineCount = comparison.sentryErrors;
  if (!hasComparison) {
    result.verdict = Verdict::kSkipped;
    result.explanation = metricText(check.metric) +
                         ": skipped, no comparison host is left on the old release" +
                         lookText(look, looks);
    return result;
  }
  const std::uint64_t minimum = std::max<std::uint64_t>(check.minData, 1);
  // Under "the type is as frequent on both sides", each of its n events lands on the canary with
  // the canary's share of the exposure (requests, or windows without requests), so all n on the
  // canary has probability share^n: a type is new only when that is at most this look's nominal
  // alpha (the repeated-looks plan, as for the other tests), so that a comparison group that
  // simply saw less (fewer hosts, an early look) does not raise it.
  auto plan = plans.get(check, looks);
  const double alpha = plan ? (*plan)->nominalAlpha(static_cast<int>(look)) : check.alpha;
  bool byRequests = canary.sentryRequests > 0 && comparison.sentryRequests > 0;
  double exposureC = static_cast<double>(byRequests ? canary.sentryRequests : canary.sentryWindows);
  double exposureB =
      static_cast<double>(byRequests ? comparison.sentryRequests : comparison.sentryWindows);
  double share = exposureC / (exposureC + exposureB);
  double smallestP = 1.0;
  std::vector<stats::ErrorTypeFinding> found;
  for (const auto& [key, print] : canary.fingerprints) {
    if (print.count < minimum) continue;
    auto other = comparison.fingerprints.find(key);
    std::uint64_t baseline = other == comparison.fingerprints.end() ? 0 : other->second.count;
    if (baseline > 0) continue;
    double p = std::pow(share, static_cast<double>(print.count));
    if (p > alpha) continue;
    smallestP = std::min(smallestP, p);
    found.push_back(stats::ErrorTypeFinding{key.first, key.second, print.sampleMessage, print.count, 0});
  }
  result.pValue = smallestP;
  result.alphaAtLook = alpha;
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.canaryCount != b.canaryCount ? a.canaryCount > b.canaryCount : a.type < b.type;
  });
  std::uint64_t newEvents = 0;
  for (const auto& f : found) newEvents += f.canaryCount;
  bool fail = !found.empty();
  result.statistic = static_cast<double>(found.size());
  result.canaryValue = static_cast<double>(found.size());
  result.baselineValue = 0;
  result.canaryEvents = newEvents;
  result.baselineEvents = 0;
  result.significant = result.effectLargeEnough = fail;
  result.verdict = fail ? Verdict::kFail : Verdict::kPass;
  std::string text = metricText(check.metric) + ": ";
  if (!fail) {
    text += "none on the canary group with at least " + std::to_string(minimum) +
            " events that the comparison group did not have, beyond what its share of the " +
            (byRequests ? std::string("requests") : std::string("windows")) + " (" +
            formatShare(share) + ") explains at alpha " + formatShare(alpha) + " (" +
            std::to_string(canary.fingerprints.size()) + " canary types, " +
            std::to_string(comparison.fingerprints.size()) + " comparison types)";
  } else {
    text += std::to_string(found.size()) + " on the canary group, never on the comparison group:";
    for (std::size_t i = 0; i < found.size() && i < 3; ++i) {
      const auto& f = found[i];
      text += std::string(i == 0 ? " " : "; ") + f.type + " at " +
              (f.frame.empty() ? "(no in-app frame)" : f.frame) + " (" +
              std::to_string(f.canaryCount) + " canary events, 0 comparison" +
              quotedMessage(f.sampleMessage) + ")";
    }
    if (found.size() > 3) text += "; and " + std::to_string(found.size() - 3) + " more";
    text += " (canary share of the " + std::string(byRequests ? "requests " : "windows ") +
            formatShare(share) + ", p " + formatShare(smallestP) + " <= alpha " +
            formatShare(alpha) + ")";
  }
  if (comparison.sentryFingerprintsDropped > 0) {
    text += " [the comparison group's type table overflowed " +
            std::to_string(comparison.sentryFingerprintsDropped) + " times]";
  }
  result.explanation = text + lookText(look, looks) + (fail ? ": fail" : ": pass");
  if (found.size() > stats::kMaxErrorTypeFindings) found.resize(stats::kMaxErrorTypeFindings);
  result.errorTypes = std::move(found);
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
  LatencyStratum stratum;
  stratum.begin = group.latencyMicros.size();
  for (auto micros : window.latencySampleMicros) group.latencyMicros.push_back(micros);
  stratum.end = group.latencyMicros.size();
  for (auto count : window.latencyBucketCounts) stratum.requests += count;
  // Windows without a histogram (older agents) count every request as having a latency.
  if (stratum.requests == 0) stratum.requests = window.requests;
  stratum.requests = std::max<std::uint64_t>(stratum.requests, stratum.end - stratum.begin);
  group.latencyWindows.push_back(stratum);
  double seconds = window.endMillis > window.startMillis
                       ? static_cast<double>(window.endMillis - window.startMillis) / 1000.0
                       : 0.0;
  if (seconds > 0) {
    double cpuMillis = window.cpuMicros != 0 ? static_cast<double>(window.cpuMicros) / 1000.0
                                             : static_cast<double>(window.cpuMillis);
    group.cpuMillisPerSecond.push_back(cpuMillis / seconds);
  }
  group.memoryBytes.push_back(static_cast<double>(window.memoryBytes));
  const SentryWindow& sentry = window.sentry;
  if (!sentry.enabled) return;
  group.sentryWindows += 1;
  group.sentryErrors += sentry.errors;
  group.sentryRequests += window.requests;
  group.sentrySessions += sentry.sessions;
  group.sentryCrashed += sentry.sessionsCrashed;
  group.sentryFingerprintsDropped += sentry.fingerprintsDropped;
  for (const auto& print : sentry.fingerprints) {
    auto& total = group.fingerprints[{print.type, print.frame}];
    if (total.count == 0) total.sampleMessage = print.sampleMessage;
    total.count += print.count;
  }
}

void poolLatencySamples(GroupData& group, std::size_t maxSamples) {
  std::vector<LatencyStratum> strata = group.latencyWindows;
  if (strata.empty() && !group.latencyMicros.empty()) {
    strata.push_back({0, group.latencyMicros.size(), group.latencyMicros.size()});
  }
  double fraction = 1.0;
  std::uint64_t requests = 0;
  for (const auto& s : strata) {
    if (s.end == s.begin) continue;
    fraction =
        std::min(fraction, static_cast<double>(s.end - s.begin) / static_cast<double>(s.requests));
    requests += s.requests;
  }
  if (requests == 0) return;
  fraction = std::min(fraction, static_cast<double>(maxSamples) / static_cast<double>(requests));
  std::vector<double> pooled;
  pooled.reserve(std::min<std::size_t>(group.latencyMicros.size(), maxSamples));
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&state] {  // splitmix64
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (const auto& s : strata) {
    std::size_t have = s.end - s.begin;
    auto keep = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(s.requests)));
    keep = std::min(keep, have);
    // A partial Fisher-Yates shuffle in place: the windows' ranges are disjoint and the raw
    // samples are replaced by `pooled` below, so no copy is needed.
    double* window = group.latencyMicros.data() + s.begin;
    for (std::size_t i = 0; i < keep; ++i) {
      std::size_t j = i + static_cast<std::size_t>(next() % (have - i));
      std::swap(window[i], window[j]);
      pooled.push_back(window[i]);
    }
  }
  if (pooled.size() > maxSamples) pooled.resize(maxSamples);  // rounding up in every window
  group.latencyMicros.swap(pooled);
  group.latencyWindows.clear();
}

Status validateCheck(const CheckSpec& check) {
  if (check.test == Test::kRestarts || check.test == Test::kNewTypes) return {};
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
  if (auto absent = sentryPresence(check, canary, comparison, hasComparison, look, looks)) {
    return *absent;
  }
  if (check.test == Test::kNewTypes) {
    return newTypesCheck(check, canary, comparison, hasComparison, look, looks, plans);
  }
  bool comparative = check.test == Test::kFisher || check.test == Test::kMannWhitney ||
                     check.test == Test::kTailFisher;
  bool counts = stats::metricInfo(check.metric).kind == stats::MetricKind::kCounts;
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
  // A Prometheus query has one value per host and look: its threshold is decided at the last look.
  const bool prometheus = check.metric == Metric::kPrometheus;
  if (threshold && result.verdict == Verdict::kFail && look < looks &&
      (prometheus || result.canaryCount < kThresholdEarlyRequests)) {
    result.verdict = Verdict::kNotEnoughData;
    result.explanation +=
        prometheus ? std::string(" (interim: a threshold on a Prometheus query is decided at the "
                                 "last look)")
                   : " (interim: before the last look a static threshold fails only on " +
                         std::to_string(kThresholdEarlyRequests) + " requests or more)";
  }
  return result;
}

}  // namespace rollgate::rollout
