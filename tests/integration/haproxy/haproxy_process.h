// HaproxyProcess: Debian's real haproxy for tests, started in the foreground on a free loopback
// port with its runtime API socket (level admin) in a temporary directory, balancing one backend
// "web" round robin over the given servers. With checks, HAProxy probes GET /health every 300 ms
// (down after 2 failures, up after 2 successes) and every server has weight 100 (else HAProxy's
// default, 1). `retries 1` and no redispatch: a request sent to
// a server that is restarting fails instead of being quietly sent elsewhere, so that a test sees
// what a restart without draining costs.
// Thread-safety: none; one test thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/lb/haproxy_runtime.h"
#include "tests/support/fleet/process.h"

namespace rollgate::testing {

struct HaproxyServer {
  std::string name;
  int port = 0;
};

class HaproxyProcess {
 public:
  static constexpr const char* kBinary = "/usr/sbin/haproxy";
  static constexpr const char* kBackend = "web";
  // Empty when haproxy can run here, else what is missing.
  static std::string missingPrerequisite();
  // `socketPath`: where the runtime socket goes (empty: in the process's temporary directory);
  // given when the agents' configs must name it before HAProxy starts.
  static Result<std::unique_ptr<HaproxyProcess>> start(const std::vector<HaproxyServer>& servers,
                                                       bool checks,
                                                       const std::string& socketPath = "");

  const std::string& socketPath() const { return socket_; }
  int frontendPort() const { return port_; }
  std::string frontendUrl(const std::string& path) const;
  const lb::HaproxyRuntime& runtime() const { return runtime_; }
  // Servers whose admin state is drain or maintenance, as "name (drain)"; empty: all ready.
  std::vector<std::string> serversNotReady() const;
  Result<lb::ServerStat> stat(const std::string& server) const {
    return runtime_.stat(kBackend, server);
  }
  // Waits until every server with checks is UP. False after the bound.
  bool waitAllUp() const;

 private:
  HaproxyProcess(int port, const std::string& socketPath);
  TempDir dir_{"rollgate-haproxy"};
  std::string socket_;
  int port_;
  lb::HaproxyRuntime runtime_;
  std::vector<HaproxyServer> servers_;
  Process process_;
};

}  // namespace rollgate::testing
