#include <doctest/doctest.h>

#include "coordinator/rollout/rollout_config.h"

using namespace rollgate::rollout;

TEST_CASE("an empty plan and empty gates give the defaults") {
  auto plan = parsePlanConfig("", "plan.toml");
  REQUIRE(plan.ok());
  CHECK(*plan == defaultPlanConfig());
  CHECK(plan->canary.baselineRestart);
  CHECK(plan->region.batch.toString() == std::string("50%"));
  auto gates = parseGatesConfig("", "gates.toml");
  REQUIRE(gates.ok());
  CHECK(*gates == defaultGatesConfig());
}

TEST_CASE("the default gates are the ones the issue names") {
  auto gates = defaultGatesConfig();
  auto find = [&](const std::string& name) -> const CheckSpec& {
    for (const auto& check : gates.checks) {
      if (check.name == name) return check;
    }
    FAIL("no check " << name);
    return gates.checks.front();
  };
  CHECK((find("http_5xx").test == Test::kFisher));
  CHECK((find("http_5xx").tier == Tier::kCritical));
  CHECK((find("error_log").test == Test::kFisher));
  CHECK((find("error_log").tier == Tier::kWarn));
  CHECK((find("latency").test == Test::kMannWhitney));
  CHECK((find("latency").tier == Tier::kCritical));
  CHECK((find("latency_tail").test == Test::kTailFisher));
  CHECK((find("latency_tail").tier == Tier::kCritical));
  CHECK(find("latency_tail").quantile == doctest::Approx(0.99));
  CHECK(find("latency_tail").minEffect == doctest::Approx(50'000));  // 50 ms
  CHECK(find("latency_tail").minRatio == doctest::Approx(2.0));
  CHECK((find("cpu").tier == Tier::kWarn));
  CHECK((find("memory").tier == Tier::kWarn));
  CHECK(find("http_5xx_static").threshold == doctest::Approx(0.005));
  CHECK(find("http_2xx_static").threshold == doctest::Approx(0.90));
  CHECK((find("http_2xx_static").test == Test::kThresholdMin));
  CHECK((find("restarts").tier == Tier::kCritical));
}

TEST_CASE("plan keys override the defaults per stage") {
  auto plan = parsePlanConfig(R"(
window_seconds = 5
rollback_timeout_seconds = 900
[canary]
warmup_seconds = 3
analysis_seconds = 20
baseline_restart = false
weight = 10
[region]
batch = "25%"
[fleet]
batch = 2
install_timeout_seconds = 90
)",
                              "plan.toml", /*coordinatorWindowSeconds=*/5);
  REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.error().message));
  CHECK(plan->windowSeconds == 5);
  CHECK(plan->rollbackTimeoutSeconds == 900);
  CHECK(defaultPlanConfig().rollbackTimeoutSeconds == 600);
  CHECK(plan->canary.warmupSeconds == 3);
  CHECK(plan->canary.analysisSeconds == 20);
  CHECK_FALSE(plan->canary.baselineRestart);
  CHECK(plan->canary.weight == 10);
  CHECK(plan->region.weight == -1);  // unchanged: no weight is set
  CHECK(plan->region.batch == BatchSize{BatchSize::Kind::kPercent, 25});
  CHECK(plan->fleet.batch == BatchSize{BatchSize::Kind::kHosts, 2});
  CHECK(plan->fleet.installTimeoutSeconds == 90);
  CHECK(plan->cluster == defaultPlanConfig().cluster);
}

TEST_CASE("the coordinator's window decides: a plan follows it, one that disagrees is refused") {
  auto follows = parsePlanConfig("[canary]\nanalysis_seconds = 30\n", "plan.toml", 3);
  REQUIRE_MESSAGE(follows.ok(), (follows.ok() ? "" : follows.error().message));
  CHECK(follows->windowSeconds == 3);
  CHECK(defaultPlanConfig(3).windowSeconds == 3);
  CHECK(defaultPlanConfig().windowSeconds == kDefaultWindowSeconds);
  auto same = parsePlanConfig("window_seconds = 3\n[canary]\nanalysis_seconds = 30\n", "plan.toml", 3);
  REQUIRE(same.ok());
  CHECK(same->windowSeconds == 3);

  auto refused = parsePlanConfig("window_seconds = 1\n", "plan.toml", 10);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message ==
        "plan.toml: key 'window_seconds' = 1 disagrees with the coordinator's telemetry window of "
        "10 s ([coordinator] window_seconds in coordinator.toml, the length every agent cuts): "
        "remove window_seconds from the plan or make the two equal");
  // analysis_seconds is checked against the coordinator's window when the plan names none.
  auto tooShort = parsePlanConfig("[cluster]\nanalysis_seconds = 20\n", "plan.toml", 30);
  REQUIRE_FALSE(tooShort.ok());
  CHECK(tooShort.error().message.find("expected at least window_seconds (30), got 20") !=
        std::string::npos);
}

