// Prometheus checks in the rollout engine: template expansion, their config, their verdicts at a
// look (prometheus_gate.h), and a rollout whose checks are answered by a simulated Prometheus
// (values per release, or no answer at all).
#include "coordinator/rollout/prometheus_gate.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "coordinator/rollout/promql_template.h"
#include "coordinator/rollout/rollout.h"
#include "sim.h"

using namespace rollgate;
using namespace rollgate::rollout;
using namespace rollgate::rollout::testing;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

CheckSpec prometheusCheck(Test test = Test::kMannWhitney) {
  CheckSpec check;
  check.name = "app_errors";
  check.metric = Metric::kPrometheus;
  check.test = test;
  check.alternative = test == Test::kThresholdMin ? Alternative::kLess : Alternative::kGreater;
  check.minData = 3;
  check.query = "app_error_ratio{host=\"{{host}}\"}";
  return check;
}

GatesConfig prometheusGates(Test test = Test::kMannWhitney, double threshold = 0) {
  GatesConfig gates;
  gates.checks.push_back(prometheusCheck(test));
  gates.checks.back().threshold = threshold;
  return gates;
}

// Samples for `look` looks of one host: `value(look)` (NaN: a sample with `problem`).
void addSamples(std::vector<PrometheusSample>& samples, const std::string& host,
                std::uint32_t looks, const std::function<double(std::uint32_t)>& value,
                const std::string& problem = "") {
  for (std::uint32_t look = 1; look <= looks; ++look) {
    PrometheusSample s;
    s.check = "app_errors";
    s.step = 1;
    s.look = look;
    s.host = host;
    s.query = "app_error_ratio{host=\"" + host + "\"}";
    s.value = value(look);
    if (!std::isfinite(s.value)) s.problem = problem;
    samples.push_back(s);
  }
}

const std::vector<PrometheusHost> kHosts = {{"canary-1", true, "2.0"}, {"base-1", false, "1.0"}};

double noisy(double center, std::uint32_t look, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 1000 + look);
  return center * (0.9 + 0.2 * (static_cast<double>(rng() >> 11) / 9007199254740992.0));
}

}  // namespace

TEST_CASE("a PromQL template expands each variable, escapes quotes and names what is wrong") {
  PromqlVariables vars{"eu-a-1", "10.0.0.7", "2.0", "web"};
  auto q = expandPromqlTemplate(
      "rate(app_errors_total{host=\"{{host}}\",instance=~\"{{address}}:.*\",release=\"{{ release "
      "}}\",job=\"{{service}}\"}[1m])",
      vars);
  REQUIRE(q.ok());
  CHECK(*q ==
        "rate(app_errors_total{host=\"eu-a-1\",instance=~\"10.0.0.7:.*\",release=\"2.0\","
        "job=\"web\"}[1m])");
  vars.host = "we\"ird\\";
  CHECK(*expandPromqlTemplate("x{host=\"{{host}}\"}", vars) == "x{host=\"we\\\"ird\\\\\"}");

  auto unknown = validatePromqlTemplate("x{host=\"{{hostname}}\"}");
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().message.find("{{hostname}}") != std::string::npos);
  CHECK(unknown.error().message.find("{{host}}") != std::string::npos);  // lists the known ones
  auto unclosed = validatePromqlTemplate("x{host=\"{{host\"}");
  REQUIRE(!unclosed.ok());
  CHECK(unclosed.error().message.find("unclosed") != std::string::npos);
  CHECK(!validatePromqlTemplate("  ").ok());
  CHECK(validatePromqlTemplate("sum(up)").ok());

  PromqlVariables noAddress{"eu-a-1", "", "2.0", "web"};
  auto missing = expandPromqlTemplate("up{instance=\"{{address}}:9100\"}", noAddress);
  REQUIRE(!missing.ok());
  CHECK(missing.error().message.find("eu-a-1") != std::string::npos);
  CHECK(expandPromqlTemplate("up{host=\"{{host}}\"}", noAddress).ok());
}

