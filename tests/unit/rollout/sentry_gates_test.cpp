// The gates on what the application's Sentry SDK reports: exceptions per request and crashed
// sessions (Fisher), and new error types; each on its own and through the rollout engine.
#include <doctest/doctest.h>

#include <cmath>

#include "common/gate_json.h"
#include "coordinator/rollout/gates.h"
#include "tests/unit/rollout/sim.h"

using namespace rollgate;
using namespace rollgate::rollout;
using namespace rollgate::rollout::testing;

namespace {

std::string statusOf(const Rollout& rollout) { return std::string(statusName(rollout.status())); }

const CheckSpec& check(const std::string& name) {
  static const GatesConfig gates = defaultGatesConfig();
  for (const auto& c : gates.checks) {
    if (c.name == name) return c;
  }
  FAIL("no default check " << name);
  return gates.checks.front();
}

// A group of `windows` windows of 1000 requests with `errors` error events and `crashed` of
// `sessions` sessions each, and the given fingerprints in every window.
GroupData group(std::uint64_t windows, std::uint64_t errors, std::uint64_t sessions,
                std::uint64_t crashed, std::vector<SentryFingerprint> prints = {},
                bool sentry = true) {
  GroupData g;
  g.hostCount = 1;
  for (std::uint64_t i = 0; i < windows; ++i) {
    TelemetryWindow w;
    w.startMillis = i * 10'000;
    w.endMillis = w.startMillis + 10'000;
    w.requests = w.status2xx = 1000;
    w.sentry.enabled = sentry;
    w.sentry.errors = errors;
    w.sentry.sessions = sessions;
    w.sentry.sessionsCrashed = crashed;
    w.sentry.fingerprints = prints;
    addWindow(g, w);
  }
  return g;
}

CheckResult evaluate(const std::string& name, const GroupData& canary, const GroupData& comparison,
                     std::uint32_t look = 6, bool hasComparison = true) {
  PlanCache plans;
  return evaluateCheck(check(name), canary, comparison, hasComparison, look, 6, plans);
}

}  // namespace

TEST_CASE("exceptions per request: 3% against 0.5% fails, the same rate passes") {
  CheckResult worse = evaluate("exceptions", group(6, 30, 0, 0), group(6, 5, 0, 0));
  CHECK((worse.verdict == Verdict::kFail));
  CHECK((worse.tier == Tier::kCritical));
  CHECK(worse.canaryEvents == 180);
  CHECK(worse.canaryCount == 6180);
  CHECK(worse.explanation.find("exceptions per request") != std::string::npos);
  CheckResult same = evaluate("exceptions", group(6, 5, 0, 0), group(6, 5, 0, 0));
  CHECK((same.verdict == Verdict::kPass));
}

TEST_CASE("crashed sessions: 10% against 1% fails; equal crash-free rates pass") {
  CheckResult worse = evaluate("crash_free_sessions", group(6, 0, 50, 5), group(6, 0, 50, 0));
  CHECK((worse.verdict == Verdict::kFail));
  CHECK(worse.canaryEvents == 30);
  CHECK(worse.canaryCount == 300);
  CheckResult same = evaluate("crash_free_sessions", group(6, 0, 50, 1), group(6, 0, 50, 1));
  CHECK((same.verdict == Verdict::kPass));
  // Fewer than 50 sessions a side: not enough data, never a pass.
  CheckResult few = evaluate("crash_free_sessions", group(2, 0, 10, 5), group(2, 0, 10, 0));
  CHECK((few.verdict == Verdict::kNotEnoughData));
}

