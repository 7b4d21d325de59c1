// Sentry end to end: on each host of a small real fleet (a real coordinator, real agents), a small
// application using Debian's python3-sentry-sdk runs as a unit of a private systemd manager with
// its DSN pointed at the agent's Sentry endpoint. Its releases raise a steady background of
// handled exceptions; bad releases raise a new exception type, raise exceptions at a higher rate,
// or crash sessions. Each bad release is stopped at the canary; an A/A release is promoted to
// every host. One host also relays everything to an upstream receiver (the team's Sentry).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tests/support/fleet/fleet.h"
#include "tests/support/skip.h"
#include "tests/support/systemd/user_manager.h"

using namespace rollgate;
using namespace rollgate::testing;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kSentryKey = "3f2a9c0d5e6b4a71";
const std::string kApp = std::string(ROLLGATE_SOURCE_DIR) + "/tests/integration/sentry/sdk_app.py";
const std::string kReceiver =
    std::string(ROLLGATE_SOURCE_DIR) + "/tests/integration/sentry/upstream_receiver.py";

struct Host {
  std::string name, region, cluster;
};
const std::vector<Host> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};

const char* kPlan = R"(window_seconds = 1
silence_seconds = 8
report_grace_seconds = 2
[canary]
install_timeout_seconds = 60
warmup_seconds = 3
analysis_seconds = 16
[cluster]
install_timeout_seconds = 60
warmup_seconds = 2
analysis_seconds = 6
[region]
install_timeout_seconds = 60
warmup_seconds = 2
analysis_seconds = 6
batch = "100%"
[fleet]
install_timeout_seconds = 60
warmup_seconds = 2
analysis_seconds = 6
batch = "100%"
)";

// The application's access log has no request times, so its gates are the default ones that need
// none: the 5xx ratio, restarts and the three Sentry checks, with their default settings.
const char* kGates = R"([[check]]
name = "http_5xx"
metric = "http_5xx_ratio"
test = "fisher"
min_effect = 0.001
min_ratio = 1.5
min_data = 200
[[check]]
name = "restarts"
metric = "restarts"
test = "restarts"
min_data = 1
[[check]]
name = "exceptions"
metric = "exceptions_per_request"
test = "fisher"
min_effect = 0.001
min_ratio = 1.5
min_data = 200
[[check]]
name = "crash_free_sessions"
metric = "crashed_sessions"
test = "fisher"
min_effect = 0.01
min_ratio = 1.5
min_data = 50
[[check]]
name = "new_error_types"
metric = "new_error_types"
test = "new_types"
min_data = 5
tier = "warn"
)";

// The steady background every release has: 4% of requests raise a handled KeyError, 0.5% of
// sessions crash.
const char* kBaseline = R"({"exception_rate": 0.04, "crash_rate": 0.005})";

std::string missing() {
  if (auto m = UserManager::missingPrerequisite(); !m.empty()) return m;
  if (::access(kPython, X_OK) != 0) return std::string(kPython);
  auto sdk = runCommand({kPython, "-c", "import sentry_sdk"});
  if (sdk.exitCode != 0) return "python3-sentry-sdk (import sentry_sdk failed: " + sdk.err + ")";
  return "";
}

struct Fixture {
  std::unique_ptr<UserManager> manager;
  std::unique_ptr<LocalFleet> fleet;
  TempDir work{"rollgate-sentry"};
  std::string planFile;
  std::string gatesFile;
  Process receiver;
  std::string receiverDir;
  std::string lastExplain;

