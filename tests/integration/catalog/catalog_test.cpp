// The fault catalog (tests/support/fleet/fault_catalog.h) as integration tests: each fault class
// is rolled out on one real fleet (a real coordinator, 3 real agents, rollgate-fault-app units of
// a private systemd manager under steady load, default gates, the catalog's plan) and must be
// stopped at the canary by its expected check: rolled back for a critical check, held for an
// operator for a warn check. Every host must then be back on the starting release.
#include <doctest/doctest.h>

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
