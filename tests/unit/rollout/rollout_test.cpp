// Over 600 lines by choice: every scenario of the rollout state machine (promotion, each kind of
// failure, restarts, operator actions, comparisons) runs on the one simulator in sim.h, and reads
// best as one list of cases.
#include "coordinator/rollout/rollout.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "coordinator/rollout/read_model.h"
#include "sim.h"

using namespace rollgate;
using namespace rollgate::rollout;
using namespace rollgate::rollout::testing;

namespace {

std::string statusName(const Rollout& rollout) { return std::string(statusName(rollout.status())); }

// Every host the rollout sent an install to, and every host it sent a rollback to.
std::set<std::string> installed(const Sim& sim) {
  std::set<std::string> out;
  for (const auto& c : sim.commands()) {
    if (std::holds_alternative<InstallRelease>(c.body)) out.insert(c.host);
  }
  return out;
}
std::set<std::string> rolledBack(const Sim& sim) {
  std::set<std::string> out;
  for (const auto& c : sim.commands()) {
    if (std::holds_alternative<RollBackRelease>(c.body)) out.insert(c.host);
  }
  return out;
}

void checkEveryHostOnItsOldRelease(const Sim& sim) {
  for (const auto& entry : sim.releases()) {
    CAPTURE(entry.first);
    CHECK(entry.second == sim.original().at(entry.first));
  }
}

std::vector<RolloutStatus> statusChanges(const Sim& sim) {
  std::vector<RolloutStatus> out;
  for (const auto& action : sim.log()) {
    if (const auto* s = std::get_if<StateChanged>(&action)) out.push_back(s->to);
  }
  return out;
}

// A canonical text for an action log (doubles with all digits; NaN odds ratios compare equal).
std::string render(const std::vector<Action>& log) {
  std::string out;
  char number[64];
  auto add = [&](double value) {
    std::snprintf(number, sizeof number, " %.17g", value);
    out += number;
  };
  for (const auto& action : log) {
    if (const auto* c = std::get_if<SendCommand>(&action)) {
      out += "send " + std::to_string(c->commandId) + " " + c->host + " " +
             std::to_string(c->body.index());
    } else if (const auto* r = std::get_if<RecordCheck>(&action)) {
      const CheckResult& x = r->result;
      out += "check " + std::to_string(r->step) + " " + r->stage + " " + x.name + " " +
             std::string(stats::toString(x.verdict)) + " " + std::to_string(x.look) + "/" +
             std::to_string(x.looks) + " " + std::to_string(r->atMillis) + " " + x.explanation;
      for (double v :
           {x.statistic, x.pValue, x.alphaAtLook, x.canaryValue, x.baselineValue, x.effect.estimate,
            x.effect.low, x.effect.high, x.ratio.estimate, x.ratio.low, x.ratio.high}) {
        add(v);
      }
    } else if (const auto* e = std::get_if<RecordEvent>(&action)) {
      out += "event " + std::to_string(e->atMillis) + " " + e->host + " " + e->text;
    } else if (const auto* s = std::get_if<StateChanged>(&action)) {
      out += "state " + std::string(statusName(s->from)) + " -> " + std::string(statusName(s->to)) +
             " " + std::to_string(s->atMillis);
    }
    out += "\n";
  }
  return out;
}

// Runs to the end, promoting whenever a warn verdict holds the rollout.
void runPromoting(Sim& sim) {
  for (int i = 0; i < 20 && !isTerminal(sim.rollout().status()); ++i) {
    sim.run(3600, [&] { return sim.rollout().status() == RolloutStatus::kWaitingForOperator; });
    if (sim.rollout().status() == RolloutStatus::kWaitingForOperator) {
      auto promoted = sim.rollout().promote("test", sim.now());
      REQUIRE(promoted.ok());
      sim.take(*promoted);
    }
  }
}

}  // namespace

TEST_CASE("a good build is promoted through all four stages and every host ends on it") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  Behaviour newBuild;
  newBuild.latencyMicros = 51'000;  // 1 ms slower: below the 5 ms minimum effect
  sim.behaviour["2.0"] = newBuild;
  sim.start();
  sim.run(3600);
  INFO(sim.events());
  REQUIRE(statusName(sim.rollout()) == "succeeded");
  for (const auto& entry : sim.releases()) {
    CAPTURE(entry.first);
    CHECK(entry.second == "2.0");
  }
  std::set<std::string> stages;
  for (const auto& record : sim.checks()) stages.insert(record.stage);
  CHECK(stages == std::set<std::string>{"canary", "cluster", "region", "fleet"});
  CHECK(rolledBack(sim).empty());
  // The baseline was restarted with the canary, and only in the canary step.
  int restarts = 0;
  for (const auto& c : sim.commands()) {
    if (std::holds_alternative<RestartBaseline>(c.body)) {
      ++restarts;
      CHECK(c.host == "eu-a2");
    }
  }
  CHECK(restarts == 1);
  // Promotion happened only after each step's final look.
  for (const auto& record : sim.checks("latency")) CHECK((record.result.verdict != Verdict::kFail));
  const auto changes = statusChanges(sim);
  CHECK(changes.front() == RolloutStatus::kInstalling);
  CHECK(changes.back() == RolloutStatus::kSucceeded);
}

