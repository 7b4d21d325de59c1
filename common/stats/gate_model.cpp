#include "common/stats/gate_model.h"

#include <array>
#include <limits>

namespace rollgate::stats {
namespace {

template <typename E>
struct Name {
  E value;
  std::string_view name;
};

constexpr std::array kMetrics{
    MetricInfo{Metric::kHttp5xxRatio, "http_5xx_ratio", "5xx ratio", "ratio", MetricKind::kCounts},
    MetricInfo{Metric::kHttp2xxRatio, "http_2xx_ratio", "2xx ratio", "ratio", MetricKind::kCounts},
    MetricInfo{Metric::kErrorLogPerRequest, "error_log_per_request", "error-log lines per request",
               "ratio", MetricKind::kCounts},
    MetricInfo{Metric::kLatency, "latency", "latency (us)", "us", MetricKind::kSamples},
    MetricInfo{Metric::kCpu, "cpu", "CPU (ms/s)", "ms/s", MetricKind::kSamples},
    MetricInfo{Metric::kMemory, "memory", "memory (bytes)", "bytes", MetricKind::kSamples},
    MetricInfo{Metric::kRestarts, "restarts", "unit restarts", "restarts", MetricKind::kRestarts},
    MetricInfo{Metric::kPrometheus, "prometheus", "Prometheus query", "", MetricKind::kSamples},
    MetricInfo{Metric::kExceptionsPerRequest, "exceptions_per_request", "exceptions per request",
               "ratio", MetricKind::kCounts},
    MetricInfo{Metric::kCrashedSessions, "crashed_sessions", "crashed sessions", "ratio",
               MetricKind::kCounts},
    MetricInfo{Metric::kNewErrorTypes, "new_error_types", "new error types", "types",
               MetricKind::kFingerprints},
};

constexpr Name<Test> kTests[] = {{Test::kFisher, "fisher"},
                                 {Test::kMannWhitney, "mann_whitney"},
                                 {Test::kThresholdMax, "threshold_max"},
                                 {Test::kThresholdMin, "threshold_min"},
                                 {Test::kRestarts, "restarts"},
                                 {Test::kTailFisher, "tail_fisher"},
                                 {Test::kNewTypes, "new_types"}};
constexpr Name<Tier> kTiers[] = {
    {Tier::kCritical, "critical"}, {Tier::kWarn, "warn"}, {Tier::kDebug, "debug"}};
constexpr Name<Verdict> kVerdicts[] = {{Verdict::kPass, "pass"},
                                       {Verdict::kFail, "fail"},
                                       {Verdict::kNotEnoughData, "not_enough_data"},
                                       {Verdict::kSkipped, "skipped"}};

template <typename E, std::size_t N>
std::string_view nameOf(const Name<E> (&names)[N], E value) {
  for (const auto& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <typename E, std::size_t N>
Result<E> parseName(const Name<E> (&names)[N], std::string_view text, std::string_view what) {
  std::string choices;
  for (const auto& entry : names) {
    if (entry.name == text) return entry.value;
    choices += (choices.empty() ? "" : ", ") + std::string(entry.name);
  }
  return makeError("expected a " + std::string(what) + " (one of " + choices + "), got \"" +
                   std::string(text) + "\"");
}

}  // namespace

std::span<const MetricInfo> allMetrics() { return kMetrics; }

const MetricInfo& metricInfo(Metric metric) {
  for (const auto& info : kMetrics) {
    if (info.metric == metric) return info;
  }
  return kMetrics.front();  // unreachable for a valid enum value
}

bool testApplies(Test test, Metric metric) {
  switch (test) {
    case Test::kFisher:
      return metricInfo(metric).kind == MetricKind::kCounts;
    case Test::kThresholdMax:
    case Test::kThresholdMin:
      return metricInfo(metric).kind == MetricKind::kCounts || metric == Metric::kPrometheus;
    case Test::kMannWhitney:
      return metricInfo(metric).kind == MetricKind::kSamples;
    case Test::kRestarts:
      return metric == Metric::kRestarts;
    case Test::kTailFisher:
      return metric == Metric::kLatency;
    case Test::kNewTypes:
      return metric == Metric::kNewErrorTypes;
  }
  return false;
}

std::string_view toString(Metric metric) { return metricInfo(metric).name; }
std::string_view toString(Test test) { return nameOf(kTests, test); }
std::string_view toString(Tier tier) { return nameOf(kTiers, tier); }
std::string_view toString(Verdict verdict) { return nameOf(kVerdicts, verdict); }

Result<Metric> parseMetric(std::string_view text) {
  std::string choices;
  for (const auto& info : kMetrics) {
    if (info.name == text) return info.metric;
    choices += (choices.empty() ? "" : ", ") + std::string(info.name);
  }
  return makeError("expected a metric (one of " + choices + "), got \"" + std::string(text) + "\"");
}
Result<Test> parseTest(std::string_view text) { return parseName(kTests, text, "test"); }
Result<Tier> parseTier(std::string_view text) { return parseName(kTiers, text, "tier"); }
Result<Verdict> parseVerdict(std::string_view text) {
  return parseName(kVerdicts, text, "verdict");
}

CheckResult unevaluatedResult(const CheckSpec& spec, std::uint32_t look, std::uint32_t looks) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  CheckResult result;
  result.name = spec.name;
  result.metric = spec.metric;
  result.test = spec.test;
  result.alternative = spec.alternative;
  result.tier = spec.tier;
  result.look = look;
  result.looks = looks;
  result.statistic = kNaN;
  result.pValue = 1.0;
  result.alphaAtLook = kNaN;
  result.canaryValue = kNaN;
  result.baselineValue = kNaN;
  result.effect = {kNaN, kNaN, kNaN, spec.confidence};
  result.ratio = {kNaN, kNaN, kNaN, spec.confidence};
  return result;
}

}  // namespace rollgate::stats