TEST_CASE("plan errors name the source, the key, what was expected and what was found") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"[region]\nbatch = \"25\"\nbatchsize = 3\n", "plan.toml: unknown key 'region.batchsize'"},
      {"[region]\nbatch = \"150%\"\n", "plan.toml: key 'region.batch': expected a number of hosts"},
      {"[fleet]\nbatch = 0\n", "got integer 0"},
      {"[canary]\nbatch = 2\n", "plan.toml: unknown key 'canary.batch'"},
      {"[canary]\nwarmup_seconds = \"60s\"\n",
       "plan.toml: key 'canary.warmup_seconds': expected a number of seconds from 0 to 604800, got "
       "string \"60s\""},
      {"canary = 3\n", "plan.toml: key 'canary': expected a table"},
      {"rollback_timeout_seconds = 0\n", "plan.toml: key 'rollback_timeout_seconds': expected"},
      {"[cluster]\nanalysis_seconds = 5\n",
       "plan.toml: key 'cluster.analysis_seconds': expected at least window_seconds (10), got 5"},
      {"[canary\n", "plan.toml:"},
      {"[canary]\nweight = 300\n", "plan.toml: key 'canary.weight'"},
      {"[cluster]\nweight = -1\n", "plan.toml: key 'cluster.weight'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto plan = parsePlanConfig(c.text, "plan.toml");
    REQUIRE_FALSE(plan.ok());
    CHECK_MESSAGE(plan.error().message.find(c.expected) != std::string::npos, plan.error().message);
  }
}

TEST_CASE("batch sizes in hosts and percent") {
  CHECK(parseBatch("25%")->hostsPerBatch(8) == 2);
  CHECK(parseBatch("25%")->hostsPerBatch(3) == 1);
  CHECK(parseBatch("50%")->hostsPerBatch(3) == 2);
  CHECK(parseBatch("100%")->hostsPerBatch(5) == 5);
  CHECK(parseBatch("2")->hostsPerBatch(5) == 2);
  CHECK(parseBatch("9")->hostsPerBatch(5) == 5);
  CHECK_FALSE(parseBatch("0").ok());
  CHECK_FALSE(parseBatch("101%").ok());
  CHECK_FALSE(parseBatch("x%").ok());
  CHECK_FALSE(parseBatch("").ok());
}

TEST_CASE("a gates file replaces the default checks") {
  auto gates = parseGatesConfig(R"(
[[check]]
name = "latency"
metric = "latency"
test = "mann_whitney"
alternative = "two-sided"
alpha = 0.05
min_effect = 2000
min_data = 10
tier = "warn"

[[check]]
name = "five"
metric = "http_5xx_ratio"
test = "threshold_max"
threshold = 0.01
)",
                                "gates.toml");
  REQUIRE_MESSAGE(gates.ok(), (gates.ok() ? "" : gates.error().message));
  REQUIRE(gates->checks.size() == 2);
  CHECK((gates->checks[0].alternative == Alternative::kTwoSided));
  CHECK(gates->checks[0].alpha == doctest::Approx(0.05));
  CHECK(gates->checks[0].minEffect == doctest::Approx(2000));
  CHECK(gates->checks[0].minData == 10);
  CHECK((gates->checks[0].tier == Tier::kWarn));
  CHECK((gates->checks[1].tier == Tier::kCritical));
  CHECK(gates->checks[1].threshold == doctest::Approx(0.01));
}

TEST_CASE("a tail check reads its quantile, 0.99 unless given") {
  auto gates = parseGatesConfig(R"(
[[check]]
name = "p99"
metric = "latency"
test = "tail_fisher"
min_effect = 20000
[[check]]
name = "p999"
metric = "latency"
test = "tail_fisher"
quantile = 0.999
)",
                                "gates.toml");
  REQUIRE_MESSAGE(gates.ok(), (gates.ok() ? "" : gates.error().message));
  REQUIRE(gates->checks.size() == 2);
  CHECK(gates->checks[0].quantile == doctest::Approx(0.99));
  CHECK(gates->checks[0].minEffect == doctest::Approx(20000));
  CHECK((gates->checks[0].alternative == Alternative::kGreater));
  CHECK(gates->checks[1].quantile == doctest::Approx(0.999));
}

