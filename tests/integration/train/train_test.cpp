// The release train on a real fleet (4 hosts, nginx units under load, 1 s windows, a short plan):
// ten commits with a bad one in the middle land at once; the backlog raises the commits per
// rollout to the hard cap; the canary fails; the train bisects to the bad commit in at most four
// canary-only rollouts, ships the good ones before it and holds, naming the culprit, until a revert
// lands, which it ships; a webhook hears of the bad commit. The coordinator is SIGKILLed around a pick, while rolling out, while
// bisecting and while held, and the train resumes each time: no version is rolled out fleet-wide twice, none is
// skipped. Then a deploy window: closed, the train does not start anything and says when it
// opens; open, it ships; closed again, it stops.
#include <doctest/doctest.h>
#include <signal.h>

#include <ctime>
#include <map>
#include <thread>

#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/fleet/webhook_receiver.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;
using nlohmann::json;

namespace {

const std::vector<WebHostSpec> kHosts = {{"eu-a-1", "eu", "eu-a"},
                                         {"eu-a-2", "eu", "eu-a"},
                                         {"us-a-1", "us", "us-a"},
                                         {"us-a-2", "us", "us-a"}};

std::string sha(int n) {
  char text[41];
  std::snprintf(text, sizeof text, "%040x", 0xc0ffee00 + n);
  return text;
}

struct Train {
  WebFleet& web;

  json cli(std::vector<std::string> args) {
    args.push_back("--json");
    auto out = web.fleet().cli(args);
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    return json::parse(out.out);
  }
  json status() { return cli({"train", "status", "web"}); }
  std::string phase() {
    auto out = web.fleet().cli({"train", "status", "web", "--json"});
    if (out.exitCode != 0) return "";
    return json::parse(out.out).value("phase", "");
  }
  void submit(int n, const std::string& version, ReleaseKind kind, const std::string& fixes = "") {
    std::string archive = web.makeRelease(version, kind);
    std::vector<std::string> args{"release", "submit", "--service", "web", "--version", version,
                                  "--commit", sha(n), "--author", "dev" + std::to_string(n),
                                  "--title", "change " + std::to_string(n), "--tests", "passed",
                                  "--artifact", archive};
    if (n > 1) args.insert(args.end(), {"--parent", sha(n - 1)});
    if (!fixes.empty()) args.insert(args.end(), {"--fixes", fixes});
    cli(args);
  }
  std::map<std::string, json> candidates() {
    std::map<std::string, json> out;
    // Held in a local: a range-for over a member of the temporary reply would read freed memory.
    json list = cli({"release", "list", "--service", "web"});
    for (const auto& c : list["candidates"]) {
      out[c.value("commit", "")] = c;
    }
    return out;
  }
  // Rollouts of the service the train started: version -> number of fleet-wide (several steps)
  // and canary-only (one step) rollouts.
  struct Counts {
    std::map<std::string, int> full, canaryOnly;
  };
  Counts rollouts() {
    Counts counts;
    auto list = cli({"rollout", "list"});
    const json& rows = list.is_array() ? list : list.value("rollouts", json::array());
    for (const auto& r : rows) {
      (r.value("steps", 0) > 1 ? counts.full : counts.canaryOnly)[r.value("version", "")]++;
    }
    return counts;
  }
  bool waitPhase(const std::string& want, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    return waitUntil([&] { return phase() == want; }, timeout, std::chrono::milliseconds(200));
  }
  void restartCoordinator() {
    web.fleet().killCoordinator(SIGKILL);
    web.fleet().startCoordinator();
    REQUIRE(web.fleet().waitForCoordinator());
  }
  std::size_t hostsOn(const std::string& version) {
    std::size_t n = 0;
    for (const auto& h : kHosts) n += web.activeRelease(h.name) == version;
    return n;
  }
};

// "HH:MM:SS" (UTC) of now + `seconds`.
std::string utcIn(int seconds) {
  std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[16];
  std::strftime(out, sizeof out, "%H:%M:%S", &tm);
  return out;
}

}  // namespace

