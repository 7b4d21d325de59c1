// Sentry end to end: on each host of a small real fleet (a real coordinator, real agents), a small
// application using Debian's python3-sentry-sdk runs as a unit of a private systemd manager with
// its DSN pointed at the agent's Sentry endpoint. Its releases raise a steady background of
// handled exceptions; bad releases raise a new exception type, raise exceptions at a higher rate,
// or crash sessions. Each bad release is stopped at the canary; an A/A release is promoted to
// every host. One host also relays everything to an upstream receiver (the team's Sentry).
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/signal_catalog.h"
#include "tests/support/sentry/sentry_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate;
using namespace rollgate::testing;
namespace fs = std::filesystem;

namespace {

const std::vector<SentryHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};

const std::string kBaseline = SentryFleet::kBackgroundMode;

struct Fixture {
  std::unique_ptr<SentryFleet> sentry;
  std::string planFile;
  std::string gatesFile;
  std::string lastExplain;

  bool ready() {
    if (!requireOrSkip(SentryFleet::missingPrerequisite())) return false;
    SentryFleet::Options options;
    options.relayHost = "eu-b-1";
    auto started = SentryFleet::start(kHosts, options);
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    sentry = std::move(*started);
    planFile = sentry->work().file("plan.toml");
    writeFile(planFile, sentryCatalogPlanToml());
    gatesFile = sentry->work().file("gates.toml");
    writeFile(gatesFile, SentryFleet::gatesToml());
    auto installed = sentry->installEverywhere("1.0.0", kBaseline);
    REQUIRE_MESSAGE(installed.ok(), (installed.ok() ? "" : installed.error().message));
    return true;
  }

  LocalFleet& fleet() { return sentry->fleet(); }