TEST_CASE("a stage's weight goes with its installs, held for its warm-up and analysis") {
  PlanConfig plan = fastPlan();
  plan.canary.weight = 10;
  Sim sim(fleet8(), makeRollout(fleet8(), plan));
  sim.start();
  sim.run(3600);
  REQUIRE(statusName(sim.rollout()) == "succeeded");
  int weighted = 0;
  for (const auto& c : sim.commands()) {
    const auto* install = std::get_if<InstallRelease>(&c.body);
    if (install == nullptr) continue;
    CAPTURE(c.host);
    if (install->trafficWeight >= 0) {
      ++weighted;
      CHECK(install->trafficWeight == 10);
      CHECK(install->trafficWeightSeconds ==
            plan.canary.warmupSeconds + plan.canary.analysisSeconds);
    } else {
      CHECK(install->trafficWeightSeconds == 0);
    }
  }
  CHECK(weighted == 1);  // the canary only: the other stages keep their hosts' weights
  CHECK(sim.events().find("installing 2.0 on eu-a1 at load balancer weight 10") !=
        std::string::npos);
}

TEST_CASE("an A/A rollout (same content, new version) is promoted") {
  Sim sim(fleet8(), makeRollout(fleet8()), 42);
  sim.start();
  sim.run(3600);
  INFO(sim.events());
  CHECK(statusName(sim.rollout()) == "succeeded");
  for (const auto& record : sim.checks()) {
    CAPTURE(record.result.explanation);
    CHECK((record.result.verdict != Verdict::kFail));
  }
}

TEST_CASE("a build returning 500 for 3% of requests is rolled back at the canary stage") {
  SUBCASE("default gates: the Fisher result is recorded") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    Behaviour bad;
    bad.ratio5xx = 0.03;
    sim.behaviour["2.0"] = bad;
    sim.start();
    sim.run(3600);
    INFO(sim.events());
    REQUIRE(statusName(sim.rollout()) == "rolled_back");
    CHECK(installed(sim) == std::set<std::string>{"eu-a1"});
    CHECK(rolledBack(sim) == std::set<std::string>{"eu-a1"});
    checkEveryHostOnItsOldRelease(sim);
    auto fisher = sim.checks("http_5xx");
    REQUIRE_FALSE(fisher.empty());
    CHECK(fisher.back().stage == "canary");
    CHECK((fisher.back().result.test == Test::kFisher));
    CHECK(fisher.back().result.canaryCount >= 1000);
    CHECK(fisher.back().result.canaryValue > 0.02);
    CHECK(fisher.back().canaryHosts == std::vector<std::string>{"eu-a1"});
    CHECK(fisher.back().comparisonHosts == std::vector<std::string>{"eu-a2"});
    CHECK(sim.rollout().state().endReason.find("canary") != std::string::npos);
  }
  SUBCASE("Fisher alone rolls it back, early, before the window ends") {
    GatesConfig gates;
    for (const auto& check : defaultGatesConfig().checks) {
      if (check.name == "http_5xx") gates.checks.push_back(check);
    }
    Sim sim(fleet8(), makeRollout(fleet8(), fastPlan(), gates));
    Behaviour bad;
    bad.ratio5xx = 0.03;
    sim.behaviour["2.0"] = bad;
    sim.start();
    sim.run(3600);
    INFO(sim.events());
    REQUIRE(statusName(sim.rollout()) == "rolled_back");
    auto fisher = sim.checks("http_5xx");
    REQUIRE_FALSE(fisher.empty());
    const CheckResult& last = fisher.back().result;
    CHECK((last.verdict == Verdict::kFail));
    CHECK(last.pValue < last.alphaAtLook);
    CHECK(last.look < last.looks);  // an early rollback
    CHECK(sim.rollout().state().endReason.find("critical check http_5xx failed") !=
          std::string::npos);
    checkEveryHostOnItsOldRelease(sim);
  }
}

TEST_CASE("a build adding 20 ms latency is rolled back by the Mann-Whitney check") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  Behaviour slow;
  slow.latencyMicros = 70'000;
  sim.behaviour["2.0"] = slow;
  sim.start();
  sim.run(3600);
  INFO(sim.events());
  REQUIRE(statusName(sim.rollout()) == "rolled_back");
  CHECK(sim.rollout().state().endReason.find("critical check latency failed") != std::string::npos);
  auto latency = sim.checks("latency");
  REQUIRE_FALSE(latency.empty());
  CHECK((latency.back().result.verdict == Verdict::kFail));
  CHECK((latency.back().result.test == Test::kMannWhitney));
  CHECK(latency.back().result.effect.estimate > 15'000);
  CHECK(latency.back().stage == "canary");
  checkEveryHostOnItsOldRelease(sim);
}

TEST_CASE("a build whose slowest 2% are 100x slower is rolled back at the canary by latency_tail") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  Behaviour tail;
  tail.slowShare = 0.02;
  tail.slowFactor = 100;
  sim.behaviour["2.0"] = tail;
  sim.start();
  sim.run(3600);
  INFO(sim.events());
  REQUIRE(statusName(sim.rollout()) == "rolled_back");
  CHECK(sim.rollout().state().endReason.find("critical check latency_tail failed") !=
        std::string::npos);
  auto checks = sim.checks("latency_tail");
  REQUIRE_FALSE(checks.empty());
  const CheckResult& last = checks.back().result;
  INFO(last.explanation);
  CHECK((last.verdict == Verdict::kFail));
  CHECK(checks.back().stage == "canary");
  CHECK(last.canaryValue > 1'000'000);  // the canary's p99 is in the slow tail: seconds
  CHECK(last.explanation.find("over the pooled p99") != std::string::npos);
  // The median check saw the same samples and passed: the tail is all that changed.
  auto median = sim.checks("latency");
  REQUIRE_FALSE(median.empty());
  CHECK((median.back().result.verdict == Verdict::kPass));
  checkEveryHostOnItsOldRelease(sim);
}

