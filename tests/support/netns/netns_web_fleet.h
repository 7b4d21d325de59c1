// NetnsWebFleet: the web fleet of tests/support/fleet/web_fleet.h with every rollgate process in
// a network namespace of its own (NetworkLab): the coordinator in "coordinator" (binding
// tcp://<its address>:7400 agents, :7401 admin, :7402 broadcast), each agent in its host's, and
// the CLI run in the coordinator's. Each host's service "web" is a real nginx unit of one private
// systemd user manager in the root namespace (agents only read its log files and talk sd-bus over
// a unix socket, which works across network namespaces), under steady load from threads in the
// root namespace. So cutting a host's link (cut/restore) separates its agent from the coordinator
// while its web server keeps serving. Agents get no health_url (nginx listens on the root
// namespace's loopback, which an agent's namespace cannot reach).
// Thread-safety: none, except the load threads it owns.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/fleet/load_generator.h"
#include "tests/support/fleet/process.h"
#include "tests/support/netns/network_lab.h"
#include "tests/support/systemd/user_manager.h"

namespace rollgate::testing {

struct NetnsHostSpec {
  std::string name;
  std::string region;
  std::string cluster;
};

enum class NetnsRelease { kHealthy, kErrors3Percent };

class NetnsWebFleet {
 public:
  struct Options {
    int windowSeconds = 1;
    int requestsPerSecond = 100;  // per host
  };
  // Empty when the fleet can run here, else what is missing.
  static std::string missingPrerequisite();
  static Result<std::unique_ptr<NetnsWebFleet>> start(const std::vector<NetnsHostSpec>& hosts,
                                                      Options options);
  ~NetnsWebFleet();

  NetworkLab& lab() { return *lab_; }
  const TempDir& work() const { return work_; }
  std::string agentLog(const std::string& host) const { return work_.file(host + ".log"); }
  std::string coordinatorLog() const { return work_.file("coordinator.log"); }

  // Runs the CLI in the coordinator's namespace with the operator key.
  CommandOutput cli(std::vector<std::string> args) const;
  nlohmann::json hostsJson() const;
  bool waitForHealthy(const std::vector<std::string>& names, std::chrono::milliseconds timeout) const;

  std::string makeRelease(const std::string& version, NetnsRelease kind);
  Status installEverywhere(const std::string& version);
  void startLoad();
  void stopLoad();
  // The release each host's `current` points at.
  std::string activeRelease(const std::string& host) const;
  std::uint64_t requestsSent() const { return load_.requestsSent(); }

 private:
  NetnsWebFleet() = default;
  void startAgent(const std::string& host);
  std::unique_ptr<UserManager> manager_;
  std::unique_ptr<NetworkLab> lab_;
  TempDir work_{"rollgate-netns"};
  std::vector<NetnsHostSpec> hosts_;
  std::vector<int> ports_;
  Options options_;
  std::string coordinatorAddress_;
  Process coordinator_;
  std::map<std::string, Process> agents_;
  LoadGenerator load_;
};

}  // namespace rollgate::testing