TEST_CASE("the release train ships, bisects to the bad commit, holds until its revert, resumes after SIGKILL and keeps its window") {
  if (!requireOrSkip(WebFleet::missingPrerequisite())) return;
  // A team's webhook endpoint, told when the train names a bad commit.
  WebhookReceiver hook("train-hook-secret");
  WebFleet::Options options;
  options.coordinatorExtraToml = "\n[[notify.webhook]]\nurl = \"" + hook.url() +
                                 "\"\nsecret = \"train-hook-secret\"\nformat = \"json\"\n";
  auto started = WebFleet::start(kHosts, options);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  WebFleet& web = **started;
  // On a failed check: what the coordinator and the canary's agent did last.
  INFO("coordinator log, last lines:\n" << tailOfFile(web.fleet().coordinatorLog(), 80));
  INFO("canary agent log, last lines:\n" << tailOfFile(web.fleet().agentLog(kHosts[0].name), 30));
  REQUIRE(web.installEverywhere("1.0.0", ReleaseKind::kHealthy).ok());
  web.startLoad();
  Train t{web};
  TestPlan shortPlan;
  shortPlan.canaryAnalysisSeconds = 5;
  std::string plan = web.work().file("plan.toml");
  writeFile(plan, testPlanToml(shortPlan));
  // Cap 3, but a backlog of ten within a 30 s goal at 30 s per rollout takes the hard cap, 10.
  std::string config = web.work().file("train.toml");
  writeFile(config, "[train]\ncap = 3\nhard_cap = 10\ngoal_seconds = 30\nexpected_rollout_seconds = 30\n");

  // Ten commits land while the train is paused (CI submits them in commit order); the fifth one
  // breaks the service, and every build after it carries the break.
  t.cli({"train", "enable", "web", "--config", config, "--plan", plan});
  t.cli({"train", "pause", "web"});
  for (int n = 1; n <= 10; ++n) {
    t.submit(n, "1.1." + std::to_string(n), n < 5 ? ReleaseKind::kHealthy : ReleaseKind::kErrors3Percent);
  }
  json paused = t.status();
  CHECK(paused.value("why", "").find("paused by ") == 0);
  CHECK_FALSE(paused.value("moving", true));
  CHECK(paused.value("next", "").find("picked 10 commits") != std::string::npos);

  // SIGKILL around the pick: resume, and kill the coordinator at once.
  t.cli({"train", "resume", "web"});
  t.restartCoordinator();
  bool rollingOut = t.waitPhase("rolling_out");
  INFO("status after the restart: " << t.status().dump());
  REQUIRE(rollingOut);
  json rolling = t.status();
  CHECK(rolling.value("moving", false));
  // SIGKILL while rolling out (the canary of ten commits).
  t.restartCoordinator();
  bool bisecting = t.waitPhase("bisecting");
  INFO("status before bisecting: " << t.status().dump());
  REQUIRE(bisecting);
  // SIGKILL while bisecting.
  t.restartCoordinator();
  // It names the bad commit, ships the good ones before it, and holds.
  REQUIRE(waitUntil([&] { return t.hostsOn("1.1.4") == kHosts.size() && t.phase() == "held"; },
                    std::chrono::seconds(240), std::chrono::milliseconds(250)));
  json held = t.status();
  INFO("status: " << held.dump());
  REQUIRE(held["heldOn"].is_object());
  CHECK(held["heldOn"].value("commit", "") == sha(5));
  CHECK(held.value("why", "").find("held: commit " + sha(5).substr(0, 12)) == 0);
  CHECK_FALSE(held.value("moving", true));
  auto candidates = t.candidates();
  for (int n = 1; n <= 4; ++n) CHECK(candidates[sha(n)].value("state", "") == "shipped");
  CHECK(candidates[sha(5)].value("state", "") == "bad");
  for (int n = 6; n <= 10; ++n) CHECK(candidates[sha(n)].value("state", "") == "locked");
  // The team was told, signed, naming the commit (its version and author: the test's commit
  // hashes share their first 12 digits).
  bool told = waitUntil(
      [&] {
        for (const auto& r : hook.accepted()) {
          if (r.event == "train_bad_commit" && r.signatureValid &&
              r.json.value("text", "").find("(1.1.5) by dev5 is bad") != std::string::npos &&
              r.json.value("service", "") == "web") {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200));
  CHECK(told);
  Train::Counts counts = t.rollouts();
  int canaries = 0;
  for (const auto& [version, n] : counts.canaryOnly) canaries += n;
  CHECK(canaries >= 1);
  CHECK(canaries <= 4);
  // Held: nothing else starts.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(t.phase() == "held");
  // SIGKILL while held: it is still held on the same commit, and still starts nothing.
  t.restartCoordinator();
  REQUIRE(t.waitPhase("held"));
  CHECK(t.status()["heldOn"].value("commit", "") == sha(5));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(t.phase() == "held");

  // The revert lands: the train skips the locked range and ships it.
  t.submit(11, "1.1.11", ReleaseKind::kHealthy, sha(5));
  REQUIRE(waitUntil([&] { return t.hostsOn("1.1.11") == kHosts.size() && t.phase() == "idle"; },
                    std::chrono::seconds(120), std::chrono::milliseconds(250)));
  counts = t.rollouts();
  for (const auto& entry : counts.full) {
    INFO("version " << entry.first);
    CHECK(entry.second == 1);  // no version rolled out fleet-wide twice
  }
  CHECK(counts.full.count("1.1.10") == 1);  // the ten-commit rollout that failed at its canary
  CHECK(counts.full.count("1.1.4") == 1);
  CHECK(counts.full.count("1.1.11") == 1);
  CHECK(counts.full.size() == 3);
  auto history = t.cli({"train", "history", "web"});
  bool pickedTen = false, badNamed = false;
  for (const auto& e : history["events"]) {
    if (e.value("kind", "") == "picked" && e.value("text", "").find("picked 10 commits") == 0) pickedTen = true;
    if (e.value("kind", "") == "bad_commit" && e.value("commit", "") == sha(5)) badNamed = true;
  }
  CHECK(pickedTen);
  CHECK(badNamed);

  // A deploy window opening in 15 s for 35 s: closed, nothing starts and the status says when it
  // opens; open, the train ships; closed again, it stops.
  // A window cannot span midnight: near it, wait for the new day.
  std::time_t now = std::time(nullptr);
  if (now % 86400 > 86400 - 90) std::this_thread::sleep_for(std::chrono::seconds(86400 - now % 86400 + 1));
  writeFile(config, "[train]\ncap = 3\nhard_cap = 10\n[window]\ntime_zone = \"UTC\"\nopen = [\"daily " +
                        utcIn(15) + "-" + utcIn(50) + "\"]\n");
  t.cli({"train", "enable", "web", "--config", config, "--plan", plan});
  t.submit(12, "1.1.12", ReleaseKind::kHealthy);
  json closed = t.status();
  CHECK(closed.value("why", "").find("deploy window closed") == 0);
  CHECK(closed.value("why", "").find("; opens ") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::seconds(6));
  CHECK(t.phase() == "idle");
  CHECK(t.hostsOn("1.1.12") == 0);
  REQUIRE(waitUntil([&] { return t.hostsOn("1.1.12") == kHosts.size() && t.phase() == "idle"; },
                    std::chrono::seconds(120), std::chrono::milliseconds(250)));
  REQUIRE(waitUntil([&] { return t.status().value("why", "").find("deploy window closed") == 0; },
                    std::chrono::seconds(60), std::chrono::milliseconds(500)));
  t.submit(13, "1.1.13", ReleaseKind::kHealthy);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(t.phase() == "idle");
  CHECK(t.hostsOn("1.1.13") == 0);
  CHECK(t.status().value("next", "").find("when that clears: start a rollout") == 0);
}