TEST_CASE("the same build on both sides (A/A) is promoted, the tail check passing at every look") {
  for (std::uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    Sim sim(fleet8(), makeRollout(fleet8()), seed);
    sim.start();
    sim.run(3600);
    INFO(sim.events());
    REQUIRE(statusName(sim.rollout()) == "succeeded");
    auto checks = sim.checks("latency_tail");
    REQUIRE_FALSE(checks.empty());
    for (const auto& record : checks) {
      INFO(record.result.explanation);
      CHECK((record.result.verdict != Verdict::kFail));
    }
  }
}

TEST_CASE("not enough data waits for the whole window, then pauses for an operator") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  Behaviour idle;
  idle.requestsPerWindow = 0;
  sim.defaultBehaviour = idle;  // no traffic anywhere
  sim.start();
  sim.runUntilStatus(RolloutStatus::kWaitingForOperator);
  INFO(sim.events());
  REQUIRE(statusName(sim.rollout()) == "waiting_for_operator");
  const auto& step = sim.rollout().state().step;
  CHECK(step.hold == Hold::kNotEnoughData);
  CHECK(step.analysisComplete);
  CHECK(sim.now() >= step.analysisEndMillis);  // not before the window ended
  CHECK(sim.rollout().state().currentStep == 0);
  // It stays paused; nothing is promoted while it waits.
  sim.run(300);
  CHECK(statusName(sim.rollout()) == "waiting_for_operator");
  CHECK(sim.rollout().state().currentStep == 0);
  auto resumed = sim.rollout().resume("alice", sim.now());  // re-runs the analysis window
  REQUIRE(resumed.ok());
  sim.take(*resumed);
  CHECK(statusName(sim.rollout()) == "analyzing");
  sim.runUntilStatus(RolloutStatus::kWaitingForOperator);
  CHECK(sim.rollout().state().step.hold == Hold::kNotEnoughData);
  // Traffic comes back and an operator promotes: the rollout continues to the next step.
  sim.defaultBehaviour = Behaviour{};
  auto promoted = sim.rollout().promote("alice", sim.now());
  REQUIRE(promoted.ok());
  sim.take(*promoted);
  CHECK(sim.rollout().state().currentStep == 1);
  sim.run(3600);
  CHECK(statusName(sim.rollout()) == "succeeded");
}

TEST_CASE("a warn check pauses; promote overrides it and the rollout goes on") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  Behaviour hungry;
  hungry.cpuMillisPerSecond = 160;  // +60% CPU: the cpu check is warn
  sim.behaviour["2.0"] = hungry;
  sim.start();
  int promotions = 0;
  while (!isTerminal(sim.rollout().status()) && sim.now() < Sim::kStart + 7'200'000) {
    sim.runUntilStatus(RolloutStatus::kWaitingForOperator, 600);
    if (sim.rollout().status() != RolloutStatus::kWaitingForOperator) continue;
    CHECK(sim.rollout().state().step.hold == Hold::kWarn);
    CHECK(sim.rollout().state().step.holdReason.find("warn check cpu failed") != std::string::npos);
    // resume does not override a warn verdict
    auto resumed = sim.rollout().resume("bob", sim.now());
    CHECK_FALSE(resumed.ok());
    if (!resumed.ok())
      CHECK(resumed.error().message.find("promote to override") != std::string::npos);
    std::uint32_t step = sim.rollout().state().currentStep;
    bool windowOver = sim.rollout().state().step.analysisComplete;
    auto promoted = sim.rollout().promote("bob", sim.now());
    REQUIRE(promoted.ok());
    sim.take(*promoted);
    ++promotions;
    // Promote moves on at once only after the full window; otherwise the step runs to its end.
    bool last = step + 1 == sim.rollout().state().plan.steps.size();
    CHECK(sim.rollout().state().currentStep == (windowOver && !last ? step + 1 : step));
  }
  INFO(sim.events());
  CHECK(statusName(sim.rollout()) == "succeeded");
  // Every step warned once: each has a comparison (the last one its host's own windows from
  // before its switch).
  CHECK(promotions == static_cast<int>(sim.rollout().state().plan.steps.size()));
  CHECK(rolledBack(sim).empty());
}

TEST_CASE("promote, resume and pause refuse what makes no sense, naming the rollout") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  auto promoted = sim.rollout().promote("carol", sim.now());
  REQUIRE_FALSE(promoted.ok());
  CHECK(promoted.error().message.find("rollout r1 is installing") != std::string::npos);
  CHECK_FALSE(sim.rollout().resume("carol", sim.now()).ok());
  REQUIRE(sim.rollout().pause("carol", sim.now()).ok());
  CHECK_FALSE(sim.rollout().pause("carol", sim.now()).ok());
}

TEST_CASE("an operator pause between steps holds the next step until resume") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  sim.run(3600, [&] { return sim.rollout().state().step.lastLook == 5; });  // of 6 looks
  auto paused = sim.rollout().pause("dave", sim.now());
  REQUIRE(paused.ok());
  sim.take(*paused);
  CHECK(statusName(sim.rollout()) == "waiting_for_operator");
  sim.run(600);
  // The step stopped before its final look and the next step did not start.
  CHECK(sim.rollout().state().currentStep == 0);
  CHECK(sim.rollout().state().step.lastLook == 5);
  CHECK(statusName(sim.rollout()) == "waiting_for_operator");
  CHECK(installed(sim) == std::set<std::string>{"eu-a1"});
  auto resumed = sim.rollout().resume("dave", sim.now());
  REQUIRE(resumed.ok());
  sim.take(*resumed);
  sim.run(3600);
  CHECK(statusName(sim.rollout()) == "succeeded");
}