TEST_CASE("new error types: a type only the canary raised, at least 5 times, fails with its details") {
  SentryFingerprint background{"KeyError", "app.orders.load", 3, 0, "'missing'"};
  SentryFingerprint fresh{"ZeroDivisionError", "app.checkout.total", 2, 1, "division by zero"};
  CheckResult r = evaluate("new_error_types", group(6, 5, 0, 0, {background, fresh}),
                           group(6, 3, 0, 0, {background}));
  CHECK((r.verdict == Verdict::kFail));
  CHECK((r.tier == Tier::kWarn));
  REQUIRE(r.errorTypes.size() == 1);
  CHECK(r.errorTypes[0] == stats::ErrorTypeFinding{"ZeroDivisionError", "app.checkout.total",
                                                   "division by zero", 12, 0});
  CHECK(r.explanation.find("ZeroDivisionError at app.checkout.total (12 canary events, 0 "
                           "comparison, e.g. \"division by zero\")") != std::string::npos);
  CHECK(r.canaryEvents == 12);
  CHECK(r.pValue == doctest::Approx(std::pow(0.5, 12)));
  // The explanation survives the JSON the admin API and the store use.
  nlohmann::json j = r;
  CheckResult back = j.get<CheckResult>();
  CHECK(back.errorTypes == r.errorTypes);
  CHECK(back.explanation == r.explanation);
}

TEST_CASE("new error types: seen on the comparison too, or under the minimum, passes") {
  SentryFingerprint fresh{"ZeroDivisionError", "app.checkout.total", 2, 0, "division by zero"};
  CHECK((evaluate("new_error_types", group(3, 2, 0, 0, {fresh}), group(3, 1, 0, 0, {{fresh.type, fresh.frame, 1, 0, ""}}))
             .verdict == Verdict::kPass));
  // The same type at another frame is another fingerprint.
  CHECK((evaluate("new_error_types", group(6, 2, 0, 0, {fresh}),
                  group(6, 2, 0, 0, {{fresh.type, "app.other", 2, 0, ""}}))
             .verdict == Verdict::kFail));
  CheckResult few = evaluate("new_error_types", group(2, 2, 0, 0, {fresh}), group(2, 0, 0, 0));
  CHECK((few.verdict == Verdict::kPass));  // 4 events < 5
  CHECK(few.errorTypes.empty());
  // 12 events, none on a comparison group that had a tenth of the canary's requests: 0.91^12 is
  // far above alpha, the comparison simply saw too little to say the type is new.
  CheckResult unseen = evaluate("new_error_types", group(10, 2, 0, 0, {fresh}), group(1, 0, 0, 0));
  CHECK((unseen.verdict == Verdict::kPass));
  CHECK(unseen.explanation.find("share of the requests (0.909)") != std::string::npos);
}

TEST_CASE("Sentry checks: skipped without Sentry counts, not enough data when one side lacks them") {
  GroupData none = group(6, 0, 0, 0, {}, false);
  GroupData some = group(6, 5, 50, 0);
  for (const char* name : {"exceptions", "crash_free_sessions", "new_error_types"}) {
    CAPTURE(name);
    CHECK((evaluate(name, none, none).verdict == Verdict::kSkipped));
    CHECK((evaluate(name, some, none).verdict == Verdict::kNotEnoughData));
    CHECK((evaluate(name, none, some).verdict == Verdict::kNotEnoughData));
    CHECK((evaluate(name, none, none, 6, false).verdict == Verdict::kSkipped));
  }
  CHECK((evaluate("new_error_types", some, none, 6, false).verdict == Verdict::kSkipped));
}

TEST_CASE("gate config: the Sentry checks by name, and new_types only on new_error_types") {
  auto gates = parseGatesConfig(R"(
[[check]]
name = "types"
metric = "new_error_types"
test = "new_types"
min_data = 3
tier = "critical"
[[check]]
name = "crashes"
metric = "crashed_sessions"
test = "fisher"
)", "gates.toml");
  REQUIRE_MESSAGE(gates.ok(), (gates.ok() ? "" : gates.error().message));
  CHECK((gates->checks[0].metric == Metric::kNewErrorTypes));
  CHECK(gates->checks[0].minData == 3);
  auto wrong = parseGatesConfig("[[check]]\nname = \"x\"\nmetric = \"latency\"\ntest = \"new_types\"\n",
                                "gates.toml");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("test \"new_types\" does not apply to metric \"latency\"") !=
        std::string::npos);
}

