// The text exposition renderer and the coordinator's metric families, on fixed snapshots; the
// output of a full snapshot is checked by promtool (Debian's prometheus package), which applies
// Prometheus's own parser and naming lint.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "coordinator/metrics/coordinator_metrics.h"
#include "coordinator/metrics/metrics_server.h"
#include "tests/support/fleet/process.h"
#include "tests/support/skip.h"

using namespace rollgate::coordinator::metrics;
using rollgate::testing::runCommand;

namespace {

MetricsSnapshot standbySnapshot() {
  MetricsSnapshot s;
  s.standby = StandbyView{
      "c1", true, rollgate::LeaderInfo{"c0", "tcp://10.0.0.1:7001", 7, 1'700'000'000'000, ""}};
  return s;
}

MetricsSnapshot fullSnapshot() {
  MetricsSnapshot s;
  s.rolloutsByStatus["analyzing"] = 1;
  s.rolloutsFinished["rolled_back"] = 2;
  s.checks.push_back(CheckGauge{"r7", "web \"edge\"\\eu\nx", "http_5xx_ratio", 2, 3, 0.0123,
                                0.004, "pass"});
  s.checks.push_back(CheckGauge{"r7", "web", "restarts", 2, 3, 1.0, std::nan(""), "not_enough_data"});
  Histogram acks(abortAckBucketsSeconds());
  acks.observe(0.004);
  acks.observe(0.3);
  acks.observe(120);
  s.abortAckSeconds = acks.value();
  s.hostsByState["healthy"] = 3;
  s.telemetryWindowsReceived = 42;
  s.telemetryWindowsDropped = 1;
  s.quotaDrops.telemetryWindows = 7;
  s.quotaDrops.telemetryBytes = 7000;
  s.quotaDrops.chunkReplies = 3;
  s.quotaDrops.sessionsReplaced = 2;
  s.commandsInFlight = 2;
  Histogram writes(storeWriteBucketsSeconds());
  writes.observe(0.0002);
  s.storeWriteSeconds["record_event"] = writes.value();
  s.notifications.dropped = 5;
  return s;
}

}  // namespace

TEST_CASE("label values escape backslash, double quote and line feed; HELP escapes too") {
  CHECK(escapeLabelValue(R"(a\b"c)" "\n" "d") == R"(a\\b\"c\nd)");
  CHECK(escapeLabelValue("plain") == "plain");
  CHECK(escapeHelp("line\none \\ two \"q\"") == R"(line\none \\ two "q")");
}

TEST_CASE("values: integers plain, fractions shortest, NaN and infinities by name") {
  CHECK(formatValue(3) == "3");
  CHECK(formatValue(0.005) == "0.005");
  CHECK(formatValue(0.1 + 0.2) == "0.30000000000000004");
  CHECK(formatValue(std::nan("")) == "NaN");
  CHECK(formatValue(INFINITY) == "+Inf");
  CHECK(formatValue(-INFINITY) == "-Inf");
}

TEST_CASE("a family has HELP and TYPE lines, then its samples with labels in order") {
  MetricFamily f{"rollgate_x_total", "Things.\nCounted.", MetricType::kCounter,
                 {Sample{{{"rollgate_a", "1"}, {"rollgate_b", "q\""}}, 7, {}}}};
  CHECK(renderText({f}) ==
        "# HELP rollgate_x_total Things.\\nCounted.\n"
        "# TYPE rollgate_x_total counter\n"
        "rollgate_x_total{rollgate_a=\"1\",rollgate_b=\"q\\\"\"} 7\n");
  MetricFamily empty{"rollgate_empty", "None yet.", MetricType::kGauge, {}};
  CHECK(renderText({empty}) == "# HELP rollgate_empty None yet.\n# TYPE rollgate_empty gauge\n");
}

TEST_CASE("histogram buckets are cumulative and end with +Inf, then _sum and _count") {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.1);  // on the bound: in le="0.1"
  h.observe(0.5);
  h.observe(7);
  MetricFamily f{"rollgate_h_seconds", "H.", MetricType::kHistogram,
                 {Sample{{{"rollgate_operation", "x"}}, 0, h.value()}}};
  CHECK(renderText({f}) ==
        "# HELP rollgate_h_seconds H.\n"
        "# TYPE rollgate_h_seconds histogram\n"
        "rollgate_h_seconds_bucket{rollgate_operation=\"x\",le=\"0.1\"} 2\n"
        "rollgate_h_seconds_bucket{rollgate_operation=\"x\",le=\"1\"} 3\n"
        "rollgate_h_seconds_bucket{rollgate_operation=\"x\",le=\"+Inf\"} 4\n"
        "rollgate_h_seconds_sum{rollgate_operation=\"x\"} 7.65\n"
        "rollgate_h_seconds_count{rollgate_operation=\"x\"} 4\n");
}