TEST_CASE("a pause inside a step stops its looks and decisions; resume continues its looks") {
  std::uint64_t kLookMillis = 10'000;  // fastPlan: 60 s analysis in 10 s windows
  SUBCASE("a good build: the looks it had, then the rest after the pause") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.start();
    sim.run(3600, [&] { return sim.rollout().state().step.lastLook == 2; });
    REQUIRE(sim.rollout().status() == RolloutStatus::kAnalyzing);
    auto paused = sim.rollout().pause("dave", sim.now());
    REQUIRE(paused.ok());
    sim.take(*paused);
    std::size_t checksBefore = sim.checks().size();
    sim.run(600);  // longer than the whole window and silence_seconds
    CHECK(sim.checks().size() == checksBefore);
    CHECK(sim.rollout().state().step.lastLook == 2);
    CHECK(statusName(sim.rollout()) == "waiting_for_operator");
    CHECK(sim.rollout().millisLeftInPhase(sim.now()) > 0);
    std::uint64_t resumedAt = sim.now();
    auto resumed = sim.rollout().resume("dave", sim.now());
    REQUIRE(resumed.ok());
    sim.take(*resumed);
    CHECK(statusName(sim.rollout()) == "analyzing");
    sim.run(3600, [&] { return sim.checks().size() > checksBefore; });
    auto after = sim.checks();
    REQUIRE(after.size() > checksBefore);
    CHECK(after[checksBefore].result.look == 3);
    CHECK(after[checksBefore].step == 1);
    // The look falls due when the rest of its interval has passed, not at once.
    CHECK(after[checksBefore].atMillis >= resumedAt + kLookMillis / 2);
    sim.run(3600);
    INFO(sim.events());
    CHECK(statusName(sim.rollout()) == "succeeded");
    CHECK(sim.events().find("continues from look 2/6") != std::string::npos);
  }
  SUBCASE("a bad build is not rolled back while paused, and is after resume") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.behaviour["2.0"].latencyMicros = 90'000;
    sim.start();
    sim.runUntilStatus(RolloutStatus::kWarmingUp);
    auto paused = sim.rollout().pause("dave", sim.now());
    REQUIRE(paused.ok());
    sim.take(*paused);
    sim.run(600);
    CHECK(sim.checks().empty());
    CHECK(statusName(sim.rollout()) == "waiting_for_operator");
    CHECK(sim.rollout().state().step.phase == StepPhase::kWarmingUp);
    CHECK(rolledBack(sim).empty());
    std::uint64_t resumedAt = sim.now();
    auto resumed = sim.rollout().resume("dave", sim.now());
    REQUIRE(resumed.ok());
    sim.take(*resumed);
    CHECK(statusName(sim.rollout()) == "warming_up");
    sim.run(3600);
    INFO(sim.events());
    CHECK(statusName(sim.rollout()) == "rolled_back");
    auto checks = sim.checks("latency");
    REQUIRE_FALSE(checks.empty());
    CHECK(checks.front().result.look == 1);
    CHECK(checks.front().atMillis > resumedAt);
    checkEveryHostOnItsOldRelease(sim);
  }
  SUBCASE("the paused step survives a store and reload") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.start();
    sim.run(3600, [&] { return sim.rollout().state().step.lastLook == 2; });
    auto paused = sim.rollout().pause("dave", sim.now());
    REQUIRE(paused.ok());
    sim.take(*paused);
    sim.run(100);
    auto state = stateFromJson(stateToJson(sim.rollout().state()));
    REQUIRE(state.ok());
    CHECK(state->operatorPause);
    CHECK(state->pausedAtMillis == sim.rollout().state().pausedAtMillis);
    CHECK(state->step.lastLook == 2);
    sim.replaceRollout(Rollout(std::move(*state)));
    auto resumed = sim.rollout().resume("dave", sim.now());
    REQUIRE(resumed.ok());
    sim.take(*resumed);
    CHECK(sim.rollout().state().step.pausedMillis >= 100'000);
    sim.run(3600);
    CHECK(statusName(sim.rollout()) == "succeeded");
  }
}

