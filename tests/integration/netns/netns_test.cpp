// Multi-host behaviour over a real (private) network: the coordinator and each agent run in a
// network namespace of their own, joined by a bridge, and a host's link is cut mid-rollout.
// Each host's web server is a real nginx unit under steady load (see NetnsWebFleet).
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/support/netns/netns_web_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

// canary eu-a-1, then cluster eu-a-2, region eu-b-1, fleet us-a-1 (the other region).
const std::vector<NetnsHostSpec> kHosts = {{"eu-a-1", "eu", "eu-a"},
                                           {"eu-a-2", "eu", "eu-a"},
                                           {"eu-b-1", "eu", "eu-b"},
                                           {"us-a-1", "us", "us-a"}};

// The fleet stage analyses long enough for a test to act during it.
const char* kPlan = R"(window_seconds = 1
silence_seconds = 6
report_grace_seconds = 2
[canary]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 6
[cluster]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 4
[region]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 4
batch = "100%"
[fleet]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 60
batch = "100%"
)";

struct Fixture {
  std::unique_ptr<NetnsWebFleet> web;
  std::string planFile;

  bool ready() {
    if (!requireOrSkip(NetnsWebFleet::missingPrerequisite())) return false;
    auto started = NetnsWebFleet::start(kHosts, NetnsWebFleet::Options{});
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    web = std::move(*started);
    auto base = web->installEverywhere("1.0.0");
    REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
    planFile = web->work().file("plan.toml");
    writeFile(planFile, kPlan);
    web->startLoad();
    return true;
  }

  std::string start(const std::string& version) {
    std::string archive = web->makeRelease(version, NetnsRelease::kHealthy);
    auto out = web->cli({"rollout", "start", "--service", "web", "--version", version, "--artifact",
                         archive, "--plan", planFile, "--canary-host", "eu-a-1", "--json"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    auto summary = json.contains("rollout") ? json["rollout"] : json;
    REQUIRE(summary.contains("id"));
    return summary["id"].get<std::string>();
  }

  nlohmann::json summary(const std::string& id) {
    auto out = web->cli({"rollout", "explain", id, "--json"});
    if (out.exitCode != 0) return nlohmann::json::object();
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    if (json.is_discarded()) return nlohmann::json::object();
    return json.contains("rollout") ? json["rollout"] : json;
  }

  std::string stage(const std::string& id) {
    auto s = summary(id);
    return s.value("stage", "") + "/" + s.value("phase", "");
  }

  // Waits until the rollout's status is one of `statuses`; returns the last status seen.
  std::string waitForStatus(const std::string& id, const std::vector<std::string>& statuses) {
    std::string last;
    waitUntil(
        [&] {
          last = summary(id).value("status", "");
          return std::find(statuses.begin(), statuses.end(), last) != statuses.end();
        },
        std::chrono::seconds(120), std::chrono::milliseconds(300));
    auto explain = web->cli({"rollout", "explain", id});
    lastExplain = explain.out + explain.err;
    return last;
  }
  std::string lastExplain;
};

}  // namespace

TEST_CASE("the canary's link cut during analysis: the stage fails, nothing is promoted, and the "
          "canary is switched back when its link returns") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.1.0");
  REQUIRE(waitUntil([&] { return f.stage(id) == "canary/analyzing"; }, std::chrono::seconds(120),
                    std::chrono::milliseconds(200)));
  REQUIRE(f.web->activeRelease("eu-a-1") == "1.1.0");
  REQUIRE(f.web->lab().cut("eu-a-1").ok());

  // The stage fails; the rollback stays under way while the canary cannot be told.
  std::string failing = f.waitForStatus(id, {"rolling_back", "rolled_back", "failed", "succeeded"});
  CHECK_MESSAGE(failing == "rolling_back", failing << "\n" << f.lastExplain);
  // No stage after the canary ran: every other host is still on the base release.
  CHECK(f.summary(id).value("stage", "") == "canary");
  for (const auto& host : kHosts) {
    if (host.name != "eu-a-1") CHECK(f.web->activeRelease(host.name) == "1.0.0");
  }
  // The canary kept its new build while it could not be reached: nobody could tell it otherwise.
  CHECK(f.web->activeRelease("eu-a-1") == "1.1.0");

