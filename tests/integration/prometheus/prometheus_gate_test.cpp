// Prometheus checks end to end. Debian's prometheus runs on a free loopback port with its own
// config and temporary directory and scrapes every host's deployed service: each release's nginx
// serves /metrics with its own app_error_ratio (the exporter is the build being rolled out). The
// rollout's only gate is a Prometheus check, so what happens is the check's doing: a build whose
// metric regresses is rolled back at the canary, an A/A build passes, an invalid query refuses the
// start with Prometheus's error, and a Prometheus that went away holds the stage naming why.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/support/fleet/prometheus_server.h"
#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/signal_catalog.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {{"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}};

const std::string kPlan = prometheusCatalogPlanToml();

const char* kCanaryQuery = R"(max(app_error_ratio{host="eu-a-1",instance=~"127.0.0.1:.*"}))";

struct Fixture {
  PrometheusServer prometheus;
  std::unique_ptr<WebFleet> web;
  std::string planFile, gatesFile;

  bool ready() {
    std::string missing = WebFleet::missingPrerequisite();
    if (missing.empty()) missing = PrometheusServer::missingPrerequisite();
    if (!requireOrSkip(missing)) return false;
    WebFleet::Options options;
    options.coordinatorExtraToml = prometheus.coordinatorToml();
    auto started = WebFleet::start(kHosts, options);
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    web = std::move(*started);
    auto base = web->installEverywhere("1.0.0", ReleaseKind::kHealthy, appErrorRatioMetricsSite(0.01));
    REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
    planFile = web->work().file("plan.toml");
    writeFile(planFile, kPlan);
    gatesFile = web->work().file("gates.toml");
    writeFile(gatesFile, appErrorsCheckToml());
    std::vector<std::pair<std::string, int>> targets;
    for (const auto& host : kHosts) targets.emplace_back(host.name, web->port(host.name));
    prometheus.start(targets);
    REQUIRE_MESSAGE(prometheus.waitForSeries("app_error_ratio", kHosts.size()), prometheus.log());
    web->startLoad();
    return true;
  }

  CommandOutput startRollout(const std::string& version, double errorRatio,
                             const std::string& gates) {
    std::string archive = web->makeRelease(version, ReleaseKind::kHealthy, appErrorRatioMetricsSite(errorRatio));
    return web->fleet().cli({"rollout", "start", "--service", "web", "--version", version,
                             "--artifact", archive, "--plan", planFile, "--gates", gates,
                             "--canary-host", "eu-a-1", "--json"});
  }

  std::string start(const std::string& version, double errorRatio) {
    auto out = startRollout(version, errorRatio, gatesFile);
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    REQUIRE(json.contains("rollout"));
    return json["rollout"]["id"].get<std::string>();
  }

  nlohmann::json describe(const std::string& id) { return explainRollout(web->fleet(), id); }

  std::string waitForEnd(const std::string& id) {
    std::string last = waitForDecision(web->fleet(), id, std::chrono::seconds(300));
    auto explain = web->fleet().cli({"rollout", "explain", id});
    explainText = explain.out + explain.err;
    return last;
  }
  std::string explainText;

  // The latest result of check `name` in the rollout's record.
  nlohmann::json lastResult(const std::string& id, const std::string& name) {
    nlohmann::json last;
    for (const auto& check : describe(id).value("checks", nlohmann::json::array())) {
      const auto& result = check.contains("result") ? check["result"] : check;
      if (result.value("name", "") == name) last = result;
    }
    return last;
  }
};

}  // namespace

