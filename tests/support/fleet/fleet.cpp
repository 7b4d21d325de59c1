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

LocalFleet::LocalFleet(const std::string& coordinatorExtraToml, const SharedStore& shared)
    : dir_(std::make_unique<TempDir>("rollgate-fleet")),
      agentPort_(freePort()),
      adminPort_(freePort()),
      broadcastPort_(freePort()) {
  const std::string bin = binDir() + "/rollgate";
  check(runCommand({bin, "keygen", "--out", dir_->file("coordinator")}), "coordinator keygen");
  check(runCommand({bin, "keygen", "--out", dir_->file("admin")}), "operator keygen");
  ::mkdir(dir_->file("admins.d").c_str(), 0755);
  ::mkdir(agentsDir().c_str(), 0755);
  writeFile(dir_->file("admins.d/admin.pub"), readFile(dir_->file("admin.pub")));
  const std::size_t count = std::max<std::size_t>(1, shared.urls.size());
  for (std::size_t i = 0; i < count; ++i) {
    agentPorts_.push_back(i == 0 ? agentPort_ : freePort());
    adminPorts_.push_back(i == 0 ? adminPort_ : freePort());
    broadcastPorts_.push_back(i == 0 ? broadcastPort_ : freePort());
    coordinators_.emplace_back();
  }
  for (std::size_t i = 0; i < count; ++i) {
    // Coordinators sharing a database share the key pair and the operators' allowlist; each has
    // its own agents_dir, as on separate machines: keys enrolled on the leader reach the others
    // through the store.
    const std::string suffix = i == 0 ? "" : "-" + std::to_string(i);
    std::string config = "[coordinator]\n";
    config += "agent_endpoint = \"tcp://127.0.0.1:" + std::to_string(agentPorts_[i]) + "\"\n";
    config += "admin_endpoint = \"tcp://127.0.0.1:" + std::to_string(adminPorts_[i]) + "\"\n";
    config += "broadcast_endpoint = \"tcp://127.0.0.1:" + std::to_string(broadcastPorts_[i]) + "\"\n";
    config += "key = \"" + dir_->file("coordinator.key") + "\"\n";
    config += "agents_dir = \"" + agentsDir(static_cast<int>(i)) + "\"\n";
    config += "admins_dir = \"" + dir_->file("admins.d") + "\"\n";
    config += "state_dir = \"" + dir_->file("state" + suffix) + "\"\n";
    config += coordinatorExtraToml;
    if (!shared.urls.empty()) {
      config += "\n[store]\nurl = \"" + shared.urls[i] + "\"\ncoordinator_id = \"c" +
                std::to_string(i) + "\"\nlease_seconds = " + std::to_string(shared.leaseSeconds) +
                "\n";
    }
    writeFile(coordinatorConfig(static_cast<int>(i)), config);
  }
}

LocalFleet::~LocalFleet() {
  for (auto& [name, agent] : agents_) agent.stop(std::chrono::seconds(5));
  for (auto& coordinator : coordinators_) coordinator.stop(std::chrono::seconds(5));
}

std::string LocalFleet::coordinatorPublicKey() const {
  return trim(readFile(dir_->file("coordinator.pub")));
}

void LocalFleet::startCoordinator() {
  for (int i = 0; i < coordinatorCount(); ++i) startCoordinator(i);
}

void LocalFleet::startCoordinator(int index) {
  coordinators_[index] = Process::spawn(
      {binDir() + "/rollgate-coordinator", "--config", coordinatorConfig(index)},
      coordinatorLog(index));
}

void LocalFleet::killCoordinator(int sig) {
  for (int i = 0; i < coordinatorCount(); ++i) killCoordinator(i, sig);
}

void LocalFleet::killCoordinator(int index, int sig) {
  coordinators_[index].signal(sig);
  coordinators_[index].wait(std::chrono::seconds(10));
}

void LocalFleet::signalCoordinator(int sig) { coordinators_[0].signal(sig); }

bool LocalFleet::coordinatorRunning() { return coordinators_[0].running(); }

bool LocalFleet::coordinatorRunning(int index) { return coordinators_[index].running(); }

int LocalFleet::leader() const {
  auto json = hosts();
  if (!json.contains("leader")) return coordinatorCount() == 1 && json.contains("hosts") ? 0 : -1;
  const std::string id = json["leader"].value("id", "");
  return id.size() > 1 && id[0] == 'c' ? std::stoi(id.substr(1)) : -1;
}

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
  auto endpoints = [](const std::vector<int>& ports) {
    if (ports.size() == 1) return "\"tcp://127.0.0.1:" + std::to_string(ports[0]) + "\"";
    std::string list = "[";
    for (std::size_t i = 0; i < ports.size(); ++i) {
      list += std::string(i ? ", " : "") + "\"tcp://127.0.0.1:" + std::to_string(ports[i]) + "\"";
    }
    return list + "]";
  };
  config += "coordinator = " + endpoints(agentPorts_) + "\n";
  config += "broadcast = " + endpoints(broadcastPorts_) + "\n";
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
  std::string admin;
  for (int port : adminPorts_) {
    admin += (admin.empty() ? "" : ",") + std::string("tcp://127.0.0.1:") + std::to_string(port);
  }
  return {{"ROLLGATE_ADMIN", admin},
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
