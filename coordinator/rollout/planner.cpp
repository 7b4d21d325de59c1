#include "coordinator/rollout/planner.h"

#include <algorithm>
#include <map>
#include <set>

namespace rollgate::rollout {

namespace {

struct Candidate {
  PlannedHost host;
  bool healthy = false;
};

bool before(const PlannedHost& a, const PlannedHost& b) {
  return std::tie(a.region, a.cluster, a.name) < std::tie(b.region, b.cluster, b.name);
}

std::string joinNames(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Why each host of `cluster` (other than `except`) cannot be a baseline.
std::string whyNoBaseline(const std::vector<HostInfo>& hosts, const std::string& service,
                          const std::string& version, const std::string& region,
                          const std::string& cluster, const std::string& canary) {
  std::vector<std::string> reasons;
  for (const auto& host : hosts) {
    if (host.region != region || host.cluster != cluster) continue;
    if (host.name == canary) {
      reasons.push_back(host.name + " (the canary)");
      continue;
    }
    auto it = std::find_if(host.services.begin(), host.services.end(),
                           [&](const ServiceRelease& s) { return s.service == service; });
    if (it == host.services.end()) {
      reasons.push_back(host.name + " (does not run " + service + ")");
    } else if (!host.healthy) {
      reasons.push_back(host.name + " (unhealthy)");
    } else if (it->activeRelease.empty()) {
      reasons.push_back(host.name + " (no active release)");
    } else if (it->activeRelease == version) {
      reasons.push_back(host.name + " (already on " + version + ")");
    }
  }
  if (reasons.empty()) return "no other host in the cluster";
  return joinNames(reasons);
}

// The last step has no host left on the old release: hold its last target back as the control of
// the rest of its batch, then judge that host alone against its own pre-switch windows.
void holdControlForLastStep(RolloutPlan& plan) {
  PlanStep& last = plan.steps.back();
  if (!last.comparison.empty()) return;
  if (last.targets.size() > 1) {
    PlanStep held = last;
    held.targets = {last.targets.back()};
    last.targets.pop_back();
    last.comparison = held.targets;
    last.comparisonKind = ComparisonKind::kHeldControl;
    last.comparisonNote = "host " + held.targets[0].name + " held back on " +
                          held.targets[0].fromRelease +
                          " as the control of this last batch (no other host is left on the old "
                          "release); it switches alone in the next step";
    held.batch = last.batch + 1;
    for (auto& step : plan.steps) {
      if (step.stage == last.stage && step.region == last.region) step.batches += 1;
    }
    held.batches = last.batches;
    plan.steps.push_back(std::move(held));
  }
  PlanStep& own = plan.steps.back();
  own.comparison = own.targets;
  own.comparisonKind = ComparisonKind::kOwnPreSwitch;
  own.comparisonNote = "no other host is left on the old release: host " + own.targets[0].name +
                       " is compared with its own windows on " + own.targets[0].fromRelease +
                       " from before its switch (its last ones, as many as its new-release side has)";
}

}  // namespace

std::string_view comparisonKindName(ComparisonKind kind) {
  switch (kind) {
    case ComparisonKind::kBaseline:
      return "baseline";
    case ComparisonKind::kOldRelease:
      return "old_release";
    case ComparisonKind::kHeldControl:
      return "held_control";
    case ComparisonKind::kOwnPreSwitch:
      return "own_pre_switch";
    case ComparisonKind::kNone:
      return "none";
  }
  return "?";
}

Result<RolloutPlan> planRollout(const PlanRequest& request, const std::vector<HostInfo>& hosts,
                                const PlanConfig& config) {
  if (request.service.empty()) return makeError("rollout plan: no service given");
  if (request.version.empty()) {
    return makeError("rollout plan for service " + request.service + ": no version given");
  }
  RolloutPlan plan;
  plan.service = request.service;
  plan.version = request.version;

  std::vector<PlannedHost> eligible;
  std::map<std::string, const HostInfo*> byName;
  for (const auto& host : hosts) {
    byName[host.name] = &host;
    auto it = std::find_if(host.services.begin(), host.services.end(),
                           [&](const ServiceRelease& s) { return s.service == request.service; });
    if (it == host.services.end()) continue;
    if (!host.healthy) {
      plan.notes.push_back("host " + host.name + " left out: unhealthy");
    } else if (it->activeRelease.empty()) {
      plan.notes.push_back("host " + host.name + " left out: no active release of " +
                           request.service);
    } else if (it->activeRelease == request.version) {
      plan.notes.push_back("host " + host.name + " left out: already on " + request.version);
    } else {
      eligible.push_back(PlannedHost{host.name, host.region, host.cluster, it->activeRelease});
    }
  }
  std::sort(eligible.begin(), eligible.end(), before);
  if (eligible.size() == 1) {
    return makeError("service " + request.service + " runs on one eligible host (" +
                     eligible[0].name +
                     "): the fleet is too small for any comparison; a rollout needs a baseline "
                     "host on the old release in the canary's cluster" +
                     (plan.notes.empty() ? std::string() : " (" + joinNames(plan.notes) + ")"));
  }

  auto baselineFor = [&](const PlannedHost& canary) -> const PlannedHost* {
    const PlannedHost* best = nullptr;
    for (const auto& host : eligible) {
      if (host.name == canary.name || host.region != canary.region ||
          host.cluster != canary.cluster) {
        continue;
      }
      if (host.fromRelease == canary.fromRelease) return &host;  // like for like first
      if (best == nullptr) best = &host;
    }
    return best;
  };

  const PlannedHost* canary = nullptr;
  const PlannedHost* baseline = nullptr;
  if (!request.canaryHost.empty()) {
    auto found = byName.find(request.canaryHost);
    if (found == byName.end()) {
      return makeError("requested canary host " + request.canaryHost + " is not in the fleet");
    }
    auto it = std::find_if(eligible.begin(), eligible.end(),
                           [&](const PlannedHost& h) { return h.name == request.canaryHost; });
    if (it == eligible.end()) {
      const HostInfo& host = *found->second;
      auto service =
          std::find_if(host.services.begin(), host.services.end(),
                       [&](const ServiceRelease& s) { return s.service == request.service; });
      std::string why = service == host.services.end() ? "it does not run " + request.service
                        : !host.healthy                ? "it is unhealthy"
                        : service->activeRelease.empty()
                            ? "it has no active release of " + request.service
                            : "it already runs " + request.version;
      return makeError("requested canary host " + request.canaryHost +
                       " cannot be the canary for "
                       "service " +
                       request.service + ": " + why);
    }
    canary = &*it;
    baseline = baselineFor(*canary);
    if (baseline == nullptr) {
      return makeError("no healthy baseline host for service " + request.service + " in cluster " +
                       canary->cluster + " (region " + canary->region + "): " +
                       whyNoBaseline(hosts, request.service, request.version, canary->region,
                                     canary->cluster, canary->name));
    }
  } else {
    if (eligible.empty()) {
      return makeError("no healthy host runs service " + request.service +
                       " on a release other than " + request.version +
                       (plan.notes.empty() ? std::string() : ": " + joinNames(plan.notes)));
    }
    for (const auto& host : eligible) {
      if (const PlannedHost* b = baselineFor(host)) {
        canary = &host;
        baseline = b;
        break;
      }
    }
    if (canary == nullptr) {
      std::vector<std::string> clusters;
      for (const auto& host : eligible) {
        std::string name = host.region + "/" + host.cluster;
        if (clusters.empty() || clusters.back() != name) clusters.push_back(name);
      }
      return makeError("no healthy baseline host for service " + request.service +
                       ": no cluster has two healthy hosts on an old release (clusters with one: " +
                       joinNames(clusters) + ")");
    }
  }
  plan.canaryHost = canary->name;
  plan.baselineHost = baseline->name;

  std::set<std::string> changed;  // hosts on the new release once the steps so far are done
  auto remainingOld = [&](const std::string& region, const std::vector<PlannedHost>& chunk,
                          std::string& note) {
    std::set<std::string> inChunk;
    for (const auto& h : chunk) inChunk.insert(h.name);
    std::vector<PlannedHost> sameRegion, all;
    for (const auto& host : eligible) {
      if (changed.count(host.name) || inChunk.count(host.name)) continue;
      all.push_back(host);
      if (host.region == region) sameRegion.push_back(host);
    }
    if (!sameRegion.empty()) {
      note = "hosts still on the old release in region " + region;
      return sameRegion;
    }
    note = all.empty() ? std::string() : "hosts still on the old release in other regions";
    return all;
  };

  // canary
  {
    PlanStep step;
    step.stage = "canary";
    step.region = canary->region;
    step.targets = {*canary};
    step.comparison = {*baseline};
    step.restartComparison = config.canary.baselineRestart;
    step.comparisonNote = "baseline host " + baseline->name + " in cluster " + canary->cluster;
    step.comparisonKind = ComparisonKind::kBaseline;
    plan.steps.push_back(std::move(step));
    changed.insert(canary->name);
  }

  auto addBatches = [&](const std::string& stage, const std::string& region,
                        std::vector<PlannedHost> targets, const BatchSize& batch) {
    if (targets.empty()) return;
    std::size_t per = batch.hostsPerBatch(targets.size());
    std::vector<std::vector<PlannedHost>> chunks;
    for (std::size_t i = 0; i < targets.size(); i += per) {
      chunks.emplace_back(
          targets.begin() + static_cast<std::ptrdiff_t>(i),
          targets.begin() + static_cast<std::ptrdiff_t>(std::min(i + per, targets.size())));
    }
    std::uint32_t index = 0;
    for (auto& chunk : chunks) {
      PlanStep step;
      step.stage = stage;
      step.region = region;
      step.batch = ++index;
      step.batches = static_cast<std::uint32_t>(chunks.size());
      step.comparison = remainingOld(region, chunk, step.comparisonNote);
      step.targets = std::move(chunk);
      for (const auto& h : step.targets) changed.insert(h.name);
      plan.steps.push_back(std::move(step));
    }
  };

  // cluster: the rest of the canary's cluster, the baseline last (so that it is the host held
  // back as a control when the cluster is the whole fleet)
  {
    std::vector<PlannedHost> targets;
    for (const auto& host : eligible) {
      if (host.region == canary->region && host.cluster == canary->cluster &&
          host.name != canary->name && host.name != baseline->name) {
        targets.push_back(host);
      }
    }
    targets.push_back(*baseline);
    addBatches("cluster", canary->region, std::move(targets), config.cluster.batch);
  }
  // region: the rest of the canary's region
  {
    std::vector<PlannedHost> targets;
    for (const auto& host : eligible) {
      if (host.region == canary->region && !changed.count(host.name)) targets.push_back(host);
    }
    addBatches("region", canary->region, std::move(targets), config.region.batch);
  }
  // fleet: every other region, one at a time
  {
    std::map<std::string, std::vector<PlannedHost>> regions;
    for (const auto& host : eligible) {
      if (!changed.count(host.name)) regions[host.region].push_back(host);
    }
    for (auto& [region, targets] : regions) {
      addBatches("fleet", region, std::move(targets), config.fleet.batch);
    }
  }
  holdControlForLastStep(plan);
  bool otherComparison =
      std::any_of(plan.steps.begin() + 1, plan.steps.end(), [](const PlanStep& s) {
        return s.comparisonKind == ComparisonKind::kOldRelease ||
               s.comparisonKind == ComparisonKind::kHeldControl;
      });
  if (!otherComparison) {  // two hosts: the canary and its baseline
    plan.smallFleetWarning =
        "the fleet is too small for a comparison with other hosts after the canary step (" +
        std::to_string(eligible.size()) +
        " eligible hosts): only the canary step compares with "
        "another host (baseline " +
        baseline->name + "); the last step compares " + baseline->name +
        " with its own windows on " + baseline->fromRelease + " from before its switch";
  }
  return plan;
}

}  // namespace rollgate::rollout