TEST_CASE("gate errors name the check, the key and the problem") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"[[check]]\nname = \"a\"\nmetric = \"latency\"\ntest = \"fisher\"\n",
       "gates.toml: key 'check[0].test': test \"fisher\" does not apply to metric \"latency\""},
      {"[[check]]\nname = \"a\"\nmetric = \"latncy\"\ntest = \"fisher\"\n",
       "gates.toml: key 'check[0].metric': expected a metric (one of http_5xx_ratio"},
      {"[[check]]\nname = \"a\"\nmetric = \"latency\"\ntest = \"mann_whitney\"\nalpha = 2\n",
       "key 'check[0].alpha': expected a significance level above 0, at most 0.5, got integer 2"},
      {"[[check]]\nname = \"a\"\nmetric = \"latency\"\ntest = \"mann_whitney\"\ntier = \"fatal\"\n",
       "key 'check[0].tier': expected a tier (one of critical, warn, debug), got \"fatal\""},
      {"[[check]]\nname = \"a\"\nmetric = \"latency\"\ntest = \"mann_whitney\"\nalpah = 0.1\n",
       "gates.toml: unknown key 'check[0].alpah'"},
      {"[[check]]\nmetric = \"latency\"\ntest = \"mann_whitney\"\n",
       "key 'check[0].name': missing"},
      {"[[check]]\nname = \"a\"\nmetric = \"http_5xx_ratio\"\ntest = \"threshold_max\"\n",
       "key 'check[0].threshold': missing"},
      {"[[check]]\nname = \"a\"\nmetric = \"cpu\"\ntest = \"mann_whitney\"\n"
       "[[check]]\nname = \"a\"\nmetric = \"cpu\"\ntest = \"mann_whitney\"\n",
       "key 'check[1].name': duplicate check name \"a\""},
      {"checks = 1\n", "gates.toml: unknown key 'checks'"},
      {"[[check]]\nname = \"a\"\nmetric = \"latency\"\ntest = \"tail_fisher\"\nquantile = 1\n",
       "gates.toml: key 'check[0]': check 'a': tail_fisher quantile 1 outside (0, 1)"},
      {"[[check]]\nname = \"a\"\nmetric = \"latency\"\ntest = \"tail_fisher\"\nquantile = 99\n",
       "key 'check[0].quantile': expected a quantile from 0 to 1 (0.99 = p99), got integer 99"},
      {"[[check]]\nname = \"a\"\nmetric = \"cpu\"\ntest = \"tail_fisher\"\n",
       "key 'check[0].test': test \"tail_fisher\" does not apply to metric \"cpu\""},
      {"[[check]]\nname = \"a\"\nmetric = \"cpu\"\ntest = \"mann_whitney\"\nmin_ratio = 0.2\n",
       "key 'check[0].min_ratio': expected a ratio of at least 1 (1.2 = 20% more), or 0 for none"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto gates = parseGatesConfig(c.text, "gates.toml");
    REQUIRE_FALSE(gates.ok());
    CHECK_MESSAGE(gates.error().message.find(c.expected) != std::string::npos,
                  gates.error().message);
  }
}

TEST_CASE("a plan whose analysis cannot give the CPU and memory checks their windows is refused") {
  auto plan = parsePlanConfig(
      "window_seconds = 1\n[canary]\nanalysis_seconds = 8\n[cluster]\nanalysis_seconds = 4\n"
      "[region]\nanalysis_seconds = 4\n[fleet]\nanalysis_seconds = 4\n",
      "plan", /*coordinatorWindowSeconds=*/1);
  REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.error().message));
  GatesConfig gates = defaultGatesConfig();  // cpu and memory: min_data 3 windows a side
  auto enough = checkPlanGivesData(*plan, gates);
  REQUIRE(enough.ok());
  CHECK(enough->empty());

  // Exactly min_data windows: allowed, with a note saying why the step may be held.
  plan->cluster.analysisSeconds = 3;
  auto tight = checkPlanGivesData(*plan, gates);
  REQUIRE(tight.ok());
  REQUIRE(tight->size() == 2);  // cpu and memory
  CHECK(tight->front() ==
        "plan: stage 'cluster': analysis_seconds 3 gives 3 windows of 1 s, and check 'cpu' needs "
        "3 a side (min_data): one side is often a window short and the step is then held for want "
        "of data; analysis_seconds >= 4 avoids it");

  // Fewer: refused, naming the stage, the check and what would do.
  plan->region.analysisSeconds = 2;
  auto few = checkPlanGivesData(*plan, gates);
  REQUIRE_FALSE(few.ok());
  CHECK(few.error().message ==
        "plan: stage 'region': analysis_seconds 2 gives 2 windows of 1 s, and check 'cpu' needs 3 "
        "a side (min_data): every step of the stage would wait for an operator for want of data; "
        "use analysis_seconds >= 4");

  // A debug-tier check never holds a step: it is not held to this.
  for (auto& check : gates.checks) {
    if (check.name == "cpu" || check.name == "memory") check.tier = Tier::kDebug;
  }
  CHECK(checkPlanGivesData(*plan, gates).ok());
}
