// `rollgate revert` end to end on a real fleet (4 agents, nginx units of a private systemd
// manager, steady load): a promoted build is reverted on every host, gated (--staged) and fast,
// and a host that no longer keeps the old release fetches it from the coordinator; refusals name
// the release or rollout; `rollout start` of an older version fails at once pointing to revert; a
// revert stops a running rollout of the service and finishes after the coordinator is killed in the
// middle of it.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>

#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {{"eu-a-1", "eu", "eu-a"},
                                         {"eu-a-2", "eu", "eu-a"},
                                         {"eu-b-1", "eu", "eu-b"},
                                         {"us-a-1", "us", "us-a"}};

const std::string kPlan = testPlanToml({.canaryWarmupSeconds = 1, .canaryAnalysisSeconds = 5});

nlohmann::json parse(const CommandOutput& out) {
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  return json.is_discarded() ? nlohmann::json::object() : json;
}

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
  CommandOutput cli(std::vector<std::string> args) { return web->fleet().cli(std::move(args)); }

  CommandOutput start(const std::string& version) {
    return cli({"rollout", "start", "--service", "web", "--version", version, "--artifact",
                web->makeRelease(version, ReleaseKind::kHealthy), "--plan", planFile,
                "--canary-host", "eu-a-1", "--json"});
  }
  std::string status(const std::string& id) {
    return parse(cli({"rollout", "status", id, "--json"}))["rollout"].value("status", "");
  }
  std::size_t hostsOn(const std::string& version) {
    std::size_t n = 0;
    for (const auto& host : kHosts) n += web->activeRelease(host.name) == version;
    return n;
  }
  // The releases `host` reports keeping (rollgate hosts --json).
  std::vector<std::string> kept(const std::string& host) {
    for (const auto& h : web->fleet().hosts().value("hosts", nlohmann::json::array())) {
      if (h.value("name", "") != host) continue;
      for (const auto& s : h["services"]) return s.value("releases", std::vector<std::string>{});
    }
    return {};
  }
};

