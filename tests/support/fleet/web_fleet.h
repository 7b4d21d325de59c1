// WebFleet: a small real fleet on one machine for rollout tests and the demo. Each host is a real
// agent whose service "web" is a real server run as a unit of one private systemd user manager,
// serving its install root's `current` release, with a load generator sending it requests at a
// steady rate. The server is nginx (releases are tar.gz builds whose site.conf decides how nginx
// answers /app: healthy, 3% 500s (split_clients), or 20 ms slower (echo_sleep)) or
// rollgate-fault-app (fault_app.cpp; a release's fault.json, a FaultSpec, decides: 5xx, latency,
// slow tail, crash loop, error-log lines, memory growth, CPU per request).
// Thread-safety: none, except the load threads it owns.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/fleet/fault_spec.h"
#include "tests/support/fleet/fleet.h"
#include "tests/support/fleet/load_generator.h"
#include "tests/support/systemd/user_manager.h"

namespace rollgate::testing {

enum class ReleaseKind { kHealthy, kErrors3Percent, kSlower20ms };

// The server each host runs as its "web" unit.
enum class WebServer { kNginx, kFaultApp };

// The fault app's spec for a release kind (healthy, 3% 500s, 20 ms slower).
FaultSpec faultSpecOf(ReleaseKind kind);

struct WebHostSpec {
  std::string name;
  std::string region;
  std::string cluster;
};

class WebFleet {
 public:
  struct Options {
    int windowSeconds = 1;
    int requestsPerSecond = 100;  // per host
    std::string coordinatorExtraToml;  // appended to the coordinator's config (new tables too)
    WebServer server = WebServer::kNginx;
    // Appended to each web unit's [Service] section (e.g. "ExecStartPre=/bin/sleep 2\n" for
    // a restart that keeps the port closed long enough to be seen).
    std::string unitServiceExtra;
    // Appended to each host's [[service]] table of the agent's config (keys such as haproxy).
    std::function<std::string(const WebHostSpec&)> serviceExtraToml;
    // Coordinators sharing PostgreSQL (empty urls: one coordinator on SQLite).
    SharedStore shared;
  };
  // Empty when the fleet can run here, else what is missing.
  static std::string missingPrerequisite(WebServer server = WebServer::kNginx);
  static Result<std::unique_ptr<WebFleet>> start(const std::vector<WebHostSpec>& hosts, Options options);
  ~WebFleet();

  LocalFleet& fleet() { return *fleet_; }
  const std::vector<WebHostSpec>& hosts() const { return hosts_; }
  const TempDir& work() const { return work_; }

  // Builds a release archive; returns its path. With nginx the kind decides site.conf and
  // `extraSite` is appended to it (an nginx server-block fragment, e.g. a /metrics location); with
  // the fault app the kind becomes fault.json (faultSpecOf).
  std::string makeRelease(const std::string& version, ReleaseKind kind,
                          const std::string& extraSite = "");
  // A fault app release behaving as `fault`. Requires: the fleet runs WebServer::kFaultApp.
  std::string makeRelease(const std::string& version, const FaultSpec& fault);
  // Pushes `version` and installs it on every host (the fleet's starting point).
  Status installEverywhere(const std::string& version, ReleaseKind kind,
                           const std::string& extraSite = "");
  void startLoad();
  void stopLoad();
  // The release each host's `current` points at.
  std::string activeRelease(const std::string& host) const;
  // The port the web server of `host` listens on (127.0.0.1); -1 for an unknown host.
  int port(const std::string& host) const;
  std::uint64_t requestsSent() const { return load_.requestsSent(); }
  void stopAgent(const std::string& host) { fleet_->stopAgent(host); }
  void startAgent(const std::string& host);

 private:
  WebFleet() = default;
  // Packs `files` (name -> content) with `health` and `VERSION` into web-<version>.tar.gz.
  std::string packRelease(const std::string& version,
                          const std::vector<std::pair<std::string, std::string>>& files);
  std::unique_ptr<UserManager> manager_;
  std::unique_ptr<LocalFleet> fleet_;
  TempDir work_{"rollgate-webfleet"};
  std::vector<WebHostSpec> hosts_;
  std::vector<int> ports_;
  Options options_;
  LoadGenerator load_;
};

}  // namespace rollgate::testing
