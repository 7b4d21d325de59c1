// Rollouts end to end: a real coordinator, 6 real agents over 2 regions x 2 clusters, each with a
// real nginx unit of a private systemd manager under steady load. Stage durations are seconds.
#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"},
    {"us-a-1", "us", "us-a"}, {"us-a-2", "us", "us-a"}, {"us-b-1", "us", "us-b"}};

const std::string kPlan = testPlanToml();

struct Fixture {
  std::unique_ptr<WebFleet> web;
  std::string planFile;

  bool ready() {
    if (!requireOrSkip(WebFleet::missingPrerequisite())) return false;
    auto started = WebFleet::start(kHosts, WebFleet::Options{});
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    web = std::move(*started);
    auto base = web->installEverywhere("1.0.0", ReleaseKind::kHealthy);
    REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
    planFile = web->work().file("plan.toml");
    writeFile(planFile, kPlan);
    web->startLoad();
    return true;
  }

  // Starts a rollout of `version` and returns its id.
  std::string start(const std::string& version, ReleaseKind kind) {
    std::string archive = web->makeRelease(version, kind);
    auto out = web->fleet().cli({"rollout", "start", "--service", "web", "--version", version,
                                 "--artifact", archive, "--plan", planFile, "--canary-host",
                                 "eu-a-1", "--json"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    std::string id = startedRolloutId(out.out);
    REQUIRE_MESSAGE(!id.empty(), out.out);
    return id;
  }

  nlohmann::json describe(const std::string& id) { return explainRollout(web->fleet(), id); }
  std::string status(const std::string& id) { return rolloutStatus(web->fleet(), id); }

  std::string stage(const std::string& id) {
    auto json = describe(id);
    auto summary = json.contains("rollout") ? json["rollout"] : json;
    return summary.value("stage", "") + "/" + summary.value("phase", "");
  }

  std::string waitForEnd(const std::string& id, std::chrono::seconds timeout = std::chrono::seconds(240)) {
    std::string last = waitForDecision(web->fleet(), id, timeout);
    // What the operator would read, in the test's output when an assertion about it fails.
    auto explain = web->fleet().cli({"rollout", "explain", id});
    INFO("rollout explain " << id << ":\n" << explain.out << explain.err);
    lastExplain = explain.out + explain.err;
    return last;
  }
  std::string lastExplain;

  std::size_t hostsOn(const std::string& version) {
    std::size_t n = 0;
    for (const auto& host : kHosts) n += web->activeRelease(host.name) == version;
    return n;
  }

  // The failed checks explain shows (names).
  std::vector<std::string> failedChecks(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& check : describe(id).value("checks", nlohmann::json::array())) {
      const auto& result = check.contains("result") ? check["result"] : check;
      if (result.value("verdict", "") == "fail") out.push_back(result.value("name", ""));
    }
    return out;
  }
};

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("a good build is promoted through all four stages and every host ends on it") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.1.0", ReleaseKind::kHealthy);
  CHECK_MESSAGE(f.waitForEnd(id) == "succeeded", f.lastExplain);
  CHECK(f.hostsOn("1.1.0") == kHosts.size());
  auto explain = f.web->fleet().cli({"rollout", "explain", id});
  CHECK(explain.exitCode == 0);
  CHECK(explain.out.find("fleet") != std::string::npos);
}

TEST_CASE("a build returning 500 for 3% of requests is rolled back at the canary by Fisher") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.2.0", ReleaseKind::kErrors3Percent);
  CHECK(f.waitForEnd(id) == "rolled_back");
  CHECK(f.hostsOn("1.0.0") == kHosts.size());
  auto failed = f.failedChecks(id);
  CHECK_MESSAGE(contains(failed, "http_5xx"), f.describe(id).dump());
  auto explain = f.web->fleet().cli({"rollout", "explain", id});
  CHECK(explain.out.find("Fisher") != std::string::npos);
}

TEST_CASE("a build adding 20 ms of latency is rolled back by the Mann-Whitney check") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.3.0", ReleaseKind::kSlower20ms);
  CHECK(f.waitForEnd(id) == "rolled_back");
  CHECK(f.hostsOn("1.0.0") == kHosts.size());
  CHECK_MESSAGE(contains(f.failedChecks(id), "latency"), f.describe(id).dump());
}

