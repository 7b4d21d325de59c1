// Telemetry end to end: a real nginx run as a unit of a private systemd manager, loaded by wrk;
// a real agent follows its access log and reads the unit over sd-bus; a real coordinator stores
// the windows; `rollgate telemetry --json` must show exactly the requests nginx logged. And windows
// the agent could not deliver survive its SIGKILL.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "tests/support/fleet/fleet.h"
#include "tests/support/skip.h"
#include "tests/support/systemd/user_manager.h"

using namespace rollgate::testing;

namespace {

std::size_t countLines(const std::string& path) {
  std::ifstream in(path);
  return static_cast<std::size_t>(std::count(std::istreambuf_iterator<char>(in),
                                             std::istreambuf_iterator<char>(), '\n'));
}

void appendRequests(const std::string& path, int count) {
  std::ofstream out(path, std::ios::app);
  for (int i = 0; i < count; ++i) {
    out << "127.0.0.1 - - [02/Dec/2026:04:00:00 +0000] \"GET /" << i
        << " HTTP/1.1\" 200 5 \"-\" \"test\"\n";
  }
}

std::size_t windowFiles(const std::string& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".window") ++n;
  }
  return n;
}

// The access-log offset in the agent's positions file: every line before it is in a kept window.
std::uint64_t savedAccessOffset(const std::string& stateFile) {
  std::istringstream in(readFile(stateFile));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, inode, device;
    std::uint64_t offset = 0;
    if (fields >> key >> inode >> device >> offset && key == "access") return offset;
  }
  return 0;
}

}  // namespace

TEST_CASE("windows not acknowledged survive an agent's SIGKILL and arrive after its restart") {
  LocalFleet fleet("window_seconds = 1\n");  // the agents below cut 1 s windows
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  TempDir logs;
  const std::string accessLog = logs.file("access.log");
  writeFile(accessLog, "");
  AgentSpec spec("web-2", "eu-west", "eu-west-a");
  spec.extraToml = "systemd = \"none\"\nwindow_seconds = 1\n\n[[service]]\nname = \"web\"\n"
                   "install_root = \"" + logs.path() + "/root\"\naccess_log = \"" +
                   accessLog + "\"\nrestart_command = [\"/bin/true\"]\n";
  fleet.addAgent(spec);
  const std::string stateDir = fleet.dir().file("web-2-state");
  const std::string backlogDir = stateDir + "/telemetry-backlog";
  fleet.startAgent("web-2");
  REQUIRE(fleet.waitForHealthy({"web-2"}));

  nlohmann::json windows;
  auto requests = [&] {
    auto out = fleet.cli({"telemetry", "--host", "web-2", "--service", "web", "--last", "1000",
                          "--json"});
    if (out.exitCode != 0) return std::uint64_t{0};
    windows = nlohmann::json::parse(out.out)["windows"];
    std::uint64_t sum = 0;
    for (const auto& w : windows) sum += w.value("requests", std::uint64_t{0});
    return sum;
  };
  auto followed = [&] {
    return savedAccessOffset(stateDir + "/telemetry-web.state") == std::filesystem::file_size(accessLog);
  };
  REQUIRE(waitUntil(followed, std::chrono::seconds(10)));  // the follower is in place
  appendRequests(accessLog, 50);
  REQUIRE(waitUntil([&] { return requests() == 50; }, std::chrono::seconds(30),
                    std::chrono::milliseconds(250)));
  // Acknowledged windows leave the backlog.
  REQUIRE(waitUntil([&] { return windowFiles(backlogDir) == 0; }, std::chrono::seconds(10)));

  // The coordinator goes away; the agent cuts windows it cannot deliver, then dies with them.
  fleet.killCoordinator(SIGKILL);
  appendRequests(accessLog, 70);
  REQUIRE(waitUntil(followed, std::chrono::seconds(15)));
  CHECK(windowFiles(backlogDir) > 0);
  fleet.stopAgent("web-2", SIGKILL);

  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  fleet.startAgent("web-2");
  bool arrived = waitUntil([&] { return requests() >= 120; }, std::chrono::seconds(30),
                           std::chrono::milliseconds(250));
  CHECK(arrived);
  CHECK(requests() == 120);  // nothing lost, nothing twice
  std::uint64_t dropped = 0;
  for (const auto& w : windows) dropped += w.value("dropped_before", std::uint64_t{0});
  CHECK(dropped == 0);
  REQUIRE(waitUntil([&] { return windowFiles(backlogDir) == 0; }, std::chrono::seconds(10)));

  // The coordinator hangs: the agent's next window goes into the connection (usually delivered
  // before the kill, to be read when the coordinator resumes), no acknowledgement comes back, and
  // the agent dies. After its restart it sends the window again; either way it counts once.
  fleet.signalCoordinator(SIGSTOP);
  appendRequests(accessLog, 30);
  bool kept = waitUntil(followed, std::chrono::seconds(15));
  fleet.stopAgent("web-2", SIGKILL);
  fleet.signalCoordinator(SIGCONT);
  REQUIRE(kept);
  CHECK(windowFiles(backlogDir) > 0);
  fleet.startAgent("web-2");
  arrived = waitUntil([&] { return requests() >= 150; }, std::chrono::seconds(30),
                      std::chrono::milliseconds(250));
  CHECK(arrived);
  REQUIRE(waitUntil([&] { return windowFiles(backlogDir) == 0; }, std::chrono::seconds(10)));
  CHECK(requests() == 150);
}

