// Rollout plan and gate configuration: the per-stage durations and batch sizes of a rollout and
// the list of checks its gates run. Both parse from TOML text (the CLI sends the file's text) and
// both have defaults that work with no file at all. Errors name the source, the key, what was
// expected and what was found; unknown keys are errors (a typo must not fall back to a default).
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::rollout {

// How many hosts one batch of a stage takes: a number of hosts or a percentage of the stage's
// hosts (rounded up, at least one host).
struct BatchSize {
  enum class Kind : std::uint8_t { kHosts, kPercent };
  Kind kind = Kind::kPercent;
  std::uint32_t value = 100;

  // Hosts per batch for a stage of `stageHosts` hosts (at least 1 when stageHosts > 0).
  std::size_t hostsPerBatch(std::size_t stageHosts) const;
  std::string toString() const;  // "2" or "25%"
  bool operator==(const BatchSize&) const = default;
};

struct StageConfig {
  std::string name;  // canary, cluster, region, fleet
  std::uint64_t installTimeoutSeconds = 600;
  std::uint64_t warmupSeconds = 60;
  std::uint64_t analysisSeconds = 300;
  BatchSize batch;              // unused by canary (one host)
  bool baselineRestart = true;  // canary only: restart the baseline when the canary activates
  bool operator==(const StageConfig&) const = default;
};

struct PlanConfig {
  // Length of one telemetry window (the agents' setting); analysis looks are this far apart.
  std::uint64_t windowSeconds = 10;
  // A stage host that sends no telemetry window for this long during warm-up or analysis has
  // gone silent, and its stage fails.
  std::uint64_t silenceSeconds = 35;
  // How long after a look is due its windows may still arrive before it is evaluated.
  std::uint64_t reportGraceSeconds = 3;
  StageConfig canary{"canary", 600, 60, 300, BatchSize{BatchSize::Kind::kHosts, 1}, true};
  StageConfig cluster{"cluster", 600, 60, 300, BatchSize{BatchSize::Kind::kPercent, 100}, false};
  StageConfig region{"region", 600, 60, 300, BatchSize{BatchSize::Kind::kPercent, 50}, false};
  StageConfig fleet{"fleet", 600, 60, 300, BatchSize{BatchSize::Kind::kPercent, 50}, false};

  const StageConfig& stage(std::string_view name) const;  // Requires: a known stage name
  bool operator==(const PlanConfig&) const = default;
};

// ---- gates

// What a check measures. Counts are summed over a group's windows; samples are pooled.
enum class Metric : std::uint8_t {
  kHttp5xxRatio,        // 5xx responses / requests
  kHttp2xxRatio,        // 2xx responses / requests
  kErrorLogPerRequest,  // error-log lines / (requests + error-log lines)
  kLatency,             // raw latency samples, microseconds
  kCpu,                 // per window: CPU milliseconds per second of window
  kMemory,              // per window: resident memory, bytes
  kRestarts,            // unit restarts (systemd NRestarts increments)
};

enum class Test : std::uint8_t {
  kFisher,        // Fisher's exact test on a count metric, canary versus comparison group
  kMannWhitney,   // Mann-Whitney U on a sample metric
  kThresholdMax,  // static: the canary's ratio must stay below `threshold`
  kThresholdMin,  // static: the canary's ratio must be at least `threshold`
  kRestarts,      // the canary group restarts more (per host) than the comparison group: fail
};

enum class Alternative : std::uint8_t { kGreater, kLess, kTwoSided };

enum class Tier : std::uint8_t { kCritical, kWarn, kDebug };

struct CheckConfig {
  std::string name;
  Metric metric = Metric::kHttp5xxRatio;
  Test test = Test::kFisher;
  Alternative alternative = Alternative::kGreater;
  double alpha = 0.01;  // false-alarm rate of the whole analysis window, over all its looks
  // The check passes, even when significant, unless the effect in the tested direction reaches
  // every minimum given (as common/stats/gate.h defines them): absolute = difference of rates
  // (0.001 = 0.1 points) or Hodges-Lehmann shift in the metric's unit; ratio = ratio of rates or
  // of medians, >= 1 (1.5 = 50% more; for "less" the inverse ratio). 0 disables a minimum.
  double minEffect = 0.0;
  double minRatio = 0.0;
  // Below this much data on either side the verdict is "not enough data" (never a pass):
  // requests for ratio metrics, samples for latency, windows for CPU, memory and restarts.
  std::uint64_t minData = 0;
  double threshold = 0.0;  // kThresholdMax / kThresholdMin
  Tier tier = Tier::kCritical;
  bool operator==(const CheckConfig&) const = default;
};

struct GatesConfig {
  std::vector<CheckConfig> checks;
  bool operator==(const GatesConfig&) const = default;
};

std::string_view metricName(Metric metric);
std::string_view testName(Test test);
std::string_view alternativeName(Alternative alternative);
std::string_view tierName(Tier tier);
Result<Metric> parseMetric(std::string_view text);
Result<Test> parseTest(std::string_view text);
Result<Alternative> parseAlternative(std::string_view text);
Result<Tier> parseTier(std::string_view text);
// "2" -> 2 hosts, "25%" -> 25 percent (1-100).
Result<BatchSize> parseBatch(std::string_view text);

PlanConfig defaultPlanConfig();
// The default cpu and memory checks' absolute floors (min_effect), besides their 1.2 ratio.
inline constexpr double kCpuFloorMillisPerSecond = 20;
inline constexpr double kMemoryFloorBytes = 16.0 * 1024 * 1024;
// The default checks: Fisher on the 5xx ratio (critical) and on error-log lines per request
// (warn); Mann-Whitney on latency (critical), CPU and memory (warn); 5xx below 0.5% and 2xx at
// least 90% (critical); restarts beyond the comparison group's (critical).
GatesConfig defaultGatesConfig();

// Parses a plan. Empty text gives the defaults; keys present override them.
//   window_seconds = 10          silence_seconds = 35          report_grace_seconds = 3
//   [canary]  install_timeout_seconds, warmup_seconds, analysis_seconds, baseline_restart
//   [cluster] / [region] / [fleet]: the same plus batch = 2 | "25%"
Result<PlanConfig> parsePlanConfig(const std::string& tomlText, const std::string& sourceName);

// Parses gates. Empty text (or no [[check]]) gives the defaults; a file with checks replaces
// them entirely.
//   [[check]]
//   name = "latency"  metric = "latency"  test = "mann_whitney"  alternative = "greater"
//   alpha = 0.01  min_effect = 5000  min_ratio = 1.05  min_data = 50
//   threshold = 0.005  tier = "critical"
Result<GatesConfig> parseGatesConfig(const std::string& tomlText, const std::string& sourceName);

}  // namespace rollgate::rollout