TEST_CASE("abort works in every state and undoes only what the rollout changed") {
  struct Case {
    std::string name;
    std::function<void(Sim&)> reach;
    std::string expected;  // final status
  };
  auto untilStatus = [](RolloutStatus status) {
    return [status](Sim& sim) { sim.runUntilStatus(status); };
  };
  auto untilStep = [](std::uint32_t step, StepPhase phase) {
    return [step, phase](Sim& sim) {
      sim.run(3600, [&] {
        return sim.rollout().state().currentStep == step &&
               sim.rollout().state().step.phase == phase;
      });
    };
  };
  std::vector<Case> cases = {
      {"pending", [](Sim&) {}, "aborted"},
      {"installing", untilStatus(RolloutStatus::kInstalling), "aborted"},
      {"warming up", untilStatus(RolloutStatus::kWarmingUp), "aborted"},
      {"analysing the canary", untilStatus(RolloutStatus::kAnalyzing), "aborted"},
      {"installing the cluster step", untilStep(1, StepPhase::kInstalling), "aborted"},
      {"analysing the region stage", untilStep(2, StepPhase::kAnalyzing), "aborted"},
      {"warming up in the fleet stage", untilStep(4, StepPhase::kWarmingUp), "aborted"},
      {"waiting for an operator",
       [](Sim& sim) {
         auto r = sim.rollout().pause("erin", sim.now());
         REQUIRE(r.ok());
         sim.take(*r);
         sim.run(300);
         REQUIRE(sim.rollout().status() == RolloutStatus::kWaitingForOperator);
       },
       "aborted"},
      {"rolling back",
       [](Sim& sim) {
         sim.runUntilStatus(RolloutStatus::kAnalyzing);
         auto r = sim.rollout().rollback("erin", "test", sim.now());
         REQUIRE(r.ok());
         sim.take(*r);
         REQUIRE(sim.rollout().status() == RolloutStatus::kRollingBack);
       },
       "aborted"},
      {"succeeded", [](Sim& sim) { sim.run(3600); }, "succeeded"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto hosts = fleet8();
    hosts.push_back(makeHost("eu-c1", "eu", "eu-c", "1.0", false));  // unhealthy: never touched
    Sim sim(hosts, makeRollout(hosts));
    if (c.name != "pending") sim.start();
    c.reach(sim);
    std::set<std::string> changedBefore = installed(sim);
    sim.take(sim.rollout().abort("erin", "stop everything", sim.now()));
    sim.run(600);
    INFO(sim.events());
    CHECK(statusName(sim.rollout()) == c.expected);
    CHECK(installed(sim) == changedBefore);  // nothing new installed after the abort
    if (c.expected == "aborted") {
      CHECK(rolledBack(sim) == changedBefore);  // only what it changed
      checkEveryHostOnItsOldRelease(sim);
      CHECK(sim.rollout().pendingCommands().empty());
    } else {
      CHECK(rolledBack(sim).empty());
    }
    CHECK(sim.releases().at("eu-c1") == "1.0");
  }
}

TEST_CASE("a canary whose agent goes silent during analysis fails its stage") {
  SUBCASE("no telemetry for silence_seconds") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.start();
    sim.runUntilStatus(RolloutStatus::kAnalyzing);
    sim.silent.insert("eu-a1");
    sim.run(120, [&] { return sim.rollout().status() == RolloutStatus::kRollingBack; });
    INFO(sim.events());
    REQUIRE(statusName(sim.rollout()) == "rolling_back");
    CHECK(sim.rollout().state().endReason.find("host eu-a1 sent no telemetry") !=
          std::string::npos);
    CHECK(sim.rollout().state().currentStep == 0);
    // The agent comes back, obeys the rollback, and nothing was promoted.
    sim.silent.clear();
    sim.run(600);
    CHECK(statusName(sim.rollout()) == "rolled_back");
    CHECK(installed(sim) == std::set<std::string>{"eu-a1"});
    checkEveryHostOnItsOldRelease(sim);
  }
  SUBCASE("the registry marks the canary unhealthy") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.start();
    sim.runUntilStatus(RolloutStatus::kAnalyzing);
    sim.take(sim.rollout().onHostHealth("eu-a1", false, sim.now()));
    CHECK(statusName(sim.rollout()) == "rolling_back");
    CHECK(sim.rollout().state().endReason.find("host eu-a1 stopped reporting") !=
          std::string::npos);
    sim.run(600);
    CHECK(statusName(sim.rollout()) == "rolled_back");
    checkEveryHostOnItsOldRelease(sim);
  }
}

TEST_CASE(
    "a failed install fails the stage; a later stage's failure rolls back every changed host") {
  auto hosts = fleet8();
  Sim sim(hosts, makeRollout(hosts));
  sim.failInstall.insert("us-b1");  // in the last fleet batch, whose control us-b2 waits
  sim.start();
  sim.run(3600);
  INFO(sim.events());
  REQUIRE(statusName(sim.rollout()) == "rolled_back");
  CHECK(sim.rollout().state().endReason.find("install of 2.0 on host us-b1") != std::string::npos);
  CHECK(sim.rollout().state().endReason.find("fleet") != std::string::npos);
  // us-b1 never left 1.0 (the agent switched back by itself): no rollback sent to it.
  auto back = rolledBack(sim);
  CHECK(back.count("us-b1") == 0);
  CHECK(back.count("us-b2") == 0);  // the held control was never changed
  CHECK(back.size() == 6);
  checkEveryHostOnItsOldRelease(sim);
}

TEST_CASE("a host that never answers its rollback ends the rollout rolled_back_incomplete") {
  PlanConfig plan = fastPlan();
  plan.rollbackTimeoutSeconds = 120;
  Sim sim(fleet8(), makeRollout(fleet8(), plan));
  sim.start();
  sim.runUntilStatus(RolloutStatus::kAnalyzing);
  sim.silent.insert("eu-a1");  // the canary's agent is gone: silence fails the step
  sim.runUntilStatus(RolloutStatus::kRollingBack, 120);
  REQUIRE(statusName(sim.rollout()) == "rolling_back");
  sim.run(600);
  INFO(sim.events());
  REQUIRE(statusName(sim.rollout()) == "rolled_back_incomplete");
  CHECK(isTerminal(sim.rollout().status()));
  const std::string& reason = sim.rollout().state().endReason;
  CHECK(reason.find("did not reach eu-a1 (on 2.0) within 120 s") != std::string::npos);
  CHECK(reason.find("sent no telemetry") != std::string::npos);  // why it rolled back, too
  // Its rollback stays pending: the coordinator re-sends it when the host says hello.
  auto pending = sim.rollout().pendingCommands();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].host == "eu-a1");
  CHECK(std::holds_alternative<RollBackRelease>(pending[0].body));
  // The state (and its new status name) survives a store and reload.
  auto state = stateFromJson(stateToJson(sim.rollout().state()));
  REQUIRE(state.ok());
  CHECK(state->outcome == RolloutStatus::kRolledBackIncomplete);
  sim.replaceRollout(Rollout(std::move(*state)));
  // The host returns and obeys the rollback it was sent.
  sim.silent.clear();
  for (int i = 0; i < 5; ++i) sim.stepSecond();
  CHECK(sim.releases().at("eu-a1") == "1.0");
  CHECK(sim.rollout().pendingCommands().empty());
  CHECK(statusName(sim.rollout()) == "rolled_back_incomplete");
  CHECK(sim.events().find("host eu-a1 is back on 1.0 (it returned after the rollout ended "
                          "rolled_back_incomplete)") != std::string::npos);
  checkEveryHostOnItsOldRelease(sim);
}

