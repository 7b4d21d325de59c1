// Restarts that drop no request: Debian's real haproxy balances three hosts, each a real agent
// with a real nginx unit of a private systemd manager, under steady load through HAProxy. Every
// nginx start is made 2 s slow (ExecStartPre=/bin/sleep 2) so that a restart is long enough to be
// seen; HAProxy is configured to show failures rather than hide them (retries 1, no redispatch;
// haproxy_process.h). With the agents' HAProxy integration, a promoted rollout (canary, baseline
// restart, cluster), a rolled-back rollout, rollbacks to a named version and fleet-wide reverts
// (`rollgate revert`, one host at a time and every host at once) fail zero requests.
// Without it, the same promoted rollout fails requests. An unreachable HAProxy fails the install
// with the reason; a build that does not start is switched back and leaves no server drained.
// A plan's canary weight gives the canary that HAProxy weight during its analysis, then its own.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/haproxy/haproxy_process.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate;
using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"web-1", "eu", "eu-a"}, {"web-2", "eu", "eu-a"}, {"web-3", "eu", "eu-a"}};

// Canary web-1 with a restarted baseline, then the cluster one host at a time.
const char* kPlan = R"(window_seconds = 1
silence_seconds = 6
report_grace_seconds = 2
[canary]
install_timeout_seconds = 120
warmup_seconds = 2
analysis_seconds = 8
[cluster]
install_timeout_seconds = 120
warmup_seconds = 1
analysis_seconds = 6
batch = 1
)";

constexpr int kLoadThreads = 3;
constexpr int kRequestsPerSecondPerThread = 60;

enum class Integration { kOn, kOff };

struct Fixture {
  TempDir lbDir{"rollgate-lb"};
  std::string socketPath = lbDir.file("admin.sock");
  std::string brokenHost;  // this host's agent is given a socket nothing listens on
  std::unique_ptr<WebFleet> web;
  std::unique_ptr<HaproxyProcess> haproxy;
  LoadGenerator load;
  std::string planFile;

  bool ready(Integration integration) {
    if (!requireOrSkip(WebFleet::missingPrerequisite())) return false;
    if (!requireOrSkip(HaproxyProcess::missingPrerequisite())) return false;
    WebFleet::Options options;
    options.unitServiceExtra = "ExecStartPre=/bin/sleep 2\n";
    if (integration == Integration::kOn) {
      options.serviceExtraToml = [this](const WebHostSpec& host) {
        // The broken host reaches HAProxy through a link the test removes later.
        std::string socket = host.name == brokenHost ? lbDir.file(host.name + ".sock") : socketPath;
        return "haproxy = \"" + socket + "\"\nhaproxy_backend = \"web\"\nhaproxy_server = \"" +
               host.name + "\"\nhaproxy_drain_seconds = 10\n";
      };
    }
    auto started = WebFleet::start(kHosts, options);
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    web = std::move(*started);
    std::vector<HaproxyServer> servers;
    for (const auto& host : kHosts) servers.push_back({host.name, web->port(host.name)});
    auto balancer = HaproxyProcess::start(servers, /*checks=*/true, socketPath);
    REQUIRE_MESSAGE(balancer.ok(), (balancer.ok() ? "" : balancer.error().message));
    haproxy = std::move(*balancer);
    if (!brokenHost.empty()) {
      REQUIRE(::symlink(socketPath.c_str(), lbDir.file(brokenHost + ".sock").c_str()) == 0);
    }
    auto base = web->installEverywhere("1.0.0", ReleaseKind::kHealthy);
    REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
    REQUIRE_MESSAGE(haproxy->waitAllUp(), "HAProxy does not see every nginx up");
    planFile = web->work().file("plan.toml");
    writeFile(planFile, kPlan);
    return true;
  }

  void startLoad() {
    std::vector<std::string> urls(kLoadThreads, haproxy->frontendUrl("/app"));
    load.resetCounts();
    load.start(urls, kRequestsPerSecondPerThread);
  }

