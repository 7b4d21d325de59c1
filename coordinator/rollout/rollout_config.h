// Rollout plan and gate configuration: the per-stage durations and batch sizes of a rollout and
// the list of checks its gates run. Both parse from TOML text (the CLI sends the file's text) and
// both have defaults that work with no file at all. Errors name the source, the key, what was
// expected and what was found; unknown keys are errors (a typo must not fall back to a default).
// Files are read with common/config's ConfigReader; checks are the gate model's CheckSpec.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/stats/gate_model.h"

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
  // Load balancer weight (0..256) the stage's targets hold during warm-up and analysis, so that
  // a canary on a big pool takes a chosen share of traffic; -1 (the default): unchanged.
  std::int64_t weight = -1;
  bool operator==(const StageConfig&) const = default;
};

struct PlanConfig {
  // Length of one telemetry window: the coordinator's ([coordinator] window_seconds, which the
  // agents cut); a plan that names another is refused. Analysis looks are this far apart.
  std::uint64_t windowSeconds = 10;
  // A stage host that sends no telemetry window for this long during warm-up or analysis has
  // gone silent, and its stage fails.
  std::uint64_t silenceSeconds = 35;
  // How long after a look is due its windows may still arrive before it is evaluated.
  std::uint64_t reportGraceSeconds = 3;
  // A rollback that has not reached every host it sent to after this long ends the rollout
  // rolled_back_incomplete (the hosts still out are switched back when they return).
  std::uint64_t rollbackTimeoutSeconds = 600;
  StageConfig canary{"canary", 600, 60, 300, BatchSize{BatchSize::Kind::kHosts, 1}, true};
  StageConfig cluster{"cluster", 600, 60, 300, BatchSize{BatchSize::Kind::kPercent, 100}, false};
  StageConfig region{"region", 600, 60, 300, BatchSize{BatchSize::Kind::kPercent, 50}, false};
  StageConfig fleet{"fleet", 600, 60, 300, BatchSize{BatchSize::Kind::kPercent, 50}, false};

  const StageConfig& stage(std::string_view name) const;  // Requires: a known stage name
  bool operator==(const PlanConfig&) const = default;
};

// ---- gates

// The checks a rollout's gates run, in the gate model's own types (common/stats/gate_model.h).
using stats::Alternative;
using stats::CheckResult;
using stats::CheckSpec;
using stats::Metric;
using stats::Test;
using stats::Tier;
using stats::Verdict;

struct GatesConfig {
  std::vector<CheckSpec> checks;
  bool operator==(const GatesConfig&) const = default;
};

// "2" -> 2 hosts, "25%" -> 25 percent (1-100).
Result<BatchSize> parseBatch(std::string_view text);

// The telemetry window when coordinator.toml sets none ([coordinator] window_seconds).
inline constexpr std::uint64_t kDefaultWindowSeconds = 10;
// The default plan for a coordinator whose telemetry window is `windowSeconds`.
PlanConfig defaultPlanConfig(std::uint64_t windowSeconds = kDefaultWindowSeconds);
// The default cpu and memory checks' absolute floors (min_effect), besides their 1.2 ratio.
inline constexpr double kCpuFloorMillisPerSecond = 20;
inline constexpr double kMemoryFloorBytes = 16.0 * 1024 * 1024;
// The default checks: Fisher on the 5xx ratio (critical) and on error-log lines per request
// (warn); Mann-Whitney on latency (critical), CPU and memory (warn); 5xx below 0.5% and 2xx at
// least 90% (critical); restarts beyond the comparison group's (critical).
GatesConfig defaultGatesConfig();

// A Prometheus check without min_data needs this many values (hosts x looks) on each side.
inline constexpr std::uint64_t kPrometheusMinSamples = 3;

// Parses a plan. Empty text gives the defaults; keys present override them.
//   window_seconds = 10          silence_seconds = 35          report_grace_seconds = 3
//   [canary]  install_timeout_seconds, warmup_seconds, analysis_seconds, baseline_restart,
//             weight = 10 (load balancer weight during warm-up and analysis)
//   [cluster] / [region] / [fleet]: the same (without baseline_restart) plus batch = 2 | "25%"
// The window is the coordinator's (`coordinatorWindowSeconds`, the length the agents cut): a plan
// without window_seconds takes it, and one whose window_seconds differs is refused, naming both.
Result<PlanConfig> parsePlanConfig(const std::string& tomlText, const std::string& sourceName,
                                   std::uint64_t coordinatorWindowSeconds = kDefaultWindowSeconds);

// Parses gates. Empty text (or no [[check]]) gives the defaults; a file with checks replaces
// them entirely.
//   [[check]]
//   name = "latency"  metric = "latency"  test = "mann_whitney"  alternative = "greater"
//   alpha = 0.01  min_effect = 5000  min_ratio = 1.05  min_data = 50
//   threshold = 0.005  tier = "critical"
//   quantile = 0.99 (tail_fisher's "slow": the default for it; 0.5 otherwise)
//   metric = "prometheus" takes query = "<PromQL with {{host}}, {{address}}, {{release}},
//   {{service}}>" and test mann_whitney, threshold_max or threshold_min (any finite threshold,
//   on the canary's `quantile` of its per-look values); min_data defaults to
//   kPrometheusMinSamples values a side (docs/prometheus.md).
Result<GatesConfig> parseGatesConfig(const std::string& tomlText, const std::string& sourceName);

// Whether each stage's analysis window holds enough telemetry windows for the checks that count
// windows (CPU and memory: min_data windows a side). Fewer windows than a check's min_data fails
// (every step of the stage would wait for an operator for want of data), naming the stage, the
// check and the analysis_seconds that would do. Exactly min_data windows passes with a note: both
// sides are cut at the same window end, so one side often has a window less and the step is held.
// Returns the notes.
Result<std::vector<std::string>> checkPlanGivesData(const PlanConfig& plan, const GatesConfig& gates);

}  // namespace rollgate::rollout