TEST_CASE("a state stored before the pause and rollback-timeout fields loads with defaults") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  sim.runUntilStatus(RolloutStatus::kAnalyzing);
  auto j = nlohmann::json::parse(stateToJson(sim.rollout().state()));
  j["rollout"].erase("pausedAtMillis");
  j["rollout"].erase("rollbackStartedMillis");
  j["rollout"]["planConfig"].erase("rollbackTimeoutSeconds");
  j["rollout"]["step"].erase("pausedMillis");
  j["rollout"]["step"].erase("pauseEndedMillis");
  auto state = stateFromJson(j.dump());
  REQUIRE_MESSAGE(state.ok(), (state.ok() ? "" : state.error().message));
  CHECK(state->planConfig.rollbackTimeoutSeconds == 600);
  CHECK(state->step.pausedMillis == 0);
  CHECK(*state == sim.rollout().state());
}

TEST_CASE("an install that never finishes times out and fails the stage") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.silent.insert("eu-a1");  // never answers
  sim.start();
  sim.run(120, [&] { return sim.rollout().status() == RolloutStatus::kRollingBack; });
  CHECK(statusName(sim.rollout()) == "rolling_back");
  CHECK(sim.rollout().state().endReason.find("did not finish within 60 s on eu-a1") !=
        std::string::npos);
  // Its rollback is pending until the host answers; the coordinator can re-send it.
  auto pending = sim.rollout().pendingCommands();
  REQUIRE(pending.size() == 1);
  CHECK(std::holds_alternative<RollBackRelease>(pending[0].body));
  sim.silent.clear();
  sim.run(60);
  CHECK(statusName(sim.rollout()) == "rolled_back");
}

TEST_CASE(
    "state survives JSON mid-stage and the rollout ends as it would have, deciding nothing twice") {
  struct Case {
    std::string name;
    std::function<void(Sim&)> setup;
    std::uint64_t stopAtSecond;
    RolloutStatus statusAtStop;
  };
  std::vector<Case> cases = {
      {"good build, cluster stage analysing", [](Sim&) {}, 130, RolloutStatus::kAnalyzing},
      {"good build, region stage installing", [](Sim&) {}, 146, RolloutStatus::kInstalling},
      {"3% 5xx, canary warming up", [](Sim& sim) { sim.behaviour["2.0"].ratio5xx = 0.03; }, 8,
       RolloutStatus::kWarmingUp},
      {"3% 5xx, canary analysing", [](Sim& sim) { sim.behaviour["2.0"].ratio5xx = 0.03; }, 15,
       RolloutStatus::kAnalyzing},
      {"cpu warn, waiting for an operator",
       [](Sim& sim) { sim.behaviour["2.0"].cpuMillisPerSecond = 160; }, 80,
       RolloutStatus::kWaitingForOperator},
      {"silent canary, rolling back", [](Sim& sim) { sim.silent.insert("eu-a1"); }, 70,
       RolloutStatus::kRollingBack},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Sim straight(fleet8(), makeRollout(fleet8()));
    Sim resumed(fleet8(), makeRollout(fleet8()));
    straight.start();
    resumed.start();
    for (std::uint64_t s = 0; s < c.stopAtSecond; ++s) {
      if (s == 2) {  // after the canary's install
        c.setup(straight);
        c.setup(resumed);
      }
      straight.stepSecond();
      resumed.stepSecond();
    }
    REQUIRE(statusName(resumed.rollout().status()) == statusName(c.statusAtStop));
    if (c.statusAtStop == RolloutStatus::kRollingBack) {
      straight.silent.clear();
      resumed.silent.clear();
    }
    std::string json = stateToJson(resumed.rollout().state());
    auto state = stateFromJson(json);
    REQUIRE_MESSAGE(state.ok(), (state.ok() ? "" : state.error().message));
    CHECK(stateToJson(*state) == json);
    std::size_t before = resumed.log().size();
    resumed.replaceRollout(Rollout(std::move(*state)));
    runPromoting(straight);
    runPromoting(resumed);
    CHECK(isTerminal(straight.rollout().status()));
    CHECK(statusName(resumed.rollout().status()) == statusName(straight.rollout().status()));
    CHECK(render(resumed.log()) == render(straight.log()));  // the same actions, none repeated
    CHECK(resumed.log().size() > before);
    CHECK(resumed.releases() == straight.releases());
  }
}

TEST_CASE("malformed state is refused with a message") {
  CHECK_FALSE(stateFromJson("").ok());
  CHECK_FALSE(stateFromJson("{\"format\": 2, \"rollout\": {}}").ok());
  auto missing = stateFromJson("{\"format\": 1, \"rollout\": {}}");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("rollout state:") == 0);
}

TEST_CASE("state with bytes that are not UTF-8 (a signature, a peer's message) still stores") {
  Rollout rollout = makeRollout(fleet8());
  auto actions = rollout.start(Sim::kStart);
  CommandResult failed;
  failed.outcome = Outcome::kFailed;
  failed.activeRelease = "1.0";
  failed.message = std::string("bad \xff\xfe bytes");
  rollout.onCommandResult("eu-a1", 0, failed, Sim::kStart + 1000);
  CHECK(rollout.status() == RolloutStatus::kRolledBack);
  std::string json;
  REQUIRE_NOTHROW(json = stateToJson(rollout.state()));
  auto state = stateFromJson(json);
  REQUIRE(state.ok());
  CHECK(state->spec.artifact.signature == rollout.state().spec.artifact.signature);
  CHECK(state->endReason.find("install of 2.0 on host eu-a1 failed") != std::string::npos);
}