  bool ready() {
    if (!requireOrSkip(missing())) return false;
    auto started = UserManager::start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    manager = std::move(*started);
    // The team's own Sentry, as far as the relay can tell: it takes every POST and keeps it.
    receiverDir = work.file("upstream");
    fs::create_directories(receiverDir);
    int receiverPort = freePort();
    receiver = Process::spawn({kPython, kReceiver, std::to_string(receiverPort), receiverDir},
                              work.file("receiver.log"));
    fleet = std::make_unique<LocalFleet>("heartbeat_seconds = 1\nhost_timeout_seconds = 6\n"
                                         "window_seconds = 1\n");
    fleet->startCoordinator();
    REQUIRE(fleet->waitForCoordinator());
    for (const auto& host : kHosts) {
      std::string root = work.file(host.name);
      fs::create_directories(root);
      int port = freePort();
      std::string dsn = "http://" + std::string(kSentryKey) + "@127.0.0.1:" + std::to_string(port) + "/1";
      std::string unit = "shop-" + host.name + "-" + std::to_string(::getpid()) + ".service";
      std::string unitText = "[Unit]\nDescription=shop on " + host.name +
                             "\nStartLimitIntervalSec=0\n[Service]\nExecStart=" + kPython + " " +
                             kApp + " --dsn " + dsn + " --root " + root + " --access-log " + root +
                             "/access.log --rps 40\n";
      auto written = manager->writeUnit(unit, unitText);
      REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));
      AgentSpec spec(host.name, host.region, host.cluster);
      spec.extraToml = "systemd = \"user\"\nwindow_seconds = 1\n\n[[service]]\nname = \"shop\"\n"
                       "unit = \"" + unit + "\"\ninstall_root = \"" + root + "\"\naccess_log = \"" +
                       root + "/access.log\"\n\n[service.sentry]\nport = " + std::to_string(port) +
                       "\nkey = \"" + kSentryKey + "\"\nproject = \"1\"\n";
      if (host.name == "eu-b-1") {
        spec.extraToml += "upstream_dsn = \"http://teamkey@127.0.0.1:" +
                          std::to_string(receiverPort) + "/77\"\n";
      }
      fleet->addAgent(spec);
      fleet->startAgent(host.name, {{"DBUS_SESSION_BUS_ADDRESS", manager->busAddress()},
                                    {"XDG_RUNTIME_DIR", manager->runtimeDir()}});
    }
    std::vector<std::string> names;
    for (const auto& host : kHosts) names.push_back(host.name);
    REQUIRE(fleet->waitForHealthy(names, std::chrono::seconds(60)));
    planFile = work.file("plan.toml");
    writeFile(planFile, kPlan);
    gatesFile = work.file("gates.toml");
    writeFile(gatesFile, kGates);
    installEverywhere("1.0.0", kBaseline);
    return true;
  }

  ~Fixture() {
    fleet.reset();  // agents and coordinator first, then the units
    manager.reset();
  }

  std::string makeRelease(const std::string& version, const std::string& mode) {
    std::string src = work.file("src-" + version);
    fs::create_directories(src);
    writeFile(src + "/VERSION", version + "\n");
    writeFile(src + "/mode.json", mode + "\n");
    std::string archive = work.file("shop-" + version + ".tar.gz");
    runCommand({"tar", "-czf", archive, "-C", src, "."});
    return archive;
  }

  void installEverywhere(const std::string& version, const std::string& mode) {
    std::string archive = makeRelease(version, mode);
    auto push = fleet->cli({"artifact", "push", archive, "--service", "shop", "--version", version});
    REQUIRE_MESSAGE(push.exitCode == 0, push.err);
    for (const auto& host : kHosts) {
      auto out = fleet->cli({"install", "--host", host.name, "--service", "shop", "--version", version});
      REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    }
    // Every host's application reports to its agent before a rollout compares them.
    for (const auto& host : kHosts) {
      REQUIRE_MESSAGE(waitUntil([&] { return sentryWindows(host.name, version) >= 3; },
                                std::chrono::seconds(90), std::chrono::milliseconds(500)),
                      "no Sentry counts from " << host.name);
    }
  }

  nlohmann::json telemetry(const std::string& host) {
    auto out = fleet->cli({"telemetry", "--host", host, "--service", "shop", "--last", "200", "--json"});
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    return json.is_discarded() ? nlohmann::json::object() : json;
  }

  // Windows of `release` on `host` whose Sentry counts show the SDK at work (errors and sessions).
  int sentryWindows(const std::string& host, const std::string& release) {
    int n = 0;
    for (const auto& w : telemetry(host).value("windows", nlohmann::json::array())) {
      if (w.value("release", "") != release || !w.contains("sentry")) continue;
      n += w["sentry"].value("sessions", 0) > 0;
    }
    return n;
  }

  std::string start(const std::string& version, const std::string& mode) {
    std::string archive = makeRelease(version, mode);
    auto out = fleet->cli({"rollout", "start", "--service", "shop", "--version", version,
                           "--artifact", archive, "--plan", planFile, "--gates", gatesFile,
                           "--canary-host", "eu-a-1",
                           "--json"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    auto summary = json.contains("rollout") ? json["rollout"] : json;
    REQUIRE(summary.contains("id"));
    return summary["id"].get<std::string>();
  }

  nlohmann::json describe(const std::string& id) {
    auto out = fleet->cli({"rollout", "explain", id, "--json"});
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    return json.is_discarded() ? nlohmann::json::object() : json;
  }

  std::string status(const std::string& id) {
    auto json = describe(id);
    if (json.contains("rollout")) return json["rollout"].value("status", "");
    return json.value("status", "");
  }

  std::string waitForEnd(const std::string& id) {
    std::string last;
    waitUntil(
        [&] {
          last = status(id);
          return last == "succeeded" || last == "rolled_back" || last == "aborted" ||
                 last == "failed" || last == "rolled_back_incomplete" ||
                 last == "waiting_for_operator";
        },
        std::chrono::seconds(400), std::chrono::milliseconds(500));
    auto explain = fleet->cli({"rollout", "explain", id});
    lastExplain = explain.out + explain.err;
    return last;
  }

  std::string activeRelease(const std::string& host) {
    std::error_code ec;
    auto target = fs::read_symlink(work.file(host) + "/current", ec);
    return ec ? "" : target.filename().string();
  }

  std::vector<std::string> hostsOn(const std::string& version) {
    std::vector<std::string> out;
    for (const auto& host : kHosts) {
      if (activeRelease(host.name) == version) out.push_back(host.name);
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
    auto out = fleet->cli({"abort", id});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    std::string last;
    REQUIRE_MESSAGE(waitUntil(
                        [&] {
                          last = status(id);
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
    auto windows = f.telemetry("eu-a-1").value("windows", nlohmann::json::array());
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
    REQUIRE(waitUntil([&] { return fs::exists(f.receiverDir + "/count") &&
                                   std::stoi(readFile(f.receiverDir + "/count")) >= 5; },
                      std::chrono::seconds(60), std::chrono::milliseconds(500)));
    std::string headers = readFile(f.receiverDir + "/last.headers");
    CHECK(headers.find("sentry_key=teamkey") != std::string::npos);
    CHECK(headers.find("/api/77/") != std::string::npos);
  }

  {
    MESSAGE("a build raising a new exception type is held at the canary, explain names it");
    // The same 4% of requests raise, half of them a type the old build never raised.
    std::string id = f.start("1.1.0", R"({"exception_rate": 0.02, "new_type_rate": 0.02, "crash_rate": 0.005})");
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
    CHECK_MESSAGE(f.waitForEnd(id) == "rolled_back", f.lastExplain);
    CHECK_MESSAGE(contains(f.failedChecks(id), "exceptions"), f.lastExplain);
    CHECK(f.lastExplain.find("canary") != std::string::npos);
    CHECK(f.hostsOn("1.0.0").size() == kHosts.size());
  }

  {
    MESSAGE("a build crashing sessions is rolled back at the canary");
    std::string id = f.start("1.3.0", R"({"exception_rate": 0.04, "crash_rate": 0.10})");
    CHECK_MESSAGE(f.waitForEnd(id) == "rolled_back", f.lastExplain);
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
