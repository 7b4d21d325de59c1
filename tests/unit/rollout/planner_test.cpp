#include "coordinator/rollout/planner.h"

#include <doctest/doctest.h>

#include "sim.h"

using namespace rollgate;
using namespace rollgate::rollout;
using rollgate::rollout::testing::fleet8;
using rollgate::rollout::testing::makeHost;

namespace {

std::string names(const std::vector<PlannedHost>& hosts) {
  std::string out;
  for (const auto& h : hosts) out += (out.empty() ? "" : ",") + h.name;
  return out;
}

// "stage:targets|comparison" per step.
std::vector<std::string> describe(const RolloutPlan& plan) {
  std::vector<std::string> out;
  for (const auto& step : plan.steps) {
    out.push_back(step.stage + ":" + names(step.targets) + "|" + names(step.comparison));
  }
  return out;
}

std::vector<HostInfo> with(std::vector<HostInfo> hosts, const std::string& name,
                           const std::function<void(HostInfo&)>& change) {
  for (auto& host : hosts) {
    if (host.name == name) change(host);
  }
  return hosts;
}

}  // namespace

TEST_CASE("planner: table of fleets") {
  struct Case {
    std::string name;
    std::vector<HostInfo> hosts;
    std::string canary;  // requested
    PlanConfig plan;
    std::vector<std::string> steps;  // empty: expect an error
    std::string error;               // part of the error, or of a note when steps are given
  };
  PlanConfig byOne = rollgate::rollout::testing::fastPlan();
  byOne.fleet.batch = BatchSize{BatchSize::Kind::kHosts, 1};
  byOne.region.batch = BatchSize{BatchSize::Kind::kPercent, 100};
  const PlanConfig defaults = defaultPlanConfig();

  std::vector<Case> cases = {
      {"2 regions x 2 clusters x 2 hosts",
       fleet8(),
       "",
       defaults,
       {"canary:eu-a1|eu-a2", "cluster:eu-a2|eu-b1,eu-b2", "region:eu-b1|eu-b2",
        "region:eu-b2|us-a1,us-a2,us-b1,us-b2", "fleet:us-a1,us-a2|us-b1,us-b2",
        "fleet:us-b1|us-b2", "fleet:us-b2|us-b2"},
       ""},
      {"requested canary in the other region",
       fleet8(),
       "us-b2",
       defaults,
       {"canary:us-b2|us-b1", "cluster:us-b1|us-a1,us-a2", "region:us-a1|us-a2",
        "region:us-a2|eu-a1,eu-a2,eu-b1,eu-b2", "fleet:eu-a1,eu-a2|eu-b1,eu-b2",
        "fleet:eu-b1|eu-b2", "fleet:eu-b2|eu-b2"},
       ""},
      {"batches of one host",
       fleet8(),
       "",
       byOne,
       {"canary:eu-a1|eu-a2", "cluster:eu-a2|eu-b1,eu-b2",
        "region:eu-b1,eu-b2|us-a1,us-a2,us-b1,us-b2", "fleet:us-a1|us-a2,us-b1,us-b2",
        "fleet:us-a2|us-b1,us-b2", "fleet:us-b1|us-b2", "fleet:us-b2|us-b2"},
       ""},
      {"unhealthy baseline candidate moves the canary to another cluster",
       with(fleet8(), "eu-a2", [](HostInfo& h) { h.healthy = false; }),
       "",
       defaults,
       {"canary:eu-b1|eu-b2", "cluster:eu-b2|eu-a1", "region:eu-a1|us-a1,us-a2,us-b1,us-b2",
        "fleet:us-a1,us-a2|us-b1,us-b2", "fleet:us-b1|us-b2", "fleet:us-b2|us-b2"},
       "host eu-a2 left out: unhealthy"},
      {"requested canary without a healthy baseline",
       with(fleet8(), "eu-a2", [](HostInfo& h) { h.healthy = false; }),
       "eu-a1",
       defaults,
       {},
       "no healthy baseline host for service web in cluster eu-a (region eu): eu-a1 (the canary), "
       "eu-a2 (unhealthy)"},
      {"baseline already on the new version",
       with(fleet8(), "eu-a2", [](HostInfo& h) { h.services[0].activeRelease = "2.0"; }),
       "eu-a1",
       defaults,
       {},
       "eu-a2 (already on 2.0)"},
      {"no cluster with two hosts",
       {makeHost("h1", "eu", "c1"), makeHost("h2", "eu", "c2"), makeHost("h3", "us", "c3")},
       "",
       defaults,
       {},
       "no healthy baseline host for service web: no cluster has two healthy hosts"},
      {"requested canary not in the fleet",
       fleet8(),
       "nope",
       defaults,
       {},
       "requested canary host nope is not in the fleet"},
      {"requested canary unhealthy",
       with(fleet8(), "eu-b1", [](HostInfo& h) { h.healthy = false; }),
       "eu-b1",
       defaults,
       {},
       "requested canary host eu-b1 cannot be the canary for service web: it is unhealthy"},
      {"requested canary does not run the service",
       with(fleet8(), "eu-b1", [](HostInfo& h) { h.services.clear(); }),
       "eu-b1",
       defaults,
       {},
       "it does not run web"},
      {"one eligible host: too small for any comparison",
       {makeHost("h1", "eu", "c1"), makeHost("h2", "eu", "c1", "2.0")},
       "",
       defaults,
       {},
       "service web runs on one eligible host (h1): the fleet is too small for any comparison"},
      {"one eligible host, requested as the canary",
       {makeHost("h1", "eu", "c1")},
       "h1",
       defaults,
       {},
       "too small for any comparison"},
      {"nobody runs the service",
       {makeHost("h1", "eu", "c1", "1.0", true, "")},
       "",
       defaults,
       {},
       "no healthy host runs service web on a release other than 2.0"},
      {"one cluster of three: the baseline is held as the last batch's control, then compared "
       "with its own pre-switch windows",
       {makeHost("c1", "eu", "a"), makeHost("c2", "eu", "a"), makeHost("c3", "eu", "a")},
       "",
       defaults,
       {"canary:c1|c2", "cluster:c3|c2", "cluster:c2|c2"},
       ""},
      {"hosts without the service are not part of it; hosts on the new version are left out",
       {makeHost("a1", "eu", "a"), makeHost("a2", "eu", "a"),
        makeHost("x", "eu", "a", "1.0", true, "db"), makeHost("b1", "eu", "b", "2.0")},
       "",
       defaults,
       {"canary:a1|a2", "cluster:a2|a2"},
       "host b1 left out: already on 2.0"},
      {"the baseline runs the canary's release when one does",
       {makeHost("a1", "eu", "a", "1.0"), makeHost("a2", "eu", "a", "0.9"),
        makeHost("a3", "eu", "a", "1.0")},
       "",
       defaults,
       {"canary:a1|a3", "cluster:a2|a3", "cluster:a3|a3"},
       ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto plan = planRollout(PlanRequest{"web", "2.0", c.canary}, c.hosts, c.plan);
    if (c.steps.empty()) {
      REQUIRE_FALSE(plan.ok());
      CHECK_MESSAGE(plan.error().message.find(c.error) != std::string::npos, plan.error().message);
      continue;
    }
    REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.error().message));
    CHECK(describe(*plan) == c.steps);
    if (!c.error.empty()) {
      bool noted = false;
      for (const auto& note : plan->notes) noted = noted || note.find(c.error) != std::string::npos;
      CHECK_MESSAGE(noted, c.error);
    }
  }
}