  std::string start(const std::string& version, const std::string& mode) {
    std::string archive = sentry->makeRelease(version, mode);
    auto out = fleet().cli({"rollout", "start", "--service", "shop", "--version", version,
                           "--artifact", archive, "--plan", planFile, "--gates", gatesFile,
                           "--canary-host", "eu-a-1",
                           "--json"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    std::string id = startedRolloutId(out.out);
    REQUIRE_MESSAGE(!id.empty(), out.out);
    return id;
  }

  nlohmann::json describe(const std::string& id) { return explainRollout(fleet(), id); }

  std::string waitForEnd(const std::string& id, bool pastHolds = false) {
    std::string last = waitForDecision(fleet(), id, std::chrono::seconds(400), pastHolds);
    auto explain = fleet().cli({"rollout", "explain", id});
    lastExplain = explain.out + explain.err;
    return last;
  }

  // For a build a critical check must roll back. A warn check may hold the step first: a crash
  // is also an exception type the baseline, crashing at 0.5 %, may not have raised yet in the
  // window, so new_error_types can fail a look before crash_free_sessions does. The analysis goes
  // on under a warn hold, and the critical check's failure rolls back; a hold is not the end.
  std::string waitForRollback(const std::string& id) { return waitForEnd(id, /*pastHolds=*/true); }

  std::vector<std::string> hostsOn(const std::string& version) {
    std::vector<std::string> out;
    for (const auto& host : kHosts) {
      if (sentry->activeRelease(host.name) == version) out.push_back(host.name);
    }
    return out;
  }

  // Names of the checks that failed in the rollout's explanation.
  std::vector<std::string> failedChecks(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& check : describe(id).value("checks", nlohmann::json::array())) {
      const auto& result = check.contains("result") ? check["result"] : check;
      if (result.value("verdict", "") == "fail") out.push_back(result.value("name", ""));
    }
    return out;
  }

  void abort(const std::string& id) {
    auto out = fleet().cli({"abort", id});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    std::string last;
    REQUIRE_MESSAGE(waitUntil(
                        [&] {
                          last = rolloutStatus(fleet(), id);
                          return last == "aborted" || last == "rolled_back" ||
                                 last == "rolled_back_incomplete" || last == "failed";
                        },
                        std::chrono::seconds(120), std::chrono::milliseconds(500)),
                    "rollout " << id << " still " << last << " after the abort");
    REQUIRE(waitUntil([&] { return hostsOn("1.0.0").size() == kHosts.size(); },
                      std::chrono::seconds(120), std::chrono::milliseconds(500)));
  }
};

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("Sentry gates stop bad builds at the canary and promote an A/A build") {
  // One fleet for every step, in order (each step leaves every host on 1.0.0 again).
  Fixture f;
  if (!f.ready()) return;

  {
    MESSAGE("the agent counts what the SDK sent, per window and release, and relays it upstream");
    auto windows = f.sentry->telemetry("eu-a-1").value("windows", nlohmann::json::array());
    std::uint64_t errors = 0, sessions = 0, requests = 0;
    bool keyError = false;
    for (const auto& w : windows) {
      if (!w.contains("sentry") || w.value("release", "") != "1.0.0") continue;
      errors += w["sentry"].value("errors", 0);
      sessions += w["sentry"].value("sessions", 0);
      requests += w.value("requests", 0);
      CHECK(w["sentry"].value("rejected", 0) == 0);
      for (const auto& print : w["sentry"]["fingerprints"]) {
        keyError |= print.value("type", "") == "KeyError" &&
                    print.value("frame", "") == "__main__.load_order";
      }
    }
    CHECK(keyError);
    CHECK(errors > 0);
    CHECK(requests > 0);
    CHECK(sessions > 0);
    CHECK(errors < requests / 5);  // about 4% of requests
    // eu-b-1 relays: the receiver got envelopes under the team's key, unchanged (gzip).
    REQUIRE(waitUntil([&] { return fs::exists(f.sentry->receiverDir() + "/count") &&
                                   std::stoi(readFile(f.sentry->receiverDir() + "/count")) >= 5; },
                      std::chrono::seconds(60), std::chrono::milliseconds(500)));
    std::string headers = readFile(f.sentry->receiverDir() + "/last.headers");
    CHECK(headers.find("sentry_key=teamkey") != std::string::npos);
    CHECK(headers.find("/api/77/") != std::string::npos);
  }

  {
    MESSAGE("a build raising a new exception type is held at the canary, explain names it");
    // The same 4% of requests raise, three quarters of them a type the old build never raised
    // (about 19 events in the 16 s analysis: share^n stays far below alpha).
    std::string id = f.start("1.1.0", R"({"exception_rate": 0.01, "new_type_rate": 0.03, "crash_rate": 0.005})");
    CHECK_MESSAGE(f.waitForEnd(id) == "waiting_for_operator", f.lastExplain);
    CHECK_MESSAGE(contains(f.failedChecks(id), "new_error_types"), f.lastExplain);
    CHECK(f.hostsOn("1.1.0") == std::vector<std::string>{"eu-a-1"});
    CHECK_MESSAGE(f.lastExplain.find("new type ZeroDivisionError at __main__.compute_total: canary ") !=
                      std::string::npos, f.lastExplain);
    CHECK_MESSAGE(f.lastExplain.find("comparison 0, e.g. \"division by zero\"") != std::string::npos,
                  f.lastExplain);
    // What the operator reads (docs/sentry.md quotes it).
    std::istringstream lines(f.lastExplain);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("new_error_types") != std::string::npos || line.find("new type") != std::string::npos) {
        MESSAGE(line);
      }
    }
    f.abort(id);
  }

  {
    MESSAGE("a build raising exceptions at a higher rate is rolled back at the canary");
    std::string id = f.start("1.2.0", R"({"exception_rate": 0.16, "crash_rate": 0.005})");
    CHECK_MESSAGE(f.waitForRollback(id) == "rolled_back", f.lastExplain);
    CHECK_MESSAGE(contains(f.failedChecks(id), "exceptions"), f.lastExplain);
    CHECK(f.lastExplain.find("canary") != std::string::npos);
    CHECK(f.hostsOn("1.0.0").size() == kHosts.size());
  }

  {
    MESSAGE("a build crashing sessions is rolled back at the canary");
    std::string id = f.start("1.3.0", R"({"exception_rate": 0.04, "crash_rate": 0.10})");
    CHECK_MESSAGE(f.waitForRollback(id) == "rolled_back", f.lastExplain);
    CHECK_MESSAGE(contains(f.failedChecks(id), "crash_free_sessions"), f.lastExplain);
    CHECK(f.hostsOn("1.0.0").size() == kHosts.size());
  }

  {
    MESSAGE("an A/A build with the same steady background of exceptions is promoted everywhere");
    std::string id = f.start("1.4.0", kBaseline);
    CHECK_MESSAGE(f.waitForEnd(id) == "succeeded", f.lastExplain);
    CHECK(f.hostsOn("1.4.0").size() == kHosts.size());
    // The Sentry checks were evaluated, not skipped.
    CHECK_MESSAGE(f.lastExplain.find("exceptions [critical, exceptions_per_request, fisher]: pass") !=
                      std::string::npos, f.lastExplain);
  }
}
