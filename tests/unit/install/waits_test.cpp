// Waiting without sleeping: the health probe and the restart-command manager wait through an
// injected clock, so these tests run a 30 s health timeout and a 2 s restart timeout on a
// FakeClock in a few milliseconds of real time.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "agent/install/health_probe.h"
#include "agent/systemd/systemd_client.h"
#include "common/clock.h"

using namespace rollgate;
using namespace rollgate::install;

namespace {

// Answers each request with the next scripted status (the last one repeats); counts requests.
struct ScriptedHealth {
  std::vector<Result<long>> answers;
  int requests = 0;
  HttpGetStatusFn fn() {
    return [this](const std::string&, long) -> Result<long> {
      std::size_t at =
          std::min<std::size_t>(static_cast<std::size_t>(requests), answers.size() - 1);
      ++requests;
      return answers[at];
    };
  }
};

}  // namespace

TEST_CASE("health probe: healthy at the first 2xx, after waiting one interval per bad answer") {
  FakeClock clock;
  ScriptedHealth health{
      {Result<long>(503), Result<long>(makeError("connection refused")), Result<long>(204)}};
  HealthProbe probe({"http://127.0.0.1:1/health", 30'000, 200, 2'000}, clock, health.fn());
  CHECK(probe.waitHealthy().ok());
  CHECK(health.requests == 3);
  CHECK(clock.sleptMillis() == 400);
}

TEST_CASE("health probe: gives up after the timeout and names the URL and the last answer") {
  FakeClock clock;
  ScriptedHealth health{{Result<long>(503)}};
  const auto realStart = std::chrono::steady_clock::now();
  HealthProbe probe({"http://127.0.0.1:1/health", 30'000, 200, 2'000}, clock, health.fn());
  auto status = probe.waitHealthy();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message ==
        "health check http://127.0.0.1:1/health not healthy within 30000 ms (last: HTTP 503)");
  CHECK(health.requests == 151);  // at 0, 200, ..., 30000 ms
  CHECK(clock.sleptMillis() == 30'000);
  CHECK(std::chrono::steady_clock::now() - realStart < std::chrono::seconds(5));
}

TEST_CASE("restart command: exit status decides, a hung command times out on the clock") {
  FakeClock clock;
  // The fake clock moves 10 ms per poll however fast the real child is, so a command that must
  // finish gets a timeout it cannot reach in the few real milliseconds it takes.
  const auto never = std::chrono::milliseconds(std::chrono::hours(24 * 365));
  CHECK(
      systemd::CommandServiceManager({"/bin/true"}, clock).restartUnit("ignored", never).value() ==
      "done");
  CHECK(
      systemd::CommandServiceManager({"/bin/false"}, clock).restartUnit("ignored", never).value() ==
      "failed");

  const auto realStart = std::chrono::steady_clock::now();
  const std::uint64_t before = clock.steadyMillis();
  auto hung = systemd::CommandServiceManager({"/bin/sleep", "600"}, clock)
                  .restartUnit("ignored", std::chrono::milliseconds(2'000));
  REQUIRE(hung.ok());
  CHECK(*hung == "timeout");
  CHECK(clock.steadyMillis() - before >= 2'000);
  CHECK(std::chrono::steady_clock::now() - realStart < std::chrono::seconds(5));

  auto missing = systemd::CommandServiceManager({"/nonexistent/restart"}, clock)
                     .restartUnit("ignored", std::chrono::milliseconds(2'000));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("/nonexistent/restart") != std::string::npos);
}