TEST_CASE("a prometheus check in gates.toml needs a valid query; other metrics refuse one") {
  auto gates = parseGatesConfig(R"([[check]]
name = "errors"
metric = "prometheus"
test = "mann_whitney"
query = 'rate(app_errors_total{host="{{host}}"}[1m])'
min_effect = 0.01
[[check]]
name = "p99"
metric = "prometheus"
test = "threshold_max"
threshold = 250.5
query = 'histogram_quantile(0.99, sum by (le) (rate(app_seconds_bucket{host="{{host}}"}[1m])))'
)",
                                "gates.toml");
  REQUIRE_MESSAGE(gates.ok(), (gates.ok() ? "" : gates.error().message));
  REQUIRE(gates->checks.size() == 2);
  CHECK(gates->checks[0].query == "rate(app_errors_total{host=\"{{host}}\"}[1m])");
  CHECK(gates->checks[0].minData == kPrometheusMinSamples);
  CHECK(gates->checks[1].threshold == doctest::Approx(250.5));  // not a ratio: any number

  auto noQuery = parseGatesConfig(
      "[[check]]\nname = \"e\"\nmetric = \"prometheus\"\ntest = \"mann_whitney\"\n", "g.toml");
  REQUIRE(!noQuery.ok());
  CHECK(noQuery.error().message.find("query") != std::string::npos);

  auto badVariable = parseGatesConfig(
      "[[check]]\nname = \"e\"\nmetric = \"prometheus\"\ntest = \"mann_whitney\"\n"
      "query = 'up{host=\"{{hots}}\"}'\n",
      "g.toml");
  REQUIRE(!badVariable.ok());
  CHECK(badVariable.error().message.find("{{hots}}") != std::string::npos);

  auto queryOnLatency = parseGatesConfig(
      "[[check]]\nname = \"l\"\nmetric = \"latency\"\ntest = \"mann_whitney\"\nquery = 'up'\n",
      "g.toml");
  REQUIRE(!queryOnLatency.ok());
  CHECK(queryOnLatency.error().message.find("only a check with metric = \"prometheus\"") !=
        std::string::npos);

  auto fisher = parseGatesConfig(
      "[[check]]\nname = \"e\"\nmetric = \"prometheus\"\ntest = \"fisher\"\nquery = 'up'\n",
      "g.toml");
  REQUIRE(!fisher.ok());
  CHECK(fisher.error().message.find("does not apply") != std::string::npos);
}

TEST_CASE("a canary whose values are all above the comparison's fails; the same values pass") {
  PlanCache plans;
  std::vector<PrometheusSample> regressed, same;
  addSamples(regressed, "canary-1", 12, [](std::uint32_t k) { return noisy(0.05, k, 1); });
  addSamples(regressed, "base-1", 12, [](std::uint32_t k) { return noisy(0.01, k, 2); });
  addSamples(same, "canary-1", 12, [](std::uint32_t k) { return noisy(0.01, k, 1); });
  addSamples(same, "base-1", 12, [](std::uint32_t k) { return noisy(0.01, k, 2); });

  CheckResult fail =
      evaluatePrometheusCheck(prometheusCheck(), regressed, kHosts, true, 12, 12, plans);
  CHECK((fail.verdict == Verdict::kFail));
  CHECK(fail.canaryCount == 12);
  CHECK(fail.baselineCount == 12);
  CHECK(fail.canaryValue > 0.04);
  REQUIRE(fail.hostValues.size() == 2);
  CHECK(fail.hostValues[0].host == "canary-1");
  CHECK(fail.hostValues[0].canary);
  CHECK(fail.hostValues[0].query == "app_error_ratio{host=\"canary-1\"}");
  CHECK(fail.hostValues[0].values.size() == 12);
  CHECK(fail.hostValues[1].host == "base-1");
  CHECK(!fail.hostValues[1].canary);

  CheckResult pass = evaluatePrometheusCheck(prometheusCheck(), same, kHosts, true, 12, 12, plans);
  CHECK((pass.verdict == Verdict::kPass));

  // Only the looks so far count: at look 2 there are too few values.
  CheckResult early =
      evaluatePrometheusCheck(prometheusCheck(), regressed, kHosts, true, 2, 12, plans);
  CHECK((early.verdict == Verdict::kNotEnoughData));
  CHECK(early.hostValues[0].values.size() == 2);
}

