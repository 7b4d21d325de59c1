// Rollout planner: turns a service, a new version and the fleet as the registry knows it into the
// ordered steps of a rollout: canary (one host against a baseline host in the same cluster on the
// old release), cluster (the rest of the canary's cluster), region (the rest of the region, in
// batches) and fleet (the other regions, one region at a time, in batches). Every step names its
// target hosts, the release each runs now (what a rollback returns it to) and the comparison
// hosts still on the old release that its gates compare against.
// Pure function: no I/O, no clock. Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
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

struct PlanStep {
  std::string stage;        // canary, cluster, region, fleet
  std::string region;       // the region of the targets
  std::uint32_t batch = 1;  // 1-based, within the stage (within the region for fleet)
  std::uint32_t batches = 1;
  std::vector<PlannedHost> targets;     // get the new release in this step
  std::vector<PlannedHost> comparison;  // still on their old release during this step
  bool restartComparison = false;       // canary: restart the baseline as the canary activates
  std::string comparisonNote;           // where the comparison hosts come from, for operators
  bool operator==(const PlanStep&) const = default;
};

struct RolloutPlan {
  std::string service;
  std::string version;
  std::string canaryHost;
  std::string baselineHost;
  std::vector<PlanStep> steps;
  std::vector<std::string> notes;  // hosts left out and why
  bool operator==(const RolloutPlan&) const = default;
};

// Plans a rollout over `hosts`. Hosts that do not declare the service are not part of it;
// unhealthy hosts, hosts with no active release and hosts already on the new version are left out
// (with a note). Fails, naming what is missing, when there is no canary or no baseline:
// "no healthy baseline host for service web in cluster eu-west-a: ...".
Result<RolloutPlan> planRollout(const PlanRequest& request, const std::vector<HostInfo>& hosts,
                                const PlanConfig& config);

}  // namespace rollgate::rollout
