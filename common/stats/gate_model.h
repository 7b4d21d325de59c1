// The gate model: what a check measures (Metric, with one table saying each metric's name, what
// it reads as in an explanation, its unit and whether it is counted or sampled), how it is tested
// (Test), how much a failure matters (Tier), what it concluded (Verdict), a check's specification
// (CheckSpec) and its result at one look (CheckResult). Every layer (the statistics, the rollout
// engine, storage, the admin API and the CLI) passes these types on; adding a metric, a test or a
// tier touches this file, its name tables in gate_model.cpp and, for a metric, the code that reads
// it from telemetry (coordinator/rollout/gates.cpp).
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/stats/alternative.h"
#include "common/stats/effect.h"
#include "common/stats/sequential.h"

namespace rollgate::stats {

// What a check measures. Counts are summed over a group's windows; samples are pooled.
enum class Metric : std::uint8_t {
  kHttp5xxRatio,        // 5xx responses / requests
  kHttp2xxRatio,        // 2xx responses / requests
  kErrorLogPerRequest,  // error-log lines / (requests + error-log lines)
  kLatency,             // raw latency samples, microseconds
  kCpu,                 // per window: CPU milliseconds per second of window
  kMemory,              // per window: resident memory, bytes
  kRestarts,            // unit restarts (systemd NRestarts increments)
  // A PromQL query the coordinator runs against the team's Prometheus for every canary and
  // comparison host at every look (CheckSpec::query); one value per host and look, pooled over
  // the looks so far (docs/prometheus.md).
  kPrometheus,
  // From the application's Sentry SDK through the agent's endpoint (agent/sentry):
  kExceptionsPerRequest,  // error events / (requests + error events)
  kCrashedSessions,       // crashed sessions / sessions started (1 - crash-free sessions)
  kNewErrorTypes,         // exception fingerprints (type + top in-app frame) per side
};

// How a metric's data comes: events out of a total, a sample of values, or restarts per host.
// kFingerprints: exception types with their counts on each side (new_error_types).
enum class MetricKind : std::uint8_t { kCounts, kSamples, kRestarts, kFingerprints };

struct MetricInfo {
  Metric metric;
  std::string_view name;  // in config files and JSON: "http_5xx_ratio"
  std::string_view text;  // in explanations: "5xx ratio"
  std::string_view unit;  // "ratio", "us", "ms/s", "bytes", "restarts"; "" (prometheus: its own)
  MetricKind kind;
};

// Every metric, in enum order.
std::span<const MetricInfo> allMetrics();
const MetricInfo& metricInfo(Metric metric);

enum class Test : std::uint8_t {
  kFisher,        // Fisher's exact test on a count metric, canary versus comparison group
  kMannWhitney,   // Mann-Whitney U on a sample metric
  kThresholdMax,  // static: the canary's ratio (or quantile) must stay at most `threshold`
  kThresholdMin,  // static: the canary's ratio (or quantile) must be at least `threshold`
  kRestarts,      // the canary group restarts more (per host) than the comparison group: fail
  // Fisher's exact test on the latency samples above the `quantile` of both groups pooled: the
  // canary's slow tail grew while its median may not have (gate.h says why it is exact).
  kTailFisher,
  // An exception fingerprint seen on the canary group at least `minData` times and never on the
  // comparison group fails the check, when the comparison group's share of the requests makes
  // seeing none of them there unlikely (p = canary share ^ count <= alpha; gates.cpp).
  kNewTypes,
};

// Whether `test` applies to `metric`: Fisher and thresholds to counts, Mann-Whitney to samples,
// the tail test to latency (the only per-request sample), the restarts test to restarts only, the
// new-types test to new_error_types only; a Prometheus query takes Mann-Whitney and the thresholds
// (on the canary's `quantile`).
bool testApplies(Test test, Metric metric);

enum class Tier : std::uint8_t { kCritical, kWarn, kDebug };

enum class Verdict : std::uint8_t {
  kPass,
  kFail,
  kNotEnoughData,  // never a pass
  kSkipped,        // a comparative check in a step with no comparison host left
};

// One name table per enum; parse* fail with "expected a <what> (one of a, b, c), got \"x\"".
std::string_view toString(Metric metric);
std::string_view toString(Test test);
std::string_view toString(Tier tier);
std::string_view toString(Verdict verdict);
Result<Metric> parseMetric(std::string_view text);
Result<Test> parseTest(std::string_view text);
Result<Tier> parseTier(std::string_view text);
Result<Verdict> parseVerdict(std::string_view text);

struct CheckSpec {
  std::string name;  // e.g. "http_5xx"
  Metric metric = Metric::kHttp5xxRatio;
  Test test = Test::kFisher;
  Alternative alternative = Alternative::kGreater;  // "greater" = canary worse for error rates
  double alpha = 0.01;  // the false-alarm rate of the whole analysis window, over all its looks
  SpendingFunction spending = SpendingFunction::kObrienFleming;
  // The check passes, even when significant, unless the effect in the tested direction reaches
  // every minimum given; 0 disables a minimum. Counts: minEffect = difference of rates (0.001 =
  // 0.1 percentage points), minRatio = ratio of rates. Samples: minEffect = Hodges-Lehmann shift
  // in the metric's unit, minRatio = ratio of medians. Tail (tail_fisher): minEffect = canary's
  // `quantile` minus the comparison's in the metric's unit, minRatio = ratio of the fractions of
  // samples above the pooled `quantile`. A ratio minimum is >= 1 (1.5 = 50% more)
  // and applies as canary/baseline for "greater", baseline/canary for "less", either way for
  // "two-sided".
  double minEffect = 0.0;
  double minRatio = 0.0;
  // Below this much data on either side the verdict is not_enough_data (never a pass): requests
  // for ratio metrics, samples for latency, windows for CPU, memory and restarts. Static
  // thresholds look at the canary only.
  std::uint64_t minData = 0;
  // Static checks: the limit on the canary's rate (counts) or on its `quantile` (samples).
  // tail_fisher: the quantile that defines "slow" (0.99 = p99), strictly inside (0, 1).
  double threshold = 0.0;
  double quantile = 0.5;
  double confidence = 0.95;  // level of the effect-size confidence intervals
  Tier tier = Tier::kCritical;
  // Metric::kPrometheus only: the PromQL template, with {{host}}, {{address}}, {{release}} and
  // {{service}} replaced per host (coordinator/rollout/promql_template.h). Empty otherwise.
  std::string query;
  bool operator==(const CheckSpec&) const = default;
};

// One host's values behind a Prometheus check at a look: the query as sent and its value at
// every look so far (NaN: no data at that look), with the latest problem (no data, unreachable).
struct HostValues {
  std::string host;
  bool canary = false;  // canary side, or comparison side
  std::string query;    // as sent to Prometheus
  std::vector<double> values;
  std::string problem;  // empty when its latest query gave a value
  bool operator==(const HostValues&) const = default;
};

// An exception type the canary group raised and the comparison group did not (new_types).
struct ErrorTypeFinding {
  std::string type;           // "KeyError"
  std::string frame;          // top in-app frame, "app.orders.load"
  std::string sampleMessage;  // one event's message
  std::uint64_t canaryCount = 0;    // error events with this fingerprint on each side
  std::uint64_t baselineCount = 0;
  bool operator==(const ErrorTypeFinding&) const = default;
};

inline constexpr std::size_t kMaxErrorTypeFindings = 10;

struct CheckResult {
  std::string name;
  Metric metric = Metric::kHttp5xxRatio;
  Test test = Test::kFisher;
  Alternative alternative = Alternative::kGreater;
  Tier tier = Tier::kCritical;
  Verdict verdict = Verdict::kNotEnoughData;
  std::uint32_t look = 0;   // 1-based
  std::uint32_t looks = 0;  // the analysis window's planned looks
  // Fisher and tail_fisher: the odds ratio; Mann-Whitney: U of the canary sample; thresholds: the
  // canary's value; restarts: the canary group's restarts. NaN where undefined.
  double statistic = 0.0;
  double pValue = 1.0;       // 1 for checks without a test
  double alphaAtLook = 0.0;  // the nominal level of this look (NaN for checks without a test)
  bool significant = false;
  bool effectLargeEnough = false;
  // Rate, median (metric unit), the `quantile` (tail_fisher), thresholded value or restarts/host.
  double canaryValue = 0.0;
  double baselineValue = 0.0;  // the same for the comparison group (NaN for thresholds)
  // Counts: rate difference and rate ratio; samples: Hodges-Lehmann shift and median ratio (the
  // ratio has no interval); tail_fisher: quantile difference (no interval) and the ratio of the
  // fractions above the pooled quantile; restarts: restarts per host difference and ratio.
  // Bounds are NaN where there is no interval.
  std::string effectName;
  EffectEstimate effect;
  std::string ratioName;
  EffectEstimate ratio;
  std::uint64_t canaryCount = 0;  // requests, samples or windows on each side
  std::uint64_t baselineCount = 0;
  std::uint64_t canaryEvents = 0;  // count metrics; tail_fisher: samples above the pooled quantile
  std::uint64_t baselineEvents = 0;
  std::string explanation;  // one line naming the numbers, ending in ": <verdict>"
  std::vector<HostValues> hostValues;  // Metric::kPrometheus: each host's query and values
  // new_types: the canary's fingerprints at or above the minimum count that the comparison group
  // never had, most frequent first (at most kMaxErrorTypeFindings).
  std::vector<ErrorTypeFinding> errorTypes;
  bool operator==(const CheckResult&) const = default;
};

// A result that names the check and the look and has no numbers yet: p-value 1, verdict
// not_enough_data, and NaN for the statistic, alpha, values and effects.
CheckResult unevaluatedResult(const CheckSpec& spec, std::uint32_t look, std::uint32_t looks);

}  // namespace rollgate::stats