const nlohmann::json* hostIn(const nlohmann::json& revert, const std::string& name) {
  for (const auto& h : revert["hosts"]) {
    if (h.value("host", "") == name) return &h;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a promoted build is reverted on every host; a host without the old release fetches it") {
  Fixture f;
  if (!f.ready()) return;
  auto started = f.start("2.0.0");
  REQUIRE_MESSAGE(started.exitCode == 0, started.err << started.out);
  std::string id = parse(started)["rollout"].value("id", "");
  std::string status;
  REQUIRE(waitUntil(
      [&] {
        status = f.status(id);
        return status == "succeeded" || status == "rolled_back" || status == "waiting_for_operator";
      },
      std::chrono::seconds(240), std::chrono::milliseconds(500)));
  REQUIRE_MESSAGE(status == "succeeded", f.cli({"rollout", "explain", id}).out);
  REQUIRE(f.hostsOn("2.0.0") == kHosts.size());

  // An older version is refused at once, before any upload, pointing to revert.
  auto older = f.start("0.9.0");
  CHECK(older.exitCode == 1);
  CHECK(older.err.find("version 0.9.0 of service web is older than 2.0.0") != std::string::npos);
  CHECK(older.err.find("rollgate revert --service web --to 0.9.0") != std::string::npos);
  CHECK(older.err.find("stored") == std::string::npos);  // no "artifact ... stored": no upload

  // Refusals name the thing.
  auto unknown = f.cli({"revert", "--service", "web", "--to", "0.5.0", "--json"});
  CHECK(unknown.exitCode == 1);
  CHECK(unknown.err.find("release 0.5.0 of service web: no host keeps it and the artifact store "
                         "has none") != std::string::npos);
  CHECK(unknown.out.empty());
  for (const char* action : {"pause", "resume"}) {
    auto missing = f.cli({"rollout", action, "r999", "--json"});
    CHECK(missing.exitCode == 1);
    CHECK(missing.err.find("no rollout r999") != std::string::npos);
  }
  auto noRevert = f.cli({"revert", "status", "v999"});
  CHECK(noRevert.exitCode == 1);
  CHECK(noRevert.err.find("no revert v999") != std::string::npos);
  auto badBatch = f.cli({"revert", "--service", "web", "--batch", "0%"});
  CHECK(badBatch.exitCode == 2);
  CHECK(badBatch.err.find("--batch '0%'") != std::string::npos);

  // A staged revert is a rollout of the older release, gated like one.
  auto staged = f.cli({"revert", "--service", "web", "--staged", "--plan", f.planFile, "--wait",
                       "--json", "--interval", "0.2"});
  REQUIRE_MESSAGE(staged.exitCode == 0, staged.err << staged.out);
  auto stagedJson = parse(staged);
  CHECK(stagedJson["staged"] == true);
  CHECK(stagedJson["rollout"]["status"] == "succeeded");
  CHECK(stagedJson["rollout"]["version"] == "1.0.0");
  CHECK(f.hostsOn("1.0.0") == kHosts.size());
  // Forward again, for the fast revert below.
  auto again = f.start("2.0.1");
  REQUIRE_MESSAGE(again.exitCode == 0, again.err << again.out);
  std::string againId = parse(again)["rollout"].value("id", "");
  REQUIRE(waitUntil(
      [&] {
        status = f.status(againId);
        return status == "succeeded" || status == "rolled_back" || status == "waiting_for_operator";
      },
      std::chrono::seconds(240), std::chrono::milliseconds(500)));
  REQUIRE_MESSAGE(status == "succeeded", f.cli({"rollout", "explain", againId}).out);

  // us-a-1 no longer keeps 1.0.0.
  std::filesystem::remove_all(f.web->work().file("us-a-1") + "/releases/1.0.0");
  REQUIRE(waitUntil([&] {
    auto kept = f.kept("us-a-1");
    return !kept.empty() && std::find(kept.begin(), kept.end(), "1.0.0") == kept.end();
  }));

  auto reverted = f.cli(
      {"revert", "--service", "web", "--to", "1.0.0", "--wait", "--json", "--reason", "test"});
  REQUIRE_MESSAGE(reverted.exitCode == 0, reverted.err << reverted.out);
  auto revert = parse(reverted)["revert"];
  CHECK(revert["status"] == "succeeded");
  CHECK(revert["to_version"] == "1.0.0");
  CHECK(revert["newest_active"] == "2.0.1");
  CHECK(revert["counts"]["succeeded"] == kHosts.size());
  REQUIRE(hostIn(revert, "us-a-1") != nullptr);
  CHECK((*hostIn(revert, "us-a-1"))["method"] == "install");  // 1.0.0 is in the artifact store
  CHECK(f.hostsOn("1.0.0") == kHosts.size());
  auto fetched = f.kept("us-a-1");
  CHECK(std::find(fetched.begin(), fetched.end(), "1.0.0") != fetched.end());

  // The human report names every host.
  auto human = f.cli({"revert", "status", revert["id"].get<std::string>()});
  CHECK(human.exitCode == 0);
  CHECK(human.out.find("succeeded, 4 of 4 hosts on 1.0.0") != std::string::npos);
  CHECK(human.out.find("us-a-1") != std::string::npos);
}

TEST_CASE("a revert stops a running rollout and finishes after the coordinator is killed") {
  Fixture f;
  if (!f.ready()) return;
  auto started = f.start("3.0.0");
  REQUIRE_MESSAGE(started.exitCode == 0, started.err << started.out);
  std::string id = parse(started)["rollout"].value("id", "");
  // The canary is on the new build.
  REQUIRE(waitUntil([&] { return f.web->activeRelease("eu-a-1") == "3.0.0"; },
                    std::chrono::seconds(120)));
  // Write commands answer in JSON too.
  for (const char* action : {"pause", "resume"}) {
    auto done = f.cli({"rollout", action, id, "--json"});
    REQUIRE_MESSAGE(done.exitCode == 0, done.err);
    auto json = parse(done);
    CHECK(json["ok"] == true);
    CHECK(json["message"].get<std::string>().find("rollout " + id) != std::string::npos);
  }
  // us-a-1 (the last in the batch order) cannot answer: the revert is still going when the
  // coordinator is killed.
  auto agent = runCommand({"pgrep", "-f", f.web->fleet().agentConfig("us-a-1")});
  REQUIRE(agent.exitCode == 0);
  pid_t pid = std::stoi(agent.out);
  ::kill(pid, SIGSTOP);
  // --wait gives up after an explicit --timeout, naming the revert, which goes on.
  auto reverted = f.cli({"--timeout", "3", "revert", "--service", "web", "--to", "1.0.0", "--batch",
                         "1", "--wait", "--json"});
  CHECK(reverted.exitCode == 1);
  CHECK_MESSAGE(reverted.err.find("is still running after --timeout 3 s") != std::string::npos,
                reverted.err);
  auto revert = parse(reverted)["revert"];
  std::string revertId = revert.value("id", "");
  CHECK(revert["aborted_rollouts"] == nlohmann::json::array({id}));
  CHECK(revert["status"] == "running");
  CHECK(revert["batch_size"] == 1);
  // Killed in the middle of it, the coordinator resumes the revert.
  REQUIRE(waitUntil(
      [&] {
        auto now = parse(f.cli({"revert", "status", revertId, "--json"}));
        return now.contains("revert") && now["revert"]["counts"]["succeeded"] == 3;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(200)));
  f.web->fleet().killCoordinator(SIGKILL);
  ::kill(pid, SIGCONT);
  f.web->fleet().startCoordinator();
  REQUIRE(f.web->fleet().waitForCoordinator());
  nlohmann::json report;
  REQUIRE(waitUntil(
      [&] {
        report = parse(f.cli({"revert", "status", revertId, "--json"}));
        return report.contains("revert") && report["revert"]["status"] != "running";
      },
      std::chrono::seconds(120), std::chrono::milliseconds(500)));
  CHECK_MESSAGE(report["revert"]["status"] == "succeeded", report.dump(2));
  CHECK(f.hostsOn("1.0.0") == kHosts.size());
  CHECK(readFile(f.web->fleet().coordinatorLog()).find("resuming after a coordinator restart") !=
        std::string::npos);
  std::string rollout = f.status(id);
  CHECK_MESSAGE((rollout == "aborted" || rollout == "rolled_back"), rollout);
}