namespace {
Behaviour sentryApp() {
  Behaviour b;
  b.sentry = true;
  b.exceptionsPerRequest = 0.005;  // a steady background of handled exceptions
  b.sessionsPerWindow = 100;
  b.crashedShare = 0.01;
  return b;
}
}  // namespace

TEST_CASE("rollouts: higher exception rate and crashed sessions roll back at the canary") {
  SUBCASE("exceptions") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.defaultBehaviour = sentryApp();
    Behaviour bad = sentryApp();
    bad.exceptionsPerRequest = 0.03;
    sim.behaviour["2.0"] = bad;
    sim.start();
    sim.run(3600);
    REQUIRE(statusOf(sim.rollout()) == "rolled_back");
    CHECK(sim.rollout().state().endReason.find("canary") != std::string::npos);
    CHECK(sim.rollout().state().endReason.find("exceptions") != std::string::npos);
  }
  SUBCASE("crashed sessions") {
    Sim sim(fleet8(), makeRollout(fleet8()));
    sim.defaultBehaviour = sentryApp();
    Behaviour bad = sentryApp();
    bad.crashedShare = 0.15;
    sim.behaviour["2.0"] = bad;
    sim.start();
    sim.run(3600);
    REQUIRE(statusOf(sim.rollout()) == "rolled_back");
    CHECK(sim.rollout().state().endReason.find("crash_free_sessions") != std::string::npos);
  }
}

TEST_CASE("rollouts: a new error type holds the canary for an operator (warn)") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.defaultBehaviour = sentryApp();
  Behaviour bad = sentryApp();
  bad.newErrorType = "ZeroDivisionError";
  bad.newErrorsPerWindow = 2;
  sim.behaviour["2.0"] = bad;
  sim.start();
  sim.runUntilStatus(RolloutStatus::kWaitingForOperator, 3600);
  REQUIRE(statusOf(sim.rollout()) == "waiting_for_operator");
  CHECK((sim.rollout().state().step.hold == Hold::kWarn));
  CHECK(sim.rollout().state().step.holdReason.find("new_error_types") != std::string::npos);
  CHECK(sim.rollout().state().step.holdReason.find("ZeroDivisionError") != std::string::npos);
  CHECK(sim.rollout().state().currentStep == 0);  // the canary step
}

TEST_CASE("rollouts: A/A with a steady background of exceptions and crashes: false alarms within alpha") {
  // Every step's Sentry checks look at a steady 0.5% exception rate and 1% crashed sessions on
  // both sides. Each check's alpha (0.01) bounds its false alarms per step; over 30 rollouts of up
  // to 7 steps that is at most 2.1 expected alarms per check. A rollout stopped by a Sentry check
  // counts once; more than twice the budget of both count checks together would mean the checks
  // are biased.
  constexpr int kRollouts = 30;
  int succeeded = 0, sentryAlarms = 0;
  for (std::uint64_t seed = 1; seed <= kRollouts; ++seed) {
    Sim sim(fleet8(), makeRollout(fleet8()), seed);
    sim.defaultBehaviour = sentryApp();
    sim.start();
    sim.run(7200);
    const std::string why = sim.rollout().state().endReason + sim.rollout().state().step.holdReason;
    if (statusOf(sim.rollout()) == "succeeded") {
      ++succeeded;
    } else {
      MESSAGE("seed " << seed << ": " << statusOf(sim.rollout()) << ": " << why);
      CHECK(why.find("new_error_types") == std::string::npos);  // the same types on both sides
      if (why.find("exceptions") != std::string::npos ||
          why.find("crash_free_sessions") != std::string::npos) {
        ++sentryAlarms;
      }
    }
  }
  CHECK(sentryAlarms <= 2 * 2 * kRollouts * 7 / 100);
  CHECK(succeeded + sentryAlarms == kRollouts);  // nothing else stops an A/A rollout
}
