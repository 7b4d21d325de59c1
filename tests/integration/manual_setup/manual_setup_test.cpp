// The README's manual setup, followed word for word: every fenced block marked ```sh setup in
// README.md is run, in order, by bash, as a reader would paste it into one shell, with only what
// the README itself says to set: the build tree's bin/ on PATH, FLEET and PORT, and the user
// manager's environment (here a private systemd user manager: XDG_RUNTIME_DIR, XDG_CONFIG_HOME,
// DBUS_SESSION_BUS_ADDRESS). Then, before the last block (which stops everything), the test asks
// the coordinator itself: the good rollout succeeded with every host on 1.1.0, the bad one was
// rolled back with every host back on 1.1.0.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/fleet/process.h"
#include "tests/support/skip.h"
#include "tests/support/systemd/user_manager.h"

using namespace rollgate::testing;

namespace {

// The bodies of the ```sh setup blocks of `markdown`, in order.
std::vector<std::string> setupBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```sh setup") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

bool portFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

// A base port with PORT..PORT+2 (coordinator) and PORT+11..PORT+13 (nginx) free, as the README
// uses. Taken below the kernel's ephemeral range (32768 up): there, a port free now could be
// given any moment to an outgoing connection of a test running beside this one (an odd offset
// such as +11 lands on the ports connect() prefers), and nginx would fail to bind it.
int freePortBlock() {
  std::random_device seed;
  std::mt19937 pick(seed());
  std::uniform_int_distribution<int> bases(20000, 32700);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = bases(pick);
    bool all = true;
    for (int offset : {0, 1, 2, 11, 12, 13}) all = all && portFree(base + offset);
    if (all) return base;
  }
  return -1;
}

std::string missingProgram() {
  for (const char* program : {"/bin/bash", "/usr/sbin/nginx", "/usr/bin/curl", "/usr/bin/tar"}) {
    if (::access(program, X_OK) != 0) return program;
  }
  for (const char* program : {"rollgate", "rollgate-agent", "rollgate-coordinator"}) {
    if (::access((binDir() + "/" + program).c_str(), X_OK) != 0) return binDir() + "/" + program;
  }
  return "";
}

std::string tail(const std::string& path, std::size_t bytes = 4000) {
  std::string text = readFile(path);
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

// Kills what the README's blocks started (their pid files) if the script stopped half-way.
void killStarted(const std::string& fleet) {
  std::vector<std::string> files{fleet + "/coordinator.pid"};
  for (int i = 1; i <= 3; ++i) {
    files.push_back(fleet + "/web-" + std::to_string(i) + "/agent.pid");
    files.push_back(fleet + "/web-" + std::to_string(i) + "/traffic.pid");
  }
  for (const auto& file : files) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (in >> pid && pid > 1) ::kill(pid, SIGKILL);
  }
}

}  // namespace

TEST_CASE(
    "the README's manual setup gives a fleet that promotes a good build and rolls back a bad one") {
  if (!requireOrSkip(UserManager::missingPrerequisite())) return;
  if (!requireOrSkip(missingProgram())) return;
  std::ifstream readme(ROLLGATE_README);
  REQUIRE_MESSAGE(readme.good(), "cannot read " ROLLGATE_README);
  std::string markdown((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  std::vector<std::string> blocks = setupBlocks(markdown);
  REQUIRE_MESSAGE(blocks.size() >= 2, "README.md has fewer than two ```sh setup blocks");

  auto manager = UserManager::start();
  REQUIRE_MESSAGE(manager.ok(), (manager.ok() ? "" : manager.error().message));
  TempDir home("rollgate-manual-setup");
  const std::string fleet = home.file("rollgate-fleet");
  const int port = freePortBlock();
  REQUIRE_MESSAGE(port > 0, "no block of free ports");
  const char* path = std::getenv("PATH");
  std::map<std::string, std::string> env{
      {"PATH", binDir() + ":" + (path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin")},
      {"HOME", home.path()},
      {"FLEET", fleet},
      {"PORT", std::to_string(port)},
      {"XDG_RUNTIME_DIR", (*manager)->runtimeDir()},
      {"XDG_CONFIG_HOME", (*manager)->dir() + "/config"},
      {"DBUS_SESSION_BUS_ADDRESS", (*manager)->busAddress()},
      {"ROLLGATE_ADMIN", ""},  // what the README exports, not the caller's
      {"ROLLGATE_KEY", ""},
      {"ROLLGATE_COORDINATOR_KEY", ""}};

  // Everything but the last block (it stops the fleet) in one shell, as a reader would.
  std::string setup = "set -euo pipefail\n";
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i) setup += blocks[i];
  writeFile(home.file("setup.sh"), setup);
  writeFile(home.file("stop.sh"), "set -euo pipefail\n" + blocks.back());
  auto run = runCommand({"/bin/bash", home.file("setup.sh")}, env, std::chrono::minutes(20));
  auto logs = [&] {
    std::string text = "script exit " + std::to_string(run.exitCode) + "\n--- stdout\n" + run.out +
                       "\n--- stderr\n" + run.err + "\n--- coordinator.log\n" +
                       tail(fleet + "/coordinator.log");
    for (int i = 1; i <= 3; ++i) {
      const std::string web = fleet + "/web-" + std::to_string(i);
      text += "\n--- web-" + std::to_string(i) + "/agent.log\n" + tail(web + "/agent.log", 2000) +
              "\n--- web-" + std::to_string(i) + "/nginx/error.log\n" +
              tail(web + "/nginx/error.log", 1000);
    }
    return text;
  };
  if (run.exitCode != 0) {
    killStarted(fleet);
    FAIL(logs());
  }
  CHECK_MESSAGE(run.out.find("1.2.0 was rolled back") != std::string::npos, logs());

  // Ask the coordinator, as an operator would, with the keys the README's init wrote.
  std::map<std::string, std::string> cli{
      {"ROLLGATE_ADMIN", "tcp://127.0.0.1:" + std::to_string(port + 1)},
      {"ROLLGATE_KEY", fleet + "/etc/admin.key"},
      {"ROLLGATE_COORDINATOR_KEY", fleet + "/etc/coordinator.pub"}};
  auto list = runCommand({binDir() + "/rollgate", "rollout", "list", "--json"}, cli);
  auto rollouts = nlohmann::json::parse(list.out, nullptr, false);
  REQUIRE_MESSAGE(!rollouts.is_discarded(), (list.out + list.err));
  std::map<std::string, std::string> statusOf;
  for (const auto& r : rollouts["rollouts"])
    statusOf[r.value("version", "")] = r.value("status", "");
  CHECK_MESSAGE(statusOf["1.1.0"] == "succeeded", logs());
  CHECK_MESSAGE(statusOf["1.2.0"] == "rolled_back", logs());
  auto hosts = runCommand({binDir() + "/rollgate", "hosts", "--json"}, cli);
  auto json = nlohmann::json::parse(hosts.out, nullptr, false);
  REQUIRE(!json.is_discarded());
  REQUIRE(json["hosts"].size() == 3);
  for (const auto& host : json["hosts"]) {
    for (const auto& service : host["services"]) {
      CHECK_MESSAGE(service.value("active_release", "") == "1.1.0", host.dump());
    }
  }

  auto stop = runCommand({"/bin/bash", home.file("stop.sh")}, env);
  CHECK_MESSAGE(stop.exitCode == 0, (stop.out + stop.err));
  killStarted(fleet);  // nothing is left when stop.sh did its job
}
