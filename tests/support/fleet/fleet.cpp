#include "tests/support/fleet/fleet.h"

#include <sys/stat.h>

#include <stdexcept>

namespace rollgate::testing {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void check(const CommandOutput& out, const std::string& what) {
  if (out.exitCode != 0) {
    throw std::runtime_error(what + " failed (" + std::to_string(out.exitCode) + "): " + out.err +
                             out.out);
  }
}

}  // namespace

LocalFleet::LocalFleet(const std::string& coordinatorExtraToml)
    : dir_(std::make_unique<TempDir>("rollgate-fleet")),
      agentPort_(freePort()),
      adminPort_(freePort()),
      broadcastPort_(freePort()) {
  const std::string bin = binDir() + "/rollgate";
  check(runCommand({bin, "keygen", "--out", dir_->file("coordinator")}), "coordinator keygen");
  check(runCommand({bin, "keygen", "--out", dir_->file("admin")}), "operator keygen");
  ::mkdir(dir_->file("admins.d").c_str(), 0755);
  ::mkdir(dir_->file("agents.d").c_str(), 0755);
  writeFile(dir_->file("admins.d/admin.pub"), readFile(dir_->file("admin.pub")));
  std::string config = "[coordinator]\n";
  config += "agent_endpoint = \"tcp://127.0.0.1:" + std::to_string(agentPort_) + "\"\n";
  config += "admin_endpoint = \"tcp://127.0.0.1:" + std::to_string(adminPort_) + "\"\n";
  config += "broadcast_endpoint = \"tcp://127.0.0.1:" + std::to_string(broadcastPort_) + "\"\n";
  config += "key = \"" + dir_->file("coordinator.key") + "\"\n";
  config += "agents_dir = \"" + dir_->file("agents.d") + "\"\n";
  config += "admins_dir = \"" + dir_->file("admins.d") + "\"\n";
  config += "state_dir = \"" + dir_->file("state") + "\"\n";
  config += coordinatorExtraToml;
  writeFile(coordinatorConfig(), config);
}

LocalFleet::~LocalFleet() {
  for (auto& [name, agent] : agents_) agent.stop(std::chrono::seconds(5));
  coordinator_.stop(std::chrono::seconds(5));
}

std::string LocalFleet::coordinatorPublicKey() const {
  return trim(readFile(dir_->file("coordinator.pub")));
}

void LocalFleet::startCoordinator() {
  coordinator_ = Process::spawn({binDir() + "/rollgate-coordinator", "--config", coordinatorConfig()},
                                coordinatorLog());
}

void LocalFleet::killCoordinator(int sig) {
  coordinator_.signal(sig);
  coordinator_.wait(std::chrono::seconds(10));
}

void LocalFleet::signalCoordinator(int sig) { coordinator_.signal(sig); }

bool LocalFleet::coordinatorRunning() { return coordinator_.running(); }

bool LocalFleet::waitForCoordinator() {
  return waitUntil([&] { return cli({"hosts", "--json", "--timeout", "1"}).exitCode == 0; },
                   std::chrono::seconds(30), std::chrono::milliseconds(100));
}

void LocalFleet::addAgent(const AgentSpec& spec) {
  const std::string prefix = dir_->file(spec.name);
  check(runCommand({binDir() + "/rollgate-agent", "keygen", "--out", prefix}), "agent keygen");
  std::string config = "[agent]\n";
  config += "host = \"" + (spec.claimedHost.empty() ? spec.name : spec.claimedHost) + "\"\n";
  config += "region = \"" + spec.region + "\"\n";
  config += "cluster = \"" + spec.cluster + "\"\n";
  config += "coordinator = \"tcp://127.0.0.1:" + std::to_string(agentPort_) + "\"\n";
  config += "broadcast = \"tcp://127.0.0.1:" + std::to_string(broadcastPort_) + "\"\n";
  config += "coordinator_key = \"" + dir_->file("coordinator.pub") + "\"\n";
  config += "key = \"" + prefix + ".key\"\n";
  config += "state_dir = \"" + dir_->file(spec.name + "-state") + "\"\n";
  config += "heartbeat_seconds = 1\n";
  config += spec.extraToml;
  writeFile(agentConfig(spec.name), config);
  if (spec.enroll) check(cli({"hosts", "enroll", spec.name, prefix + ".pub"}), "enroll " + spec.name);
}

void LocalFleet::startAgent(const std::string& name,
                            const std::map<std::string, std::string>& env) {
  agents_[name] = Process::spawn({binDir() + "/rollgate-agent", "--config", agentConfig(name)},
                                 agentLog(name), env);
}

pid_t LocalFleet::agentPid(const std::string& name) const {
  auto it = agents_.find(name);
  return it == agents_.end() ? -1 : it->second.pid();
}

void LocalFleet::stopAgent(const std::string& name, int sig) {
  auto it = agents_.find(name);
  if (it == agents_.end()) return;
  it->second.signal(sig);
  it->second.wait(std::chrono::seconds(10));
  agents_.erase(it);
}

std::map<std::string, std::string> LocalFleet::cliEnvironment() const {
  return {{"ROLLGATE_ADMIN", "tcp://127.0.0.1:" + std::to_string(adminPort_)},
          {"ROLLGATE_KEY", dir_->file("admin.key")},
          {"ROLLGATE_COORDINATOR_KEY", dir_->file("coordinator.pub")}};
}

CommandOutput LocalFleet::cli(std::vector<std::string> args) const {
  std::vector<std::string> argv{binDir() + "/rollgate"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, cliEnvironment());
}

int LocalFleet::cliAttached(std::vector<std::string> args) const {
  std::vector<std::string> argv{binDir() + "/rollgate"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runAttached(argv, cliEnvironment());
}

nlohmann::json LocalFleet::hosts() const {
  auto out = cli({"hosts", "--json", "--timeout", "5"});
  if (out.exitCode != 0) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(out.out, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json::object() : parsed;
}

bool allHealthy(const nlohmann::json& hosts, const std::vector<std::string>& names) {
  if (!hosts.contains("hosts")) return false;
  for (const auto& name : names) {
    bool found = false;
    for (const auto& host : hosts["hosts"]) {
      if (host.value("name", "") == name && host.value("healthy", false)) found = true;
    }
    if (!found) return false;
  }
  return true;
}

bool LocalFleet::waitForHealthy(const std::vector<std::string>& names,
                                std::chrono::milliseconds timeout) const {
  return waitUntil([&] { return allHealthy(hosts(), names); }, timeout,
                   std::chrono::milliseconds(200));
}

}  // namespace rollgate::testing