TEST_CASE("empty, NaN and unreachable answers are no data, never a pass, and say why") {
  PlanCache plans;
  std::vector<PrometheusSample> samples;
  addSamples(
      samples, "canary-1", 6, [](std::uint32_t) { return kNaN; },
      "Prometheus at http://127.0.0.1:1 unreachable: Connection refused");
  addSamples(samples, "base-1", 6, [](std::uint32_t) { return 0.01; });
  CheckResult r = evaluatePrometheusCheck(prometheusCheck(), samples, kHosts, true, 6, 6, plans);
  CHECK((r.verdict == Verdict::kNotEnoughData));
  CHECK(r.canaryCount == 0);
  CHECK(r.explanation.find("canary-1: Prometheus at http://127.0.0.1:1 unreachable") !=
        std::string::npos);
  CHECK(r.explanation.substr(r.explanation.size() - 17) == ": not_enough_data");
  CHECK(std::isnan(r.hostValues[0].values[5]));
  CHECK(r.hostValues[0].problem.find("unreachable") != std::string::npos);
  CHECK(r.hostValues[1].problem.empty());

  // A host never answered at all.
  std::vector<PrometheusSample> none;
  CheckResult silent = evaluatePrometheusCheck(prometheusCheck(), none, kHosts, true, 3, 6, plans);
  CHECK((silent.verdict == Verdict::kNotEnoughData));
  CHECK(silent.explanation.find("no answer from Prometheus yet") != std::string::npos);

  // A threshold on the canary's own values does not need the comparison.
  std::vector<PrometheusSample> canaryOnly;
  addSamples(canaryOnly, "canary-1", 6, [](std::uint32_t k) { return noisy(0.05, k, 3); });
  CheckSpec threshold = prometheusCheck(Test::kThresholdMax);
  threshold.threshold = 0.02;
  CHECK((evaluatePrometheusCheck(threshold, canaryOnly, kHosts, true, 6, 6, plans).verdict ==
         Verdict::kFail));
  // ...and is decided at the last look only.
  CHECK((evaluatePrometheusCheck(threshold, canaryOnly, kHosts, true, 5, 6, plans).verdict ==
         Verdict::kNotEnoughData));
  threshold.threshold = 0.08;
  CHECK((evaluatePrometheusCheck(threshold, canaryOnly, kHosts, true, 6, 6, plans).verdict ==
         Verdict::kPass));
}

namespace {

// Answers every QueryPrometheus the rollout sends: `value(host, release, look)`, NaN meaning
// `problem`. Returns the queries it saw.
std::vector<QueryPrometheus> runWithPrometheus(
    Sim& sim, std::uint64_t maxSeconds,
    const std::function<double(const PrometheusHost&, std::uint32_t)>& value,
    const std::string& problem = "no data: the query returned no series",
    RolloutStatus until = RolloutStatus::kSucceeded) {
  std::vector<QueryPrometheus> seen;
  std::size_t answered = 0;
  for (std::uint64_t i = 0; i < maxSeconds; ++i) {
    if (isTerminal(sim.rollout().status()) || sim.rollout().status() == until) break;
    sim.stepSecond();
    for (; answered < sim.log().size(); ++answered) {
      const auto* query = std::get_if<QueryPrometheus>(&sim.log()[answered]);
      if (query == nullptr) continue;
      seen.push_back(*query);
      for (const auto& host : query->hosts) {
        PrometheusSample sample;
        sample.check = "app_errors";
        sample.step = query->step;
        sample.look = query->look;
        sample.host = host.name;
        sample.query = "q " + host.name;
        sample.value = value(host, query->look);
        if (!std::isfinite(sample.value)) sample.problem = problem;
        sim.rollout().onPrometheusSample(sample, sim.now());
      }
    }
  }
  return seen;
}

}  // namespace

