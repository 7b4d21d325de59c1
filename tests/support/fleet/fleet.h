// LocalFleet: a real coordinator and real agents on loopback for integration tests, each with its
// own keys, config and log file in a temporary directory. Ports are picked free at construction.
// Thread-safety: none; one test thread.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/fleet/process.h"

namespace rollgate::testing {

struct AgentSpec {
  AgentSpec(std::string n, std::string r, std::string c, bool e = true)
      : name(std::move(n)), region(std::move(r)), cluster(std::move(c)), enroll(e) {}
  std::string name;
  std::string region;
  std::string cluster;
  bool enroll = true;
  std::string claimedHost;   // agent.host in its config; default: name
  std::string extraToml;     // appended to the agent's config ([[service]] tables...)
};

// True when every host in `names` is listed healthy in a `rollgate hosts --json` document.
bool allHealthy(const nlohmann::json& hosts, const std::vector<std::string>& names);

// Several coordinators sharing one PostgreSQL (README, "High availability"): coordinator i uses
// urls[i] (the same database; a relay's port for one a test cuts off) and is named "c<i>".
struct SharedStore {
  std::vector<std::string> urls;
  int leaseSeconds = 3;
};

class LocalFleet {
 public:
  // `coordinatorExtraToml` is appended to the [coordinator] table.
  explicit LocalFleet(const std::string& coordinatorExtraToml = "heartbeat_seconds = 1\n"
                                                                "host_timeout_seconds = 4\n",
                      const SharedStore& shared = {});
  ~LocalFleet();

  const TempDir& dir() const { return *dir_; }
  std::string coordinatorConfig(int index = 0) const {
    return dir_->file(index == 0 ? "coordinator.toml" : "coordinator-" + std::to_string(index) + ".toml");
  }
  // Each coordinator's own allowlist of agent keys (coordinators share one only through the store).
  std::string agentsDir(int index = 0) const {
    return dir_->file(index == 0 ? "agents.d" : "agents.d-" + std::to_string(index));
  }
  std::string coordinatorLog(int index = 0) const {
    return dir_->file(index == 0 ? "coordinator.log" : "coordinator-" + std::to_string(index) + ".log");
  }
  int coordinatorCount() const { return static_cast<int>(agentPorts_.size()); }
  void startCoordinator(int index);
  void killCoordinator(int index, int sig);
  bool coordinatorRunning(int index);
  pid_t coordinatorPid(int index) const { return coordinators_[index].pid(); }
  // The index of the coordinator that `rollgate hosts` names as leader; -1 when none answers.
  int leader() const;
  std::string agentLog(const std::string& name) const { return dir_->file(name + ".log"); }
  std::string agentConfig(const std::string& name) const { return dir_->file(name + ".toml"); }
  int agentPort() const { return agentPort_; }
  int adminPort() const { return adminPort_; }
  int broadcastPort() const { return broadcastPort_; }
  std::string coordinatorPublicKey() const;

  void startCoordinator();
  // The running coordinator's process id (-1 if none), e.g. to read its /proc status.
  pid_t coordinatorPid() const { return coordinators_[0].pid(); }
  void killCoordinator(int sig);
  // Sends `sig` without waiting for an exit (SIGSTOP, SIGCONT).
  void signalCoordinator(int sig);
  bool coordinatorRunning();
  // Waits until the admin endpoint answers.
  bool waitForCoordinator();

  // Writes the agent's key pair and config; enrolls it when spec.enroll (coordinator must run).
  void addAgent(const AgentSpec& spec);
  void startAgent(const std::string& name, const std::map<std::string, std::string>& env = {});
  void stopAgent(const std::string& name, int sig = 15);
  // The running agent's process id (-1 if it is not running), e.g. to read its /proc status.
  pid_t agentPid(const std::string& name) const;

  // Runs the CLI against this fleet's coordinator with the operator key.
  CommandOutput cli(std::vector<std::string> args) const;
  // The same, with the terminal's stdout and stderr (live output); returns the exit code.
  int cliAttached(std::vector<std::string> args) const;
  // The environment that points the CLI at this fleet (for printing a copy-paste line).
  std::map<std::string, std::string> cliEnvironment() const;
  // `rollgate hosts --json`, parsed; an empty object if the command failed.
  nlohmann::json hosts() const;
  // Waits until `names` are all listed and healthy.
  bool waitForHealthy(const std::vector<std::string>& names,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  std::unique_ptr<TempDir> dir_;
  int agentPort_;
  int adminPort_;
  int broadcastPort_;
  std::vector<int> agentPorts_, adminPorts_, broadcastPorts_;  // [0] are the three above
  std::vector<Process> coordinators_;
  std::map<std::string, Process> agents_;
};

}  // namespace rollgate::testing