TEST_CASE(
    "state stored without windows, resumed with the step's windows replayed, decides the same") {
  Sim straight(fleet8(), makeRollout(fleet8()));
  Sim resumed(fleet8(), makeRollout(fleet8()));
  straight.behaviour["2.0"].latencyMicros = 70'000;  // rolled back in the canary step
  resumed.behaviour["2.0"].latencyMicros = 70'000;
  straight.start();
  resumed.start();
  for (int s = 0; s < 25; ++s) {
    straight.stepSecond();
    resumed.stepSecond();
  }
  REQUIRE(resumed.rollout().status() == RolloutStatus::kAnalyzing);
  // The "telemetry store": what the coordinator kept of the step's windows.
  std::vector<StoredWindow> store = resumed.rollout().state().step.windows;
  REQUIRE(store.size() >= 4);
  std::string light = stateToJson(resumed.rollout().state(), false);
  CHECK(light.size() < stateToJson(resumed.rollout().state()).size());
  auto state = stateFromJson(light);
  REQUIRE(state.ok());
  CHECK(state->step.windows.empty());
  resumed.replaceRollout(Rollout(std::move(*state)));
  TelemetryWanted wanted = resumed.rollout().telemetryWanted();
  CHECK(wanted.hosts == std::vector<std::string>{"eu-a1", "eu-a2"});
  CHECK(wanted.service == "web");
  for (const auto& stored : store) {
    if (stored.window.startMillis >= wanted.sinceMillis) {
      resumed.take(resumed.rollout().onTelemetry(stored.host, stored.window, resumed.now()));
    }
  }
  // Replaying twice changes nothing (duplicates are ignored).
  for (const auto& stored : store) {
    resumed.take(resumed.rollout().onTelemetry(stored.host, stored.window, resumed.now()));
  }
  CHECK(resumed.rollout().state().step.windows.size() == store.size());
  straight.run(3600);
  resumed.run(3600);
  CHECK(statusName(resumed.rollout()) == "rolled_back");
  CHECK(statusName(straight.rollout()) == "rolled_back");
  auto a = straight.checks(), b = resumed.checks();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].result.explanation == b[i].result.explanation);
    CHECK(a[i].atMillis == b[i].atMillis);
  }
}

TEST_CASE("the summary for watch shows the step, its hosts, each check and the time left") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  sim.run(50);
  REQUIRE(sim.rollout().status() == RolloutStatus::kAnalyzing);
  auto summary = nlohmann::json::parse(summaryJson(sim.rollout(), sim.now()));
  CHECK(summary["status"] == "analyzing");
  CHECK(summary["stage"] == "canary");
  CHECK(summary["step"] == 1);
  CHECK(summary["steps"] == 7);
  CHECK(summary["comparisonKind"] == "baseline");
  CHECK(summary["smallFleetWarning"] == "");
  CHECK(summary["targets"][0]["host"] == "eu-a1");
  CHECK(summary["targets"][0]["release"] == "2.0");
  CHECK(summary["targets"][0]["fromRelease"] == "1.0");
  CHECK(summary["comparison"][0]["host"] == "eu-a2");
  CHECK(summary["millisLeft"].get<std::uint64_t>() ==
        sim.rollout().state().step.analysisEndMillis - sim.now());
  CHECK(summary["checks"].size() == defaultGatesConfig().checks.size());
  CHECK(summary["checks"][0]["name"] == "http_5xx");
  CHECK(summary["checks"][0].contains("pValue"));
}

TEST_CASE("a coordinator down for ten minutes resumes without blaming the hosts for its silence") {
  for (std::uint64_t stopAt : {5u, 40u}) {  // warming up / analysing the canary
    CAPTURE(stopAt);
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.start();
    for (std::uint64_t s = 0; s < stopAt; ++s) sim.stepSecond();
    auto state = stateFromJson(stateToJson(sim.rollout().state()));
    REQUIRE(state.ok());
    sim.skipSeconds(600);  // down: no ticks, the agents' windows are lost
    Rollout restarted(std::move(*state));
    // Without resumed() the first tick would call the canary silent.
    Rollout careless = restarted;
    (void)careless.tick(sim.now());
    CHECK(careless.status() == RolloutStatus::kRollingBack);
    auto actions = restarted.resumed(sim.now());
    REQUIRE(actions.size() == 1);
    CHECK(std::get<RecordEvent>(actions[0]).text.find("resumed after a coordinator restart") !=
          std::string::npos);
    sim.replaceRollout(std::move(restarted));
    sim.run(3600);
    INFO(sim.events());
    CHECK(statusName(sim.rollout()) == "succeeded");
    CHECK(rolledBack(sim).empty());
  }
}

TEST_CASE("a coordinator that stalls resumes its rollouts, saying so, and the hosts are not blamed") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  for (int s = 0; s < 40; ++s) sim.stepSecond();  // analysing the canary
  sim.skipSeconds(50);  // the loop stalled for longer than silence_seconds: nothing read
  Rollout& r = sim.rollout();
  Rollout careless = r;
  (void)careless.tick(sim.now());
  CHECK(careless.status() == RolloutStatus::kRollingBack);  // the canary called silent
  auto actions = r.resumed(sim.now(), "the coordinator stalled for 50.0 s");
  REQUIRE(actions.size() == 1);
  CHECK(std::get<RecordEvent>(actions[0]).text.find(
            "resumed after the coordinator stalled for 50.0 s in step 1/") != std::string::npos);
  (void)r.tick(sim.now());
  CHECK(r.status() != RolloutStatus::kRollingBack);
  sim.run(3600);
  INFO(sim.events());
  CHECK(statusName(sim.rollout()) == "succeeded");
  CHECK(rolledBack(sim).empty());
}