TEST_CASE("planner: every eligible host is a target exactly once, with its old release") {
  auto hosts = fleet8();
  hosts[5].services[0].activeRelease = "0.9";
  auto plan = planRollout(PlanRequest{"web", "2.0", ""}, hosts, defaultPlanConfig());
  REQUIRE(plan.ok());
  std::map<std::string, std::string> targets;
  for (const auto& step : plan->steps) {
    for (const auto& t : step.targets) {
      CHECK(targets.count(t.name) == 0);
      targets[t.name] = t.fromRelease;
    }
  }
  CHECK(targets.size() == 8);
  CHECK(targets[hosts[5].name] == "0.9");
  CHECK(targets[hosts[0].name] == "1.0");
  CHECK(plan->canaryHost == "eu-a1");
  CHECK(plan->baselineHost == "eu-a2");
  CHECK(plan->steps[0].restartComparison);
  CHECK_FALSE(plan->steps[1].restartComparison);
}

TEST_CASE("planner: every step names a comparison and where it comes from") {
  auto plan = planRollout(PlanRequest{"web", "2.0", ""}, fleet8(), defaultPlanConfig());
  REQUIRE(plan.ok());
  const auto& steps = plan->steps;
  REQUIRE(steps.size() == 7);
  CHECK(steps[0].comparisonKind == ComparisonKind::kBaseline);
  for (std::size_t i = 1; i + 2 < steps.size(); ++i) {
    CAPTURE(i);
    CHECK(steps[i].comparisonKind == ComparisonKind::kOldRelease);
  }
  for (const auto& step : steps) {
    CHECK_FALSE(step.comparison.empty());
    CHECK_FALSE(step.comparisonNote.empty());
  }
  // The last batch of us is split: us-b1 against the held control us-b2, then us-b2 alone
  // against its own windows before its switch; both are batches of the same fleet stage.
  const PlanStep& control = steps[5];
  const PlanStep& own = steps[6];
  CHECK(control.comparisonKind == ComparisonKind::kHeldControl);
  CHECK(control.comparisonNote.find("host us-b2 held back on 1.0 as the control") !=
        std::string::npos);
  CHECK(own.comparisonKind == ComparisonKind::kOwnPreSwitch);
  CHECK(own.comparisonNote.find("us-b2 is compared with its own windows on 1.0") !=
        std::string::npos);
  CHECK(std::make_pair(steps[4].batch, steps[4].batches) == std::make_pair(1u, 3u));
  CHECK(std::make_pair(control.batch, control.batches) == std::make_pair(2u, 3u));
  CHECK(std::make_pair(own.batch, own.batches) == std::make_pair(3u, 3u));
  CHECK(plan->smallFleetWarning.empty());
  CHECK(comparisonKindName(ComparisonKind::kOwnPreSwitch) == "own_pre_switch");
}

TEST_CASE("planner: two hosts are said to be too small for a comparison after the canary") {
  std::vector<HostInfo> hosts{makeHost("a1", "eu", "a"), makeHost("a2", "eu", "a")};
  auto plan = planRollout(PlanRequest{"web", "2.0", ""}, hosts, defaultPlanConfig());
  REQUIRE(plan.ok());
  REQUIRE(plan->steps.size() == 2);
  CHECK(plan->steps[1].comparisonKind == ComparisonKind::kOwnPreSwitch);
  CHECK(plan->smallFleetWarning ==
        "the fleet is too small for a comparison with other hosts after the canary step (2 "
        "eligible hosts): only the canary step compares with another host (baseline a2); the "
        "last step compares a2 with its own windows on 1.0 from before its switch");
  // Three hosts: the third is compared with the held baseline, no warning.
  hosts.push_back(makeHost("a3", "eu", "a"));
  plan = planRollout(PlanRequest{"web", "2.0", ""}, hosts, defaultPlanConfig());
  REQUIRE(plan.ok());
  CHECK(plan->smallFleetWarning.empty());
}
