// The fault catalog (tests/support/fleet/fault_catalog.h) as integration tests: each fault class
// is rolled out on one real fleet (a real coordinator, 3 real agents, rollgate-fault-app units of
// a private systemd manager under steady load, default gates, the catalog's plan) and must be
// stopped at the canary by its expected check: rolled back for a critical check, held for an
// operator for a warn check. Every host must then be back on the starting release. Also: the
// fault app's release spec (fault.json) round-trips, and a bad one stops the app naming the key.
// The catalog's Sentry and Prometheus rows are tested in it_sentry_sdk and it_prometheus_gate
// (see this directory's CMakeLists.txt).
#include <doctest/doctest.h>
#include <unistd.h>

#include "tests/support/fleet/fault_catalog.h"
#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};

// One fleet for every case (starting one costs more than a rollout).
struct SharedFleet {
  std::unique_ptr<WebFleet> web;
  RolloutRun run;
};

// Started by the first case that needs it; stopped (agents, coordinator, units) at exit.
SharedFleet& sharedFleet() {
  static std::unique_ptr<SharedFleet> shared;
  if (shared) return *shared;
  auto fleet = std::make_unique<SharedFleet>();
  WebFleet::Options options;
  options.server = WebServer::kFaultApp;
  options.requestsPerSecond = kCatalogRequestsPerSecond;
  auto started = WebFleet::start(kHosts, options);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  fleet->web = std::move(*started);
  auto base = fleet->web->installEverywhere("1.0.0", ReleaseKind::kHealthy);
  REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
  fleet->run.planFile = fleet->web->work().file("plan.toml");
  fleet->run.canaryHost = "eu-a-1";
  writeFile(fleet->run.planFile, catalogPlanToml());
  fleet->web->startLoad();
  shared = std::move(fleet);
  return *shared;
}

// The line of `text` that starts (after indentation) with `prefix`, or "".
std::string lineStartingWith(const std::string& text, const std::string& prefix) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, prefix.size(), prefix) == 0) return line;
    at = end + 1;
  }
  return "";
}

}  // namespace

TEST_CASE("every fault class of the catalog is stopped at the canary by its expected check") {
  if (!requireOrSkip(WebFleet::missingPrerequisite(WebServer::kFaultApp))) return;
  const auto& catalog = faultCatalog();
  for (std::size_t row = 0; row < catalog.size(); ++row) {
    const CatalogFault& fault = catalog[row];
    SUBCASE(fault.name.c_str()) {
      SharedFleet& shared = sharedFleet();
      WebFleet& web = *shared.web;
      std::string version = "2." + std::to_string(row) + ".0";
      auto outcome = runRollout(web, shared.run, version, web.makeRelease(version, fault.fault));
      auto explain = web.fleet().cli({"rollout", "explain", outcome.id});
      INFO("fault: " << fault.name << " (" << fault.description << ")");
      INFO("rollout explain " << outcome.id << ":\n" << explain.out << explain.err);
      REQUIRE_MESSAGE(outcome.error.empty(), outcome.error);
      CHECK(outcome.decision == fault.expectedDecision);
      CHECK(outcome.stage == "canary");
      CHECK(outcome.check == fault.expectedCheck);
      CHECK(outcome.verdict == "fail");
      CHECK(outcome.status == "rolled_back");
      // The operator reads why: the canary step's line for the check says it failed.
      std::string line = lineStartingWith(explain.out, fault.expectedCheck + " [");
      CHECK_MESSAGE(line.find("]: fail at look") != std::string::npos, line);
      for (const auto& host : kHosts) CHECK(web.activeRelease(host.name) == "1.0.0");
    }
  }
}

TEST_CASE("a fault spec round-trips through fault.json; a bad one is refused naming key and value") {
  for (const CatalogFault& fault : faultCatalog()) {
    CAPTURE(fault.name);
    auto parsed = parseFaultSpec(faultSpecJson(fault.fault), "fault.json");
    REQUIRE(parsed.ok());
    CHECK(*parsed == fault.fault);
  }
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"error_shar": 0.03})", "fault.json: unknown key 'error_shar' (known: error_share,"},
      {R"({"error_share": 3})", "fault.json: key 'error_share': expected a share from 0 to 1, got 3"},
      {R"({"slow_ms": -5})", "fault.json: key 'slow_ms': expected a whole number >= 0, got -5"},
      {R"({"memory_mib_per_second": "8"})",
       "fault.json: key 'memory_mib_per_second': expected a number >= 0, got \"8\""},
      {"[1, 2]", "fault.json: expected a JSON object, got \"[1, 2]\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto parsed = parseFaultSpec(c.text, "fault.json");
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().message.rfind(c.expected, 0) == 0);
  }
}

TEST_CASE("the fault app refuses to start on a bad fault.json and says why") {
  std::string app = binDir() + "/rollgate-fault-app";
  if (!requireOrSkip(::access(app.c_str(), X_OK) == 0 ? "" : app + " (not built)")) return;
  TempDir dir("rollgate-faultapp");
  writeFile(dir.file("fault.json"), R"({"error_share": 1.5})");
  auto out = runCommand({app, "--port", std::to_string(freePort()), "--release", dir.path(),
                         "--access-log", dir.file("access.log"), "--error-log", dir.file("error.log")});
  CHECK(out.exitCode == 2);
  CHECK(out.err.find(dir.file("fault.json") + ": key 'error_share': expected a share from 0 to 1, got 1.5") !=
        std::string::npos);
}