  REQUIRE(f.web->lab().restore("eu-a-1").ok());
  CHECK_MESSAGE(waitUntil([&] { return f.web->activeRelease("eu-a-1") == "1.0.0"; },
                          std::chrono::seconds(90), std::chrono::milliseconds(200)),
                readFile(f.web->agentLog("eu-a-1")));
  std::string end = f.waitForStatus(id, {"rolled_back", "failed"});
  CHECK_MESSAGE((end == "rolled_back" || end == "failed"), end << "\n" << f.lastExplain);
  CHECK(f.summary(id).value("stage", "") == "canary");
}

TEST_CASE("a fleet-stage host's link cut during abort --all: the abort completes for everyone "
          "else, and the host gets it and is switched back when its link returns") {
  Fixture f;
  if (!f.ready()) return;
  std::string id = f.start("1.2.0");
  REQUIRE_MESSAGE(waitUntil([&] { return f.web->activeRelease("us-a-1") == "1.2.0"; },
                            std::chrono::seconds(120), std::chrono::milliseconds(200)),
                  f.stage(id));
  REQUIRE(f.stage(id).rfind("fleet/", 0) == 0);
  REQUIRE(f.web->lab().cut("us-a-1").ok());

  auto abort = f.web->cli({"abort", "--all", "--reason", "netns cut test", "--json"});
  auto json = nlohmann::json::parse(abort.out, nullptr, false);
  REQUIRE_MESSAGE(!json.is_discarded(), abort.err << abort.out);
  CHECK(abort.exitCode == 1);  // not every host acknowledged
  CHECK(json.value("targets", 0) == static_cast<int>(kHosts.size()));
  CHECK(json.value("acknowledged", 0) == static_cast<int>(kHosts.size()) - 1);
  CHECK(json["missing"] == nlohmann::json::array({"us-a-1"}));
  for (const auto& host : kHosts) {
    if (host.name == "us-a-1") continue;
    CHECK(readFile(f.web->agentLog(host.name)).find("(netns cut test)") != std::string::npos);
  }
  // The rollout cannot end while the cut host still runs its build.
  CHECK(f.waitForStatus(id, {"rolling_back", "aborted", "succeeded"}) == "rolling_back");
  // Everyone the coordinator can reach is put back; the cut host still runs the new build.
  CHECK(waitUntil([&] {
    for (const auto& host : kHosts) {
      if (host.name != "us-a-1" && f.web->activeRelease(host.name) != "1.0.0") return false;
    }
    return true;
  }, std::chrono::seconds(60)));
  CHECK(readFile(f.web->agentLog("us-a-1")).find("(netns cut test)") == std::string::npos);
  CHECK(f.web->activeRelease("us-a-1") == "1.2.0");

  REQUIRE(f.web->lab().restore("us-a-1").ok());
  CHECK_MESSAGE(waitUntil([&] {
    return readFile(f.web->agentLog("us-a-1")).find("(netns cut test)") != std::string::npos;
  }, std::chrono::seconds(90), std::chrono::milliseconds(200)), readFile(f.web->agentLog("us-a-1")));
  CHECK(waitUntil([&] { return f.web->activeRelease("us-a-1") == "1.0.0"; },
                  std::chrono::seconds(60), std::chrono::milliseconds(200)));
  CHECK(f.waitForStatus(id, {"aborted", "rolled_back", "failed", "succeeded"}) == "aborted");
  // The coordinator now counts every host as having acknowledged.
  auto again = f.web->cli({"abort", "--all", "--reason", "after", "--json"});
  CHECK_MESSAGE(again.exitCode == 0, again.err << again.out);
}