TEST_CASE("coordinator metrics: prefix, units, counters end in _total, no target-label clashes") {
  auto families = metricFamilies(fullSnapshot());
  std::set<std::string> names;
  const std::set<std::string> targetLabels = {"region", "cluster", "service", "instance", "job",
                                              "host"};
  for (const auto& f : families) {
    names.insert(f.name);
    CHECK_MESSAGE(f.name.rfind("rollgate_", 0) == 0, f.name);
    CHECK_MESSAGE(!f.help.empty(), f.name);
    if (f.type == MetricType::kCounter) CHECK_MESSAGE(f.name.ends_with("_total"), f.name);
    if (f.type != MetricType::kCounter) CHECK_MESSAGE(!f.name.ends_with("_total"), f.name);
    for (const auto& sample : f.samples) {
      for (const auto& label : sample.labels) {
        CHECK_MESSAGE(targetLabels.count(label.first) == 0, f.name << " has label " << label.first);
        CHECK_MESSAGE(label.first.rfind("rollgate_", 0) == 0, f.name << " has label " << label.first);
      }
    }
  }
  for (const char* expected :
       {"rollgate_rollouts", "rollgate_rollouts_finished_total", "rollgate_check_p_value",
        "rollgate_check_alpha", "rollgate_check_verdict", "rollgate_abort_ack_latency_seconds",
        "rollgate_hosts", "rollgate_telemetry_windows_received_total",
        "rollgate_telemetry_windows_dropped_total", "rollgate_commands_in_flight",
        "rollgate_store_write_duration_seconds", "rollgate_notifications_dropped_total",
        "rollgate_quota_dropped_total", "rollgate_quota_dropped_telemetry_bytes_total",
        "rollgate_sessions_replaced_total"}) {
    CHECK_MESSAGE(names.count(expected) == 1, expected);
  }
}

