// SystemdClient against a private systemd user manager: restart waits for the job's real result,
// unit properties for telemetry, errors name the unit.
#include <chrono>
#include <thread>

#include "tests/integration/install/fixture.h"

using namespace rollgate;
using namespace rollgate::testing;

TEST_CASE("SystemdClient restarts units, waits for the job result and reads properties") {
  if (skipWithoutSystemd()) return;
  auto m = UserManager::start();
  REQUIRE_MESSAGE(m.ok(), m.error().message);
  auto& manager = **m;
  auto c = systemd::SystemdClient::connect({systemd::BusKind::kUser, manager.busAddress()});
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  auto& client = **c;

  std::string good = UserManager::uniqueUnitName("rollgate-test-sleep");
  REQUIRE(manager.writeUnit(good, "[Service]\nExecStart=/bin/sleep 1000\n").ok());
  auto r = client.restartUnit(good, std::chrono::seconds(20));
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(*r == "done");
  auto status = client.unitStatus(good);
  REQUIRE_MESSAGE(status.ok(), status.error().message);
  CHECK(status->activeState == "active");
  CHECK(status->subState == "running");
  CHECK(status->mainPid > 0);
  CHECK(status->nRestarts == 0);
  uint32_t firstPid = status->mainPid;
  REQUIRE(client.restartUnit(good, std::chrono::seconds(20)).ok());
  CHECK(client.unitStatus(good)->mainPid != firstPid);

  SUBCASE("a unit whose start fails reports 'failed'") {
    std::string bad = UserManager::uniqueUnitName("rollgate-test-bad");
    REQUIRE(manager.writeUnit(bad, "[Service]\nExecStartPre=/bin/false\nExecStart=/bin/sleep 1000\n")
                .ok());
    auto failed = client.restartUnit(bad, std::chrono::seconds(20));
    REQUIRE(failed.ok());
    CHECK(*failed == "failed");
    CHECK(client.unitStatus(bad)->activeState == "failed");
  }
  SUBCASE("a start that takes longer than the timeout reports 'timeout'") {
    std::string slow = UserManager::uniqueUnitName("rollgate-test-slow");
    REQUIRE(manager.writeUnit(slow, "[Service]\nExecStartPre=/bin/sleep 5\nExecStart=/bin/sleep 1000\n")
                .ok());
    auto late = client.restartUnit(slow, std::chrono::milliseconds(300));
    REQUIRE(late.ok());
    CHECK(*late == "timeout");
    (void)manager.systemctl({"stop", slow});
  }
  SUBCASE("NRestarts counts automatic restarts") {
    std::string flappy = UserManager::uniqueUnitName("rollgate-test-flappy");
    REQUIRE(manager.writeUnit(flappy, "[Unit]\nStartLimitIntervalSec=0\n[Service]\n"
                                      "ExecStart=/bin/sh -c 'sleep 0.05; exit 1'\n"
                                      "Restart=always\nRestartSec=50ms\n")
                .ok());
    REQUIRE(client.restartUnit(flappy, std::chrono::seconds(20)).ok());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    uint32_t restarts = 0;
    while (restarts < 2 && std::chrono::steady_clock::now() < deadline) {
      auto s = client.unitStatus(flappy);
      REQUIRE(s.ok());
      restarts = s->nRestarts;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(restarts >= 2);
    (void)manager.systemctl({"stop", flappy});
  }
  SUBCASE("an unknown unit is an error naming it") {
    auto missing = client.restartUnit("rollgate-no-such-unit.service", std::chrono::seconds(5));
    REQUIRE_FALSE(missing.ok());
    CHECK(contains(missing.error().message, "rollgate-no-such-unit.service"));
  }
  (void)manager.systemctl({"stop", good});
}

TEST_CASE("SystemdClient reports a bus that is not there") {
  auto c = systemd::SystemdClient::connect(
      {systemd::BusKind::kUser, "unix:path=/nonexistent/rollgate/bus"});
  REQUIRE_FALSE(c.ok());
  CHECK(contains(c.error().message, "/nonexistent/rollgate/bus"));
}

TEST_CASE("harness: two private managers side by side; stopping one leaves the other intact") {
  if (skipWithoutSystemd()) return;
  auto a = UserManager::start();
  REQUIRE_MESSAGE(a.ok(), a.error().message);
  auto b = UserManager::start();
  REQUIRE_MESSAGE(b.ok(), b.error().message);
  auto busPid = [](UserManager& m) {
    auto out = m.systemctl({"show", "-p", "MainPID", "--value", "dbus.service"});
    REQUIRE_MESSAGE(out.ok(), out.error().message);
    return std::stoi(*out);
  };
  int before = busPid(**b);
  CHECK(before > 0);
  std::string unit = "same-name.service";  // deliberately the same name in both managers
  for (auto* m : {a->get(), b->get()}) {
    REQUIRE(m->writeUnit(unit, "[Service]\nExecStart=/bin/sleep 1000\n").ok());
    REQUIRE(m->systemctl({"start", unit}).ok());
  }
  a = makeError("stopped");  // destroys manager a
  CHECK(busPid(**b) == before);
  auto state = (*b)->systemctl({"is-active", unit});
  REQUIRE_MESSAGE(state.ok(), state.error().message);
  CHECK(*state == "active\n");
  auto c = systemd::SystemdClient::connect({systemd::BusKind::kUser, (*b)->busAddress()});
  REQUIRE(c.ok());
  auto status = (*c)->unitStatus(unit);
  REQUIRE(status.ok());
  CHECK(status->activeState == "active");
}
