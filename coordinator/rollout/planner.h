// Rollout planner: turns a service, a new version and the fleet as the registry knows it into the
// ordered steps of a rollout: canary (one host against a baseline host in the same cluster on the
// old release), cluster (the rest of the canary's cluster), region (the rest of the region, in
// batches) and fleet (the other regions, one region at a time, in batches). Every step names its
// target hosts, the release each runs now (what a rollback returns it to) and what its gates
// compare the targets with (ComparisonKind): no step is left to static thresholds alone.
// The last step has no other host left on the old release, so the plan holds one host back as a
// control: the last target of the last batch stays on its old release until that batch has been
// analysed against it, then goes alone in a final one-host step that compares it with its own
// windows on the old release from before its switch. Concurrent hosts are the better control
// (same traffic at the same time) for the bulk of the last batch; a before/after comparison of a
// single host is weaker (traffic drifts over time) but still catches a build that changes the
// host's own error rate, latency, CPU or memory.
// Pure function: no I/O, no clock. Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "coordinator/rollout/rollout_config.h"

namespace rollgate::rollout {

struct PlanRequest {
  std::string service;
  std::string version;     // the new release
  std::string canaryHost;  // empty: the planner chooses
  bool operator==(const PlanRequest&) const = default;
};

struct PlannedHost {
  std::string name;
  std::string region;
  std::string cluster;
  std::string fromRelease;  // active release when planned; a rollback returns the host to it
  bool operator==(const PlannedHost&) const = default;
};

// Where a step's comparison group comes from.
enum class ComparisonKind : std::uint8_t {
  kBaseline,      // canary: the baseline host in the canary's cluster, on the old release
  kOldRelease,    // hosts still on the old release (same region first), at the same time
  kHeldControl,   // the last batch: one host held back on the old release as its control
  kOwnPreSwitch,  // the targets themselves, their windows on the old release before the switch
  kNone,          // nothing to compare with: thresholds and restarts only (older plans)
};
std::string_view comparisonKindName(ComparisonKind kind);

struct PlanStep {
  std::string stage;        // canary, cluster, region, fleet
  std::string region;       // the region of the targets
  std::uint32_t batch = 1;  // 1-based, within the stage (within the region for fleet)
  std::uint32_t batches = 1;
  std::vector<PlannedHost> targets;  // get the new release in this step
  // Still on their old release during this step; for kOwnPreSwitch, the targets themselves
  // (their windows from before the switch).
  std::vector<PlannedHost> comparison;
  bool restartComparison = false;  // canary: restart the baseline as the canary activates
  std::string comparisonNote;      // where the comparison hosts come from, for operators
  ComparisonKind comparisonKind = ComparisonKind::kOldRelease;
  bool operator==(const PlanStep&) const = default;
};

struct RolloutPlan {
  std::string service;
  std::string version;
  std::string canaryHost;
  std::string baselineHost;
  std::vector<PlanStep> steps;
  std::vector<std::string> notes;  // hosts left out and why
  // Non-empty when the fleet is too small for a comparison with other hosts beyond the canary's
  // baseline (two hosts): what each step is compared with instead. Said when the rollout starts.
  std::string smallFleetWarning;
  bool operator==(const RolloutPlan&) const = default;
};

// Plans a rollout over `hosts`. Hosts that do not declare the service are not part of it;
// unhealthy hosts, hosts with no active release and hosts already on the new version are left out
// (with a note). Fails, naming what is missing, when there is no canary or no baseline:
// "no healthy baseline host for service web in cluster eu-west-a: ..."; a single eligible host
// fails as "too small for any comparison".
Result<RolloutPlan> planRollout(const PlanRequest& request, const std::vector<HostInfo>& hosts,
                                const PlanConfig& config);

}  // namespace rollgate::rollout