TEST_CASE("coordinator metrics: values of a snapshot") {
  std::string text = renderMetrics(fullSnapshot());
  CHECK(text.find("rollgate_rollouts{rollgate_status=\"analyzing\"} 1\n") != std::string::npos);
  CHECK(text.find("rollgate_rollouts{rollgate_status=\"installing\"} 0\n") != std::string::npos);
  CHECK(text.find("rollgate_quota_dropped_total{rollgate_kind=\"telemetry_window\"} 7\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_quota_dropped_total{rollgate_kind=\"chunk_reply\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_quota_dropped_total{rollgate_kind=\"message\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_quota_dropped_telemetry_bytes_total 7000\n") != std::string::npos);
  CHECK(text.find("rollgate_sessions_replaced_total 2\n") != std::string::npos);
  CHECK(text.find("rollgate_rollouts_finished_total{rollgate_status=\"rolled_back\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_check_p_value{rollgate_rollout=\"r7\",rollgate_service=\"web "
                  "\\\"edge\\\"\\\\eu\\nx\",rollgate_check=\"http_5xx_ratio\",rollgate_step=\"2\"}"
                  " 0.0123\n") != std::string::npos);
  CHECK(text.find("rollgate_check_alpha{rollgate_rollout=\"r7\",rollgate_service=\"web\","
                  "rollgate_check=\"restarts\",rollgate_step=\"2\"} NaN\n") != std::string::npos);
  CHECK(text.find("rollgate_check_verdict{rollgate_rollout=\"r7\",rollgate_service=\"web\","
                  "rollgate_check=\"restarts\",rollgate_step=\"2\",rollgate_verdict=\"not_enough_"
                  "data\"} 1\n") != std::string::npos);
  CHECK(text.find("rollgate_check_verdict{rollgate_rollout=\"r7\",rollgate_service=\"web\","
                  "rollgate_check=\"restarts\",rollgate_step=\"2\",rollgate_verdict=\"pass\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_abort_ack_latency_seconds_bucket{le=\"0.005\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_abort_ack_latency_seconds_bucket{le=\"60\"} 2\n") != std::string::npos);
  CHECK(text.find("rollgate_abort_ack_latency_seconds_bucket{le=\"+Inf\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("rollgate_abort_ack_latency_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("rollgate_hosts{rollgate_state=\"unhealthy\"} 0\n") != std::string::npos);
  CHECK(text.find("rollgate_telemetry_windows_received_total 42\n") != std::string::npos);
  CHECK(text.find("rollgate_commands_in_flight 2\n") != std::string::npos);
  CHECK(text.find("rollgate_notifications_dropped_total 5\n") != std::string::npos);
}

TEST_CASE("a standby exports that it does not lead, whether it reaches the lease, and who leads") {
  std::string text = renderMetrics(standbySnapshot());
  CHECK(text.find("rollgate_leader{coordinator=\"c1\"} 0\n") != std::string::npos);
  CHECK(text.find("rollgate_standby_lease_reachable 1\n") != std::string::npos);
  CHECK(text.find("rollgate_standby_leader_epoch 7\n") != std::string::npos);
  // Nothing of a leader's: a standby runs no rollouts and hears no agents.
  CHECK(text.find("rollgate_rollouts") == std::string::npos);
  CHECK(text.find("rollgate_hosts") == std::string::npos);
  CHECK(text.find("rollgate_leader_epoch") == std::string::npos);

  MetricsSnapshot cut = standbySnapshot();
  cut.standby->leaseReachable = false;
  cut.standby->leader.reset();  // never read: no epoch to show
  text = renderMetrics(cut);
  CHECK(text.find("rollgate_standby_lease_reachable 0\n") != std::string::npos);
  CHECK(text.find("rollgate_standby_leader_epoch") == std::string::npos);
}

TEST_CASE("promtool accepts the output of a full snapshot and of an empty one") {
  if (!rollgate::testing::requireOrSkip(
          std::filesystem::exists("/usr/bin/promtool") ? "" : "/usr/bin/promtool (prometheus)")) {
    return;
  }
  for (const auto& snapshot : {fullSnapshot(), MetricsSnapshot{}, standbySnapshot()}) {
    rollgate::testing::TempDir dir("rollgate-metrics");
    std::string file = dir.file("metrics.txt");
    rollgate::testing::writeFile(file, renderMetrics(snapshot));
    // promtool reads the exposition on standard input.
    auto out = runCommand({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file});
    CHECK_MESSAGE(out.exitCode == 0, out.out << out.err);
    CHECK_MESSAGE(out.err.empty(), out.err);  // no lint findings
  }
  // promtool does fail on a malformed exposition (so the check above can fail).
  rollgate::testing::TempDir dir("rollgate-metrics");
  std::string bad = dir.file("bad.txt");
  rollgate::testing::writeFile(bad, "# TYPE rollgate_x counter\nrollgate_x{a=\"1} 2\n");
  auto refused = runCommand({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + bad});
  CHECK(refused.exitCode != 0);
  // ... and on a naming rule broken (its lint), so the check above covers the rules too.
  std::string unnamed = dir.file("lint.txt");
  rollgate::testing::writeFile(unnamed, renderText({MetricFamily{"rollgate_x", "X.",
                                                                 MetricType::kCounter,
                                                                 {Sample{{}, 1, {}}}}}));
  auto linted = runCommand({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + unnamed});
  CHECK(linted.exitCode != 0);
  CHECK(linted.err.find("_total") != std::string::npos);
}

TEST_CASE("listen addresses: host and port, bare port on loopback, errors name the value") {
  CHECK(*parseListenAddress("0.0.0.0:9464") == ListenAddress{"0.0.0.0", 9464});
  CHECK(*parseListenAddress(":9464") == ListenAddress{"127.0.0.1", 9464});
  CHECK(*parseListenAddress("9464") == ListenAddress{"127.0.0.1", 9464});
  CHECK(*parseListenAddress("[::1]:9000") == ListenAddress{"::1", 9000});
  auto bad = parseListenAddress("localhost:http");
  REQUIRE(!bad);
  CHECK(bad.error().message.find("\"localhost:http\"") != std::string::npos);
  CHECK(!parseListenAddress("1.2.3.4:70000"));
  CHECK(!parseListenAddress(""));
}