  std::string startRollout(const std::string& version, ReleaseKind kind) {
    return startRollout(version, kind, planFile);
  }
  std::string startRollout(const std::string& version, ReleaseKind kind, const std::string& plan) {
    std::string archive = web->makeRelease(version, kind);
    auto out = web->fleet().cli({"rollout", "start", "--service", "web", "--version", version,
                                 "--artifact", archive, "--plan", plan, "--canary-host", "web-1",
                                 "--json"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    auto summary = json.contains("rollout") ? json["rollout"] : json;
    REQUIRE(summary.contains("id"));
    return summary["id"].get<std::string>();
  }

  std::string status(const std::string& id) {
    auto out = web->fleet().cli({"rollout", "explain", id, "--json"});
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    if (out.exitCode != 0 || json.is_discarded()) return "";
    if (json.contains("rollout")) return json["rollout"].value("status", "");
    return json.value("status", "");
  }

  // Waits for the rollout's end; returns its status. `explain` gets what an operator would read.
  std::string waitForEnd(const std::string& id, std::string& explain) {
    std::string last;
    waitUntil(
        [&] {
          last = status(id);
          return last == "succeeded" || last == "rolled_back" || last == "aborted" ||
                 last == "failed" || last == "rolled_back_incomplete" ||
                 last == "waiting_for_operator";
        },
        std::chrono::seconds(400), std::chrono::milliseconds(500));
    auto out = web->fleet().cli({"rollout", "explain", id});
    explain = out.out + out.err;
    return last;
  }

  std::size_t hostsOn(const std::string& version) {
    std::size_t n = 0;
    for (const auto& host : kHosts) n += web->activeRelease(host.name) == version;
    return n;
  }

  // Counts of one phase of the load (the load runs on across phases).
  struct Phase {
    std::uint64_t failed = 0;
    std::uint64_t sent = 0;
  };
  Phase mark() const { return {load.failures(), load.requestsSent()}; }
  Phase since(const Phase& start) const {
    return {load.failures() - start.failed, load.requestsSent() - start.sent};
  }
  static std::string describe(const Phase& p) {
    return std::to_string(p.failed) + " of " + std::to_string(p.sent) + " requests failed";
  }

  // Forward to `version` host by host (an install of a kept, newer release: drained, restarted).
  void installEverywhere(const std::string& version) {
    for (const auto& host : kHosts) {
      auto out = web->fleet().cli({"install", "--host", host.name, "--service", "web",
                                   "--version", version, "--json", "--timeout-seconds", "120"});
      REQUIRE_MESSAGE(out.exitCode == 0, host.name << ": " << out.out << out.err);
    }
    REQUIRE(hostsOn(version) == kHosts.size());
  }

  // A fleet-wide revert of web to `version` (`extra`: e.g. --batch 1); returns its JSON report.
  nlohmann::json revert(const std::string& version, std::vector<std::string> extra) {
    std::vector<std::string> args = {"revert", "--service", "web", "--to", version, "--wait",
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto out = web->fleet().cli(args);
    CHECK_MESSAGE(out.exitCode == 0, out.err << out.out);
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    REQUIRE_MESSAGE(json.contains("revert"), out.out << out.err);
    return json["revert"];
  }

  std::string loadReport() {
    return std::to_string(load.failures()) + " of " + std::to_string(load.requestsSent()) +
           " requests failed (" + load.failureSummary() + ")";
  }
};

}  // namespace

TEST_CASE(
    "with HAProxy: a promoted rollout, a rolled-back rollout, rollbacks to a version and fleet-wide "
    "reverts fail no request") {
  Fixture f;
  if (!f.ready(Integration::kOn)) return;
  f.startLoad();

  std::string explain;
  auto phase = f.mark();
  std::string good = f.startRollout("1.1.0", ReleaseKind::kHealthy);
  CHECK_MESSAGE(f.waitForEnd(good, explain) == "succeeded", explain);
  CHECK(f.hostsOn("1.1.0") == kHosts.size());
  MESSAGE("promoted rollout: " << Fixture::describe(f.since(phase)));
  CHECK_MESSAGE(f.load.failures() == 0, "promoted rollout: " << f.loadReport());

  phase = f.mark();
  std::string slow = f.startRollout("1.2.0", ReleaseKind::kSlower20ms);
  CHECK_MESSAGE(f.waitForEnd(slow, explain) == "rolled_back", explain);
  CHECK(f.hostsOn("1.1.0") == kHosts.size());
  MESSAGE("rolled-back rollout: " << Fixture::describe(f.since(phase)));
  CHECK_MESSAGE(f.load.failures() == 0, "rolled-back rollout: " << f.loadReport());

  phase = f.mark();
  for (const auto& host : kHosts) {
    auto out = f.web->fleet().cli(
        {"rollback", "--host", host.name, "--service", "web", "--to", "1.0.0", "--json"});
    CHECK_MESSAGE(out.exitCode == 0, host.name << ": " << out.out << out.err);
    // The result's events show the drain and the return to ready.
    CHECK_MESSAGE(out.out.find("drained haproxy server web/" + host.name) != std::string::npos,
                  out.out);
    CHECK_MESSAGE(
        out.out.find("haproxy server web/" + host.name + " ready and UP") != std::string::npos,
        out.out);
  }
  CHECK(f.hostsOn("1.0.0") == kHosts.size());
  MESSAGE("rollbacks to 1.0.0, host by host: " << Fixture::describe(f.since(phase)));

  // Fleet-wide reverts of a build every host runs: one host at a time, then every host at once.
  // All at once drains every server together; the agents keep one of them taking traffic.
  for (const std::vector<std::string>& batch :
       {std::vector<std::string>{"--batch", "1"}, std::vector<std::string>{}}) {
    std::string name = batch.empty() ? "revert, all hosts at once" : "revert --batch 1";
    auto forward = f.mark();
    f.installEverywhere("1.1.0");
    MESSAGE("installs of 1.1.0: " << Fixture::describe(f.since(forward)));
    auto start = f.mark();
    auto report = f.revert("1.0.0", batch);
    auto counts = f.since(start);
    MESSAGE(name << ": " << Fixture::describe(counts));
    CHECK_MESSAGE(counts.failed == 0, name << ": " << f.loadReport() << "; " << report.dump());
    CHECK(report.value("status", "") == "succeeded");
    CHECK(f.hostsOn("1.0.0") == kHosts.size());
    CHECK(f.haproxy->serversNotReady().empty());
  }
  f.load.stop();
  INFO("with HAProxy: " << f.loadReport());
  CHECK(f.load.failures() == 0);
  CHECK(f.load.requestsSent() > 1000);
  CHECK(f.haproxy->serversNotReady().empty());
  MESSAGE("with HAProxy integration: " << f.loadReport());
}

TEST_CASE("without the HAProxy integration, the same promoted rollout fails requests") {
  Fixture f;
  if (!f.ready(Integration::kOff)) return;
  f.startLoad();
  std::string explain;
  std::string good = f.startRollout("1.1.0", ReleaseKind::kHealthy);
  CHECK_MESSAGE(f.waitForEnd(good, explain) == "succeeded", explain);
  CHECK(f.hostsOn("1.1.0") == kHosts.size());
  f.load.stop();
  MESSAGE("without HAProxy integration: " << f.loadReport());
  CHECK_MESSAGE(f.load.failures() > 0, f.loadReport());
}

TEST_CASE(
    "an unreachable HAProxy fails the install with the reason; a build that does not start leaves "
    "no server drained") {
  Fixture f;
  f.brokenHost = "web-3";
  if (!f.ready(Integration::kOn)) return;
  f.startLoad();
  std::string archive = f.web->makeRelease("1.1.0", ReleaseKind::kHealthy);
  auto push =
      f.web->fleet().cli({"artifact", "push", archive, "--service", "web", "--version", "1.1.0"});
  REQUIRE_MESSAGE(push.exitCode == 0, push.err);

  // web-3's agent can no longer reach HAProxy's runtime socket.
  std::string unreachable = f.lbDir.file("web-3.sock");
  REQUIRE(::unlink(unreachable.c_str()) == 0);
  auto install = f.web->fleet().cli(
      {"install", "--host", "web-3", "--service", "web", "--version", "1.1.0", "--json"});
  INFO(install.out << install.err);
  CHECK(install.exitCode != 0);
  CHECK(install.out.find("cannot drain web/web-3") != std::string::npos);
  CHECK(install.out.find("haproxy " + unreachable) != std::string::npos);
  CHECK(install.out.find("No such file or directory") != std::string::npos);
  CHECK(install.out.find("not restarted") != std::string::npos);
  CHECK(f.web->activeRelease("web-3") == "1.0.0");

  // A build nginx refuses to start: the install switches back and restarts 1.0.0, and web-1 is
  // ready in HAProxy again.
  std::string src = f.web->work().file("src-broken");
  std::filesystem::create_directories(src);
  writeFile(src + "/site.conf", "this_is_not_a_directive;\n");
  writeFile(src + "/health", "ok\n");
  std::string broken = f.web->work().file("web-1.3.0.tar.gz");
  REQUIRE(runCommand({"tar", "-czf", broken, "-C", src, "."}).exitCode == 0);
  push = f.web->fleet().cli({"artifact", "push", broken, "--service", "web", "--version", "1.3.0"});
  REQUIRE_MESSAGE(push.exitCode == 0, push.err);
  auto bad = f.web->fleet().cli(
      {"install", "--host", "web-1", "--service", "web", "--version", "1.3.0", "--json"});
  INFO(bad.out << bad.err);
  CHECK(bad.exitCode != 0);
  CHECK(bad.out.find("switched back to 1.0.0") != std::string::npos);
  CHECK(f.web->activeRelease("web-1") == "1.0.0");
  CHECK(f.haproxy->serversNotReady().empty());
  CHECK(f.haproxy->waitAllUp());
  f.load.stop();
  INFO(f.loadReport());
  CHECK(f.load.failures() == 0);
}

TEST_CASE(
    "a canary weight holds the canary at that HAProxy weight during its analysis, then restores "
    "it") {
  Fixture f;
  if (!f.ready(Integration::kOn)) return;
  std::string plan = f.web->work().file("weighted-plan.toml");
  // 50 of 250: the canary takes a fifth of the traffic instead of a third.
  std::string text = kPlan;
  text.replace(text.find("[canary]\n"), 9, "[canary]\nweight = 50\n");
  writeFile(plan, text);
  f.startLoad();
  std::string id = f.startRollout("1.1.0", ReleaseKind::kHealthy, plan);
  // Sample the weights while the rollout runs.
  std::set<std::int64_t> canaryWeights;
  std::set<std::int64_t> otherWeights;
  std::string last;
  waitUntil(
      [&] {
        for (const auto& host : kHosts) {
          auto stat = f.haproxy->stat(host.name);
          if (!stat) continue;
          (host.name == "web-1" ? canaryWeights : otherWeights).insert(stat->weight);
        }
        last = f.status(id);
        return last == "succeeded" || last == "rolled_back" || last == "aborted" ||
               last == "failed" || last == "waiting_for_operator";
      },
      std::chrono::seconds(400), std::chrono::milliseconds(200));
  std::string explain;
  CHECK_MESSAGE(f.waitForEnd(id, explain) == "succeeded", explain);
  CHECK(canaryWeights.count(50) == 1);
  CHECK(otherWeights == std::set<std::int64_t>{100});
  // Back to the configured weight (within the hold's end, warm-up + analysis after activation).
  CHECK(waitUntil([&] {
    auto stat = f.haproxy->stat("web-1");
    return stat && stat->weight == 100;
  }));
  f.load.stop();
  INFO(f.loadReport());
  CHECK(f.load.failures() == 0);
  CHECK(f.haproxy->serversNotReady().empty());
}

TEST_CASE(
    "an agent killed while its server is drained leaves it drained until it starts again, then "
    "ready") {
  Fixture f;
  if (!f.ready(Integration::kOn)) return;
  std::string archive = f.web->makeRelease("1.1.0", ReleaseKind::kHealthy);
  auto push =
      f.web->fleet().cli({"artifact", "push", archive, "--service", "web", "--version", "1.1.0"});
  REQUIRE_MESSAGE(push.exitCode == 0, push.err);
  f.startLoad();
  CommandOutput install;
  std::thread installing([&] {
    install = f.web->fleet().cli({"install", "--host", "web-1", "--service", "web", "--version",
                                  "1.1.0", "--json", "--timeout-seconds", "120"});
  });
  // nginx takes 2 s to start: the agent is killed while web-1 is drained for its restart.
  REQUIRE(waitUntil(
      [&] { return f.haproxy->serversNotReady() == std::vector<std::string>{"web-1 (drain)"}; },
      std::chrono::seconds(60), std::chrono::milliseconds(20)));
  f.web->fleet().stopAgent("web-1", SIGKILL);
  CHECK(f.haproxy->serversNotReady() == std::vector<std::string>{"web-1 (drain)"});
  f.web->startAgent("web-1");
  CHECK(waitUntil([&] { return f.haproxy->serversNotReady().empty(); }, std::chrono::seconds(90)));
  installing.join();
  INFO("install: " << install.out << install.err);
  CHECK(f.haproxy->waitAllUp());
  f.load.stop();
  INFO(f.loadReport());
  CHECK(f.load.failures() == 0);
}