TEST_CASE("a rollout asks Prometheus once per look for its canary and comparison hosts") {
  auto hosts = fleet8();
  Sim sim(hosts, makeRollout(hosts, fastPlan(), prometheusGates()));
  sim.start();
  auto queries = runWithPrometheus(sim, 3600, [](const PrometheusHost& h, std::uint32_t look) {
    return noisy(0.01, look, std::hash<std::string>{}(h.name));
  });
  CHECK(statusName(sim.rollout().status()) == std::string("succeeded"));
  REQUIRE(!queries.empty());
  // The canary step: one query per look, the canary on the new release, its baseline on the old.
  const QueryPrometheus& first = queries.front();
  CHECK(first.step == 1);
  CHECK(first.look == 1);
  CHECK(first.service == "web");
  REQUIRE(first.hosts.size() == 2);
  CHECK(first.hosts[0].canary);
  CHECK(first.hosts[0].release == "2.0");
  CHECK(!first.hosts[1].canary);
  CHECK(first.hosts[1].release == "1.0");
  std::set<std::pair<std::uint32_t, std::uint32_t>> stepLooks;
  for (const auto& q : queries) CHECK(stepLooks.insert({q.step, q.look}).second);
  // Every Prometheus result names each host's values.
  auto checks = sim.checks("app_errors");
  REQUIRE(!checks.empty());
  CHECK(checks.front().result.hostValues.size() == 2);
}

TEST_CASE("a canary whose Prometheus metric regresses is rolled back at the canary stage") {
  auto hosts = fleet8();
  Sim sim(hosts, makeRollout(hosts, fastPlan(), prometheusGates()));
  sim.start();
  runWithPrometheus(sim, 3600, [](const PrometheusHost& h, std::uint32_t look) {
    return noisy(h.release == "2.0" ? 0.05 : 0.01, look, std::hash<std::string>{}(h.name));
  });
  CHECK(isTerminal(sim.rollout().status()));
  CHECK((sim.rollout().status() == RolloutStatus::kRolledBack));
  CHECK(sim.rollout().state().currentStep == 0);
  CHECK(sim.rollout().state().endReason.find("app_errors") != std::string::npos);
}

TEST_CASE("a Prometheus that never answers holds the stage with the reason, never promotes") {
  auto hosts = fleet8();
  Sim sim(hosts, makeRollout(hosts, fastPlan(), prometheusGates()));
  sim.start();
  runWithPrometheus(
      sim, 3600, [](const PrometheusHost&, std::uint32_t) { return kNaN; },
      "Prometheus at http://127.0.0.1:9 unreachable: Connection refused",
      RolloutStatus::kWaitingForOperator);
  REQUIRE((sim.rollout().status() == RolloutStatus::kWaitingForOperator));
  const StepProgress& step = sim.rollout().state().step;
  CHECK((step.hold == Hold::kNotEnoughData));
  CHECK(step.holdReason.find("unreachable") != std::string::npos);
  CHECK(sim.rollout().state().currentStep == 0);

  // The samples are part of the stored state.
  auto restored = stateFromJson(stateToJson(sim.rollout().state(), false));
  REQUIRE(restored.ok());
  CHECK(restored->step.prometheus.size() == step.prometheus.size());
  CHECK(restored->step.lastQueriedLook == step.lastQueriedLook);
  CHECK(restored->gates.checks.front().query == "app_error_ratio{host=\"{{host}}\"}");
}

TEST_CASE("answers for another step, an unknown host or check, or a look not asked are ignored") {
  auto hosts = fleet8();
  Sim sim(hosts, makeRollout(hosts, fastPlan(), prometheusGates()));
  sim.start();
  sim.run(3600, [&] { return sim.rollout().state().step.lastQueriedLook >= 1; });
  REQUIRE(sim.rollout().state().step.lastQueriedLook == 1);
  std::string canary = sim.rollout().state().plan.canaryHost;
  PrometheusSample sample;
  sample.check = "app_errors";
  sample.step = 1;
  sample.look = 1;
  sample.host = canary;
  sample.value = 1;
  for (auto bad :
       {std::string("step"), std::string("host"), std::string("check"), std::string("look")}) {
    PrometheusSample s = sample;
    if (bad == "step") s.step = 2;
    if (bad == "host") s.host = "nobody";
    if (bad == "check") s.check = "other";
    if (bad == "look") s.look = 2;
    sim.rollout().onPrometheusSample(s, sim.now());
  }
  CHECK(sim.rollout().state().step.prometheus.empty());
  sim.rollout().onPrometheusSample(sample, sim.now());
  sample.value = 2;
  sim.rollout().onPrometheusSample(sample, sim.now());  // replaces the first
  REQUIRE(sim.rollout().state().step.prometheus.size() == 1);
  CHECK(sim.rollout().state().step.prometheus.front().value == 2);
}