TEST_CASE(
    "Prometheus checks: regression rolled back, A/A promoted, bad query refused, outage held") {
  Fixture f;
  if (!f.ready()) return;

  // An invalid query is refused before anything starts, with Prometheus's own error.
  std::string badGates = f.web->work().file("bad-gates.toml");
  writeFile(badGates, R"([[check]]
name = "broken"
metric = "prometheus"
test = "mann_whitney"
query = 'rate(app_error_ratio{host="{{host}}"}[1m]'
)");
  auto refused = f.startRollout("9.0.0", 0.01, badGates);  // refused at once, never installed
  CHECK(refused.exitCode != 0);
  CHECK_MESSAGE(refused.err.find("Prometheus refused the query: bad_data") != std::string::npos,
                refused.err << refused.out);
  CHECK_MESSAGE(refused.err.find("rate(app_error_ratio{host=\"eu-a-1\"}[1m]") != std::string::npos,
                refused.err);
  CHECK(f.web->activeRelease("eu-a-1") == "1.0.0");

  // A query that returns a raw counter starts, with a warning naming the counter.
  std::string counterGates = f.web->work().file("counter-gates.toml");
  writeFile(counterGates, R"([[check]]
name = "requests"
metric = "prometheus"
test = "mann_whitney"
query = 'app_requests_total{host="{{host}}"}'
)");
  auto counter = f.startRollout("1.0.1", 0.01, counterGates);
  CHECK_MESSAGE(counter.exitCode == 0, counter.err << counter.out);
  CHECK_MESSAGE(
      counter.err.find("warning: Prometheus check requests: the query returns the raw "
                       "counter app_requests_total; wrap it in rate()") != std::string::npos,
      counter.err);
  auto counterJson = nlohmann::json::parse(counter.out, nullptr, false);
  if (counterJson.contains("rollout")) {
    std::string id = counterJson["rollout"]["id"].get<std::string>();
    auto stopped = f.web->fleet().cli({"abort", id});
    CHECK_MESSAGE(stopped.exitCode == 0, stopped.err << stopped.out);
    CHECK_MESSAGE(f.waitForEnd(id) == "aborted", f.explainText);
    waitUntil([&] { return f.web->activeRelease("eu-a-1") == "1.0.0"; });
  }

  // A/A: the new build exports the same value as the old one.
  std::string aa = f.start("1.1.0", 0.01);
  CHECK_MESSAGE(f.waitForEnd(aa) == "succeeded", f.explainText);
  CHECK(f.web->activeRelease("eu-a-1") == "1.1.0");
  auto passed = f.lastResult(aa, "app_errors");
  CHECK(passed.value("verdict", "") != "fail");
  // explain shows each host's query as sent and its values.
  CHECK_MESSAGE(f.explainText.find(std::string("query: ") + kCanaryQuery) != std::string::npos,
                f.explainText);
  CHECK(f.explainText.find("canary eu-a-1: 0.01") != std::string::npos);

  // The metric regresses: the canary is rolled back by the Prometheus check.
  std::string bad = f.start("1.2.0", 0.05);
  CHECK_MESSAGE(f.waitForEnd(bad) == "rolled_back", f.explainText);
  auto failed = f.lastResult(bad, "app_errors");
  CHECK_MESSAGE(failed.value("verdict", "") == "fail", failed.dump());
  REQUIRE(failed.contains("hostValues"));
  CHECK(failed["hostValues"][0]["host"] == "eu-a-1");
  CHECK(failed["hostValues"][0]["query"] == kCanaryQuery);
  CHECK(failed["hostValues"][1]["host"] == "eu-a-2");
  waitUntil([&] { return f.web->activeRelease("eu-a-1") == "1.1.0"; });
  CHECK(f.web->activeRelease("eu-a-1") == "1.1.0");
  CHECK(f.web->activeRelease("eu-a-2") == "1.1.0");

  // Prometheus goes away: the stage holds, naming why, and nothing is promoted.
  f.prometheus.stop();
  std::string held = f.start("1.3.0", 0.01);
  CHECK_MESSAGE(f.waitForEnd(held) == "waiting_for_operator", f.explainText);
  CHECK_MESSAGE(f.explainText.find("unreachable") != std::string::npos, f.explainText);
  CHECK(f.explainText.find(f.prometheus.url()) != std::string::npos);
  CHECK(f.web->activeRelease("eu-a-2") == "1.1.0");  // the next step never started
  auto aborted = f.web->fleet().cli({"abort", held});
  CHECK_MESSAGE(aborted.exitCode == 0, aborted.err << aborted.out);
}