TEST_CASE("an A/A rollout (same content, new version) is promoted, also past a coordinator frozen for 8 s") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.0.1", ReleaseKind::kHealthy);
  // Frozen during the canary's analysis for twice the host timeout (4 s) and longer than
  // silence_seconds (6 s): the hosts kept sending; nobody read. They are not called silent.
  REQUIRE(waitUntil([&] { return f.stage(id) == "canary/analyzing"; }, std::chrono::seconds(120),
                    std::chrono::milliseconds(200)));
  f.web->fleet().signalCoordinator(SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(8));
  f.web->fleet().signalCoordinator(SIGCONT);
  CHECK_MESSAGE(f.waitForEnd(id) == "succeeded", f.lastExplain);
  CHECK(f.hostsOn("1.0.1") == kHosts.size());
  CHECK_MESSAGE(f.lastExplain.find("resumed after the coordinator stalled for") != std::string::npos,
                f.lastExplain);
  CHECK(f.lastExplain.find("stopped reporting") == std::string::npos);
}

TEST_CASE("SIGKILL of the coordinator during the cluster stage: the rollout continues and ends as it would have") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.4.0", ReleaseKind::kHealthy);
  REQUIRE(waitUntil([&] { return f.stage(id).rfind("cluster/", 0) == 0; }, std::chrono::seconds(120),
                    std::chrono::milliseconds(200)));
  f.web->fleet().killCoordinator(SIGKILL);
  f.web->fleet().startCoordinator();
  REQUIRE(f.web->fleet().waitForCoordinator());
  CHECK(f.waitForEnd(id) == "succeeded");
  CHECK(f.hostsOn("1.4.0") == kHosts.size());
}

TEST_CASE("abort --all during the region stage puts every changed host back and reports every acknowledgement") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.5.0", ReleaseKind::kHealthy);
  REQUIRE(waitUntil([&] { return f.stage(id).rfind("region/", 0) == 0; }, std::chrono::seconds(120),
                    std::chrono::milliseconds(200)));
  auto abort = f.web->fleet().cli({"abort", "--all", "--reason", "test", "--json"});
  CHECK_MESSAGE(abort.exitCode == 0, abort.err << abort.out);
  auto json = nlohmann::json::parse(abort.out, nullptr, false);
  CHECK(json.value("acknowledged", 0) == static_cast<int>(kHosts.size()));
  CHECK(json["stopped"] == nlohmann::json::array({id}));  // the rollout it stopped, by id
  CHECK_MESSAGE(f.waitForEnd(id) == "aborted", f.lastExplain);
  CHECK(waitUntil([&] { return f.hostsOn("1.0.0") == kHosts.size(); }, std::chrono::seconds(60)));
}

TEST_CASE("the canary's agent stopped during analysis: the stage fails and nothing is promoted") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.6.0", ReleaseKind::kHealthy);
  REQUIRE(waitUntil([&] { return f.stage(id) == "canary/analyzing"; }, std::chrono::seconds(120),
                    std::chrono::milliseconds(200)));
  f.web->stopAgent("eu-a-1");
  // The stage fails: the rollout rolls back (and waits for the silent canary to take the rollback).
  std::string status;
  CHECK(waitUntil([&] {
    status = f.status(id);
    return status == "rolling_back" || status == "rolled_back" || status == "failed";
  }, std::chrono::seconds(120), std::chrono::milliseconds(500)));
  INFO("status after the canary went silent: " << status);
  CHECK(f.stage(id).rfind("canary/", 0) == 0);
  // Only the canary ever got the build, and nothing else.
  for (const auto& host : kHosts) {
    if (host.name != "eu-a-1") CHECK(f.web->activeRelease(host.name) == "1.0.0");
  }
  // When the canary's agent comes back it is switched back too, and the rollout ends rolled back.
  f.web->startAgent("eu-a-1");
  CHECK(waitUntil([&] { return f.web->activeRelease("eu-a-1") == "1.0.0"; }, std::chrono::seconds(60)));
  CHECK(f.waitForEnd(id, std::chrono::seconds(60)) == "rolled_back");
}