TEST_CASE("requests sent by wrk show up in rollgate telemetry with nginx's own counts") {
  if (!requireOrSkip(UserManager::missingPrerequisite())) return;
  if (!requireOrSkip(::access("/usr/bin/wrk", X_OK) == 0 ? "" : "/usr/bin/wrk")) return;
  auto manager = UserManager::start();
  REQUIRE_MESSAGE(manager.ok(), (manager.ok() ? "" : manager.error().message));
  TempDir site;
  writeFile(site.file("index.html"), "hello from release 1\n");
  auto nginx = NginxUnit::start(**manager, site.path());
  REQUIRE_MESSAGE(nginx.ok(), (nginx.ok() ? "" : nginx.error().message));
  const std::string accessLog = (*nginx)->prefix() + "/access.log";
  const std::string errorLog = (*nginx)->prefix() + "/error.log";

  LocalFleet fleet("window_seconds = 1\n");  // the agents below cut 1 s windows
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  AgentSpec spec("web-1", "eu-west", "eu-west-a");
  spec.extraToml = "systemd = \"user\"\nwindow_seconds = 1\n\n[[service]]\nname = \"web\"\n"
                   "unit = \"" + (*nginx)->unit() + "\"\ninstall_root = \"" + site.path() +
                   "/root\"\naccess_log = \"" + accessLog + "\"\naccess_log_format = \"combined\"\n"
                   "error_log = \"" + errorLog + "\"\n";
  fleet.addAgent(spec);
  // Lines logged before the agent starts are history: the agent starts at the end of the log.
  std::size_t before = countLines(accessLog);
  fleet.startAgent("web-1", {{"DBUS_SESSION_BUS_ADDRESS", (*manager)->busAddress()},
                             {"XDG_RUNTIME_DIR", (*manager)->runtimeDir()}});
  REQUIRE(fleet.waitForHealthy({"web-1"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the follower is in place

  auto load = runCommand({"/usr/bin/wrk", "-t1", "-c4", "-d2s", (*nginx)->url("/index.html")}, {},
                         std::chrono::seconds(60));
  REQUIRE_MESSAGE(load.exitCode == 0, load.err);
  auto missingPage = runCommand({"/usr/bin/wrk", "-t1", "-c1", "-d1s", (*nginx)->url("/missing")},
                                {}, std::chrono::seconds(60));
  REQUIRE(missingPage.exitCode == 0);
  std::size_t logged = countLines(accessLog) - before;
  REQUIRE(logged > 100);

  nlohmann::json windows;
  auto total = [&](const char* field) {
    std::uint64_t sum = 0;
    for (const auto& w : windows) sum += w.value(field, std::uint64_t{0});
    return sum;
  };
  bool complete = waitUntil(
      [&] {
        auto out = fleet.cli({"telemetry", "--host", "web-1", "--service", "web", "--last", "1000",
                              "--json"});
        if (out.exitCode != 0) return false;
        windows = nlohmann::json::parse(out.out)["windows"];
        return total("requests") >= logged;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(250));
  CHECK(complete);
  CHECK(total("requests") == logged);
  CHECK(total("status_2xx") + total("status_4xx") == logged);
  CHECK(total("status_4xx") > 0);     // the /missing requests
  CHECK(total("unparsed_lines") == 0);
  // Resources come from the real unit: nginx is active and uses memory and CPU under load.
  bool sawActive = false;
  bool sawMemory = false;
  std::uint64_t cpu = 0;
  for (const auto& w : windows) {
    sawActive |= w.value("unit_active", false);
    sawMemory |= w.value("memory_bytes", std::uint64_t{0}) > 0;
    cpu += w.value("cpu_ms", std::uint64_t{0});
  }
  CHECK(sawActive);
  CHECK(sawMemory);
  CHECK(cpu > 0);

  auto table = fleet.cli({"telemetry", "--host", "web-1", "--service", "web"});
  CHECK(table.exitCode == 0);
  CHECK(table.out.find("REQS") != std::string::npos);
  auto unknown = fleet.cli({"telemetry", "--host", "nope"});
  CHECK(unknown.exitCode == 1);
  CHECK(unknown.err.find("no host named nope") != std::string::npos);
}
