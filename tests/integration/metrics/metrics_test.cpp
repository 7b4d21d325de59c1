// The coordinator's /metrics scraped by a real Prometheus (Debian's prometheus, 1 s scrapes) during
// real rollouts on a real fleet; every assertion is a PromQL query through Prometheus's HTTP API.
// The coordinator also has a webhook to a real receiver, which sees the rollouts' decisions.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/support/fleet/prometheus_server.h"
#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/fleet/webhook_receiver.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};
const std::string kSecret = "metrics-test-secret";

// The value of an instant query with one series; NaN when it has none.
double scalar(const PrometheusServer& prometheus, const std::string& promql) {
  auto result = prometheus.query(promql);
  if (result.size() != 1) return std::nan("");
  return std::stod(result[0]["value"][1].get<std::string>());
}

std::vector<std::string> kinds(const WebhookReceiver& receiver, const std::string& rollout) {
  std::vector<std::string> out;
  for (const auto& r : receiver.accepted()) {
    if (r.json.value("rollout", "") == rollout) out.push_back(r.json.value("kind", ""));
  }
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("Prometheus scrapes /metrics during rollouts; webhooks get their decisions") {
  std::string missing = WebFleet::missingPrerequisite();
  if (missing.empty()) missing = PrometheusServer::missingPrerequisite();
  if (!requireOrSkip(missing)) return;

  WebhookReceiver receiver(kSecret);
  REQUIRE(receiver.port() > 0);
  int metricsPort = freePort();
  WebFleet::Options options;
  options.coordinatorExtraToml = "\n[metrics]\nlisten = \"127.0.0.1:" +
                                 std::to_string(metricsPort) +
                                 "\"\n\n[[notify.webhook]]\nurl = \"" + receiver.url() +
                                 "\"\nsecret = \"" + kSecret + "\"\n";
  auto started = WebFleet::start(kHosts, options);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  auto web = std::move(*started);
  auto base = web->installEverywhere("1.0.0", ReleaseKind::kHealthy);
  REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
  std::string planFile = web->work().file("plan.toml");
  writeFile(planFile, testPlanToml());

  PrometheusServer prometheus;
  prometheus.start({{"coordinator", metricsPort}});
  REQUIRE_MESSAGE(prometheus.waitForSeries("rollgate_commands_in_flight", 1),
                  prometheus.log() << readFile(web->fleet().coordinatorLog()));
  web->startLoad();

  CHECK(waitUntil([&] { return scalar(prometheus, R"(rollgate_hosts{rollgate_state="healthy"})") == 3; }));
  CHECK(scalar(prometheus, "sum(rollgate_rollouts)") == 0);

  auto start = [&](const std::string& version) {
    std::string archive = web->makeRelease(version, ReleaseKind::kHealthy);
    auto out = web->fleet().cli({"rollout", "start", "--service", "web", "--version", version,
                                 "--artifact", archive, "--plan", planFile, "--canary-host",
                                 "eu-a-1", "--json"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    std::string id = startedRolloutId(out.out);
    REQUIRE_MESSAGE(!id.empty(), out.out);
    return id;
  };

  // A healthy release, watched through PromQL while it runs.
  std::string id = start("1.1.0");
  CHECK_MESSAGE(waitUntil([&] { return scalar(prometheus, "sum(rollgate_rollouts)") == 1; },
                          std::chrono::seconds(60), std::chrono::milliseconds(200)),
                "rollouts by state never showed the running rollout");
  double windowsBefore = scalar(prometheus, "rollgate_telemetry_windows_received_total");
  const std::string pValues = R"(rollgate_check_p_value{rollgate_rollout=")" + id + R"("})";
  CHECK_MESSAGE(waitUntil([&] { return !prometheus.query(pValues).empty(); },
                          std::chrono::seconds(120), std::chrono::milliseconds(200)),
                "no p-value series for " << id);
  auto checks = prometheus.query(pValues);
  for (const auto& series : checks) {
    double p = std::stod(series["value"][1].get<std::string>());
    CHECK(p >= 0.0);
    CHECK(p <= 1.0);
    CHECK(series["metric"]["rollgate_service"] == "web");
    CHECK(series["metric"].contains("rollgate_check"));
    CHECK(!series["metric"].contains("service"));  // no clash with target labels
  }
  CHECK(!prometheus.query(R"(rollgate_check_verdict{rollgate_rollout=")" + id + R"("} == 1)").empty());
  CHECK(waitUntil(
      [&] { return scalar(prometheus, "rollgate_telemetry_windows_received_total") > windowsBefore; }));

  std::string last = waitForDecision(web->fleet(), id, std::chrono::seconds(300));
  REQUIRE_MESSAGE(last == "succeeded", web->fleet().cli({"rollout", "explain", id}).out);
  CHECK(waitUntil([&] {
    return scalar(prometheus, R"(rollgate_rollouts_finished_total{rollgate_status="succeeded"})") == 1 &&
           scalar(prometheus, "sum(rollgate_rollouts)") == 0 &&
           prometheus.query(pValues).empty();  // a finished rollout's checks are gone
  }));
  CHECK(scalar(prometheus,
               R"(rollgate_store_write_duration_seconds_count{rollgate_operation="record_event"})") > 0);

  // An aborted rollout: the hosts' acknowledgements are in the latency histogram.
  std::string aborted = start("1.2.0");
  CHECK(waitUntil([&] { return scalar(prometheus, "sum(rollgate_rollouts)") == 1; }));
  auto stop = web->fleet().cli({"abort", aborted});
  REQUIRE_MESSAGE(stop.exitCode == 0, stop.err << stop.out);
  CHECK(waitForDecision(web->fleet(), aborted, std::chrono::seconds(120)) == "aborted");
  CHECK(waitUntil([&] {
    return scalar(prometheus, "rollgate_abort_ack_latency_seconds_count") >= 1 &&
           scalar(prometheus, R"(rollgate_rollouts_finished_total{rollgate_status="aborted"})") == 1;
  }));
  CHECK(scalar(prometheus, R"(rollgate_abort_ack_latency_seconds_bucket{le="+Inf"})") ==
        scalar(prometheus, "rollgate_abort_ack_latency_seconds_count"));

  // The webhook saw both rollouts' decisions, signed.
  CHECK(waitUntil([&] { return has(kinds(receiver, id), "rollout_succeeded") &&
                               has(kinds(receiver, aborted), "rollout_aborted"); }));
  auto passed = kinds(receiver, id);
  CHECK_MESSAGE(has(passed, "step_passed"), nlohmann::json(passed).dump());
  CHECK(!has(passed, "host_installed"));  // not a decision: not sent by default
  CHECK(has(kinds(receiver, aborted), "abort"));
  for (const auto& r : receiver.received()) CHECK(r.signatureValid);
  for (const auto& r : receiver.accepted()) {
    if (r.json.value("kind", "") == "rollout_succeeded") {
      CHECK(r.json["service"] == "web");
      CHECK(r.json["version"] == "1.1.0");
    }
  }
  CHECK(scalar(prometheus, "rollgate_notifications_dropped_total") == 0);
  CHECK(waitUntil([&] { return scalar(prometheus, "rollgate_notifications_delivered_total") >=
                               static_cast<double>(receiver.accepted().size()); }));
}
