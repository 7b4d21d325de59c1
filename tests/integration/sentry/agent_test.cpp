// The Sentry endpoint inside a real rollgate-agent reporting to a real coordinator: every bad
// input gets its status and is counted in the windows the coordinator stores, a flood gets 429s,
// the agent's resident memory stays within the stated bound, and the service's other telemetry
// (its access log) keeps flowing throughout.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/integration/sentry/http_post.h"
#include "tests/support/fleet/fleet.h"

using namespace rollgate::testing;
using namespace rollgate::testing::sentry;

namespace {

std::uint64_t rssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

struct Totals {
  std::uint64_t requests = 0, rejected = 0, rateLimited = 0, errors = 0;
  std::uint64_t lastEndMillis = 0, requestsAfter = 0;
};

}  // namespace

TEST_CASE("bad input and a flood at a real agent: statuses, counters, memory, other telemetry") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  TempDir work("rollgate-sentry-agent");
  const std::string accessLog = work.file("access.log");
  writeFile(accessLog, "");
  const int port = freePort();
  AgentSpec spec("edge-1", "eu", "eu-a");
  spec.extraToml = "systemd = \"none\"\nwindow_seconds = 1\n\n[[service]]\nname = \"shop\"\n"
                   "install_root = \"" + work.file("root") + "\"\naccess_log = \"" + accessLog +
                   "\"\nrestart_command = [\"/bin/true\"]\n\n[service.sentry]\nport = " +
                   std::to_string(port) + "\nkey = \"k1\"\nmax_requests_per_second = 20\n";
  fleet.addAgent(spec);
  fleet.startAgent("edge-1");
  REQUIRE(fleet.waitForHealthy({"edge-1"}));
  const pid_t agent = fleet.agentPid("edge-1");
  REQUIRE(agent > 0);

  // The service's other telemetry: 20 requests every 100 ms in its access log, all along.
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::ofstream out(accessLog, std::ios::app);
    while (writing) {
      for (int i = 0; i < 20; ++i) {
        out << "127.0.0.1 - - [02/Dec/2026:04:00:00 +0000] \"GET /x HTTP/1.1\" 200 5 \"-\" \"t\"\n";
      }
      out.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const std::string auth = "X-Sentry-Auth: Sentry sentry_key=k1, sentry_version=7";
  REQUIRE(waitUntil([&] {
    return send(static_cast<std::uint16_t>(port), {"/api/1/store/", R"({"level":"error"})", {auth}})
               .status == 200;
  }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the agent's steady state
  const std::uint64_t rssBefore = rssBytes(agent);

  auto cases = badInputs(auth);
  for (const auto& c : cases) {
    Reply r = send(static_cast<std::uint16_t>(port), c.post);
    CHECK_MESSAGE(r.status == c.status, c.what << ": got " << r.status << " " << r.body << r.error);
  }
  int limited = 0;
  for (int i = 0; i < 200; ++i) {
    limited += send(static_cast<std::uint16_t>(port),
                    {"/api/1/store/", R"({"level":"error","release":"1.0"})", {auth}})
                   .status == 429;
  }
  const std::uint64_t rssAfter = rssBytes(agent);
  // docs/sentry.md's bound for one service without relay: 2 MiB of bodies + 2 MiB decompressed +
  // connection pools; 8 MiB leaves room for the allocator's slack.
  MESSAGE("agent RSS " << rssBefore / 1024 << " KiB before the bad input and the flood, "
                       << rssAfter / 1024 << " KiB after");
  CHECK_MESSAGE(rssAfter < rssBefore + (8u << 20),
                "agent RSS grew from " << rssBefore << " to " << rssAfter << " bytes");
  CHECK(limited > 0);
  const auto badDone = std::chrono::system_clock::now();
  const auto badDoneMillis = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(badDone.time_since_epoch()).count());

  // The coordinator's stored windows: every refusal counted, and requests after it all.
  Totals totals;
  auto read = [&] {
    totals = {};
    auto out = fleet.cli({"telemetry", "--host", "edge-1", "--service", "shop", "--last", "1000",
                          "--json"});
    auto json = nlohmann::json::parse(out.out, nullptr, false);
    if (json.is_discarded()) return;
    for (const auto& w : json.value("windows", nlohmann::json::array())) {
      totals.requests += w.value("requests", std::uint64_t{0});
      totals.lastEndMillis = std::max<std::uint64_t>(totals.lastEndMillis, w.value("end_ms", std::uint64_t{0}));
      if (w.value("start_ms", std::uint64_t{0}) > badDoneMillis) totals.requestsAfter += w.value("requests", std::uint64_t{0});
      if (!w.contains("sentry")) continue;
      totals.rejected += w["sentry"].value("rejected", std::uint64_t{0});
      totals.rateLimited += w["sentry"].value("rate_limited", std::uint64_t{0});
      totals.errors += w["sentry"].value("errors", std::uint64_t{0});
    }
  };
  CHECK_MESSAGE(waitUntil(
                    [&] {
                      read();
                      return totals.rejected == cases.size() &&
                             totals.rateLimited == static_cast<std::uint64_t>(limited) &&
                             totals.requestsAfter >= 200;
                    },
                    std::chrono::seconds(60), std::chrono::milliseconds(500)),
                "rejected " << totals.rejected << " of " << cases.size() << ", rate limited "
                            << totals.rateLimited << " of " << limited << ", requests after "
                            << totals.requestsAfter);
  CHECK(totals.errors == 1 + (200 - static_cast<std::uint64_t>(limited)));
  writing = false;
  writer.join();
}
