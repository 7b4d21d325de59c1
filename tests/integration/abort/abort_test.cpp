// Fleet-wide abort and freeze with real processes: every host acknowledges, a host that cannot
// answer is named and gets the abort when it can, a freeze reaches every agent.
#include <doctest/doctest.h>
#include <signal.h>

#include "tests/support/fleet/fleet.h"

using namespace rollgate::testing;

TEST_CASE("abort --all is acknowledged by every host, and a frozen host gets it later") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  for (auto name : {"web-1", "web-2", "web-3"}) {
    fleet.addAgent({name, "eu-west", "eu-west-a"});
    fleet.startAgent(name);
  }
  REQUIRE(fleet.waitForHealthy({"web-1", "web-2", "web-3"}));

  auto all = fleet.cli({"abort", "--all", "--reason", "bad deploy", "--json"});
  REQUIRE_MESSAGE(all.exitCode == 0, all.err);
  auto json = nlohmann::json::parse(all.out);
  CHECK(json["targets"] == 3);
  CHECK(json["acknowledged"] == 3);
  CHECK(json["missing"].empty());
  CHECK(json["reason"] == "bad deploy");
  CHECK(json["stopped"].empty());  // no rollout was running
  CHECK(json["already_aborting"].empty());
  for (auto name : {"web-1", "web-2", "web-3"}) {
    CHECK(readFile(fleet.agentLog(name)).find("(bad deploy)") != std::string::npos);
  }

  // A host that cannot answer (stopped, its connection still open) is named, not waited for.
  auto stopped = runCommand({"pgrep", "-f", fleet.agentConfig("web-3")});
  REQUIRE(stopped.exitCode == 0);
  pid_t pid = std::stoi(stopped.out);
  ::kill(pid, SIGSTOP);
  auto partial = fleet.cli({"abort", "--all", "--reason", "second", "--json"});
  CHECK(partial.exitCode == 1);
  auto partialJson = nlohmann::json::parse(partial.out);
  CHECK(partialJson["acknowledged"] == 2);
  REQUIRE(partialJson["missing"].size() == 1);
  CHECK(partialJson["missing"][0] == "web-3");
  ::kill(pid, SIGCONT);
  // The abort is durable and re-sent until acknowledged.
  CHECK(waitUntil([&] {
    return readFile(fleet.agentLog("web-3")).find("(second)") != std::string::npos;
  }));
  auto human = fleet.cli({"abort", "--all"});
  CHECK(human.exitCode == 0);
  CHECK(human.out.find("3 of 3 hosts acknowledged") != std::string::npos);
  CHECK(human.out.find("no rollout was running") != std::string::npos);

  auto usage = fleet.cli({"abort"});
  CHECK(usage.exitCode == 2);
  CHECK(usage.err.find("--all") != std::string::npos);
}

TEST_CASE("freeze reaches every agent and survives a coordinator restart") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  fleet.addAgent({"web-1", "eu-west", "eu-west-a"});
  fleet.startAgent("web-1");
  REQUIRE(fleet.waitForHealthy({"web-1"}));
  auto freeze = fleet.cli({"freeze", "--reason", "incident 42"});
  CHECK(freeze.exitCode == 0);
  CHECK(freeze.out.find("incident 42") != std::string::npos);
  CHECK(waitUntil([&] {
    return readFile(fleet.agentLog("web-1")).find("frozen fleet-wide: incident 42") != std::string::npos;
  }));
  fleet.killCoordinator(SIGKILL);
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  REQUIRE(fleet.waitForHealthy({"web-1"}));
  CHECK(readFile(fleet.coordinatorLog()).find("FROZEN") != std::string::npos);
  // Who froze, why and since when survive the restart and show in the listings.
  auto hosts = fleet.cli({"hosts"});
  CHECK(hosts.exitCode == 0);
  CHECK(hosts.out.rfind("FROZEN since ", 0) == 0);
  CHECK(hosts.out.find(": incident 42\n") != std::string::npos);
  auto list = fleet.cli({"rollout", "list", "--json"});
  CHECK(list.exitCode == 0);
  auto listed = nlohmann::json::parse(list.out, nullptr, false);
  REQUIRE(listed.is_object());
  CHECK(listed["freeze"]["reason"] == "incident 42");
  CHECK_FALSE(listed["freeze"]["by"].get<std::string>().empty());
  CHECK(listed["freeze"]["sinceMillis"].get<std::uint64_t>() > 0);
  auto unfreeze = fleet.cli({"unfreeze"});
  CHECK(unfreeze.exitCode == 0);
  CHECK(fleet.cli({"hosts"}).out.find("FROZEN") == std::string::npos);
  CHECK(waitUntil([&] {
    return readFile(fleet.agentLog("web-1")).find("rollouts resumed fleet-wide") != std::string::npos;
  }));
}