namespace {
std::vector<HostInfo> twoHosts() { return {makeHost("a1", "eu", "a"), makeHost("a2", "eu", "a")}; }
}  // namespace

TEST_CASE("the last step compares its host with its own windows from before the switch") {
  SUBCASE("a good build passes it on real comparisons, and the start says the fleet is small") {
    Sim sim(twoHosts(), makeRollout(twoHosts()));
    sim.start();
    sim.run(3600);
    INFO(sim.events());
    REQUIRE(statusName(sim.rollout()) == "succeeded");
    CHECK(sim.events().find("plan: the fleet is too small for a comparison with other hosts "
                            "after the canary step") != std::string::npos);
    std::size_t lastStepChecks = 0;
    for (const auto& check : sim.checks("cpu")) {
      if (check.step != 2) continue;  // 1-based: the last step
      ++lastStepChecks;
      CHECK(check.comparisonHosts == std::vector<std::string>{"a2"});
      CHECK((check.result.verdict != Verdict::kSkipped));
      CHECK(check.result.baselineCount >= 5);  // windows of a2 on 1.0 before its switch
    }
    CHECK(lastStepChecks > 0);
  }
  SUBCASE("a build that raises CPU is held at the last step too") {
    Sim sim(twoHosts(), makeRollout(twoHosts()));
    Behaviour hungry;
    hungry.cpuMillisPerSecond = 160;
    sim.behaviour["2.0"] = hungry;
    sim.start();
    sim.runUntilStatus(RolloutStatus::kWaitingForOperator);
    REQUIRE(sim.rollout().state().currentStep == 0);
    sim.run(600, [&] { return sim.rollout().state().step.analysisComplete; });
    auto promoted = sim.rollout().promote("erin", sim.now());
    REQUIRE(promoted.ok());
    sim.take(*promoted);
    sim.run(60);
    REQUIRE(sim.rollout().state().currentStep == 1);
    sim.runUntilStatus(RolloutStatus::kWaitingForOperator);
    INFO(sim.events());
    CHECK(sim.rollout().state().step.hold == Hold::kWarn);
    CHECK(sim.rollout().state().step.holdReason.find("warn check cpu failed") != std::string::npos);
  }
  SUBCASE("after a restart without windows, the pre-switch windows are replayed") {
    Sim sim(twoHosts(), makeRollout(twoHosts()));
    sim.start();
    sim.run(3600, [&] {
      return sim.rollout().state().currentStep == 1 &&
             sim.rollout().status() == RolloutStatus::kAnalyzing;
    });
    REQUIRE(sim.rollout().state().currentStep == 1);
    std::vector<StoredWindow> store = sim.rollout().state().step.windows;
    std::size_t before = 0;
    for (const auto& stored : store) before += stored.target ? 0 : 1;
    REQUIRE(before >= 5);
    auto state = stateFromJson(stateToJson(sim.rollout().state(), false));
    REQUIRE(state.ok());
    CHECK(state->plan.steps[1].comparisonKind == ComparisonKind::kOwnPreSwitch);
    sim.replaceRollout(Rollout(std::move(*state)));
    TelemetryWanted wanted = sim.rollout().telemetryWanted();
    CHECK(wanted.hosts == std::vector<std::string>{"a2", "a2"});
    std::size_t replayed = 0;
    for (const auto& stored : store) {
      if (stored.window.startMillis < wanted.sinceMillis) continue;
      sim.take(sim.rollout().onTelemetry(stored.host, stored.window, sim.now()));
      replayed += stored.target ? 0 : 1;
    }
    CHECK(replayed == before);
    sim.run(3600);
    CHECK(statusName(sim.rollout()) == "succeeded");
  }
}

TEST_CASE("a pause before the held control switches does not starve its pre-switch comparison") {
  std::vector<HostInfo> hosts{makeHost("a1", "eu", "a"), makeHost("a2", "eu", "a"),
                              makeHost("a3", "eu", "a")};
  Sim sim(hosts, makeRollout(hosts));
  REQUIRE(sim.rollout().state().plan.steps.size() == 3);  // canary, a3 vs held a2, a2 alone
  sim.start();
  sim.run(3600, [&] { return sim.rollout().state().currentStep == 1; });
  REQUIRE(sim.rollout().state().currentStep == 1);
  auto paused = sim.rollout().pause("frank", sim.now());
  REQUIRE(paused.ok());
  sim.take(*paused);
  sim.run(600);  // the held step's window ends; the pause keeps a2 on 1.0 for ten minutes
  REQUIRE(sim.rollout().state().currentStep == 1);
  auto resumed = sim.rollout().resume("frank", sim.now());
  REQUIRE(resumed.ok());
  sim.take(*resumed);
  sim.run(3600);
  INFO(sim.events());
  CHECK(statusName(sim.rollout()) == "succeeded");
  bool seen = false;
  for (const auto& check : sim.checks("cpu")) {
    if (check.step != 3) continue;
    seen = true;
    // The pre-switch span is the stage's 60 s analysis window: its 10 s windows before the switch.
    CHECK(check.result.baselineCount >= 5);
    CHECK(check.result.baselineCount <= 7);
  }
  CHECK(seen);
}
