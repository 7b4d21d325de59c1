// WebFleet: a small real fleet on one machine for rollout tests and the demo. Each host is a real
// agent whose service "web" is a real nginx run as a unit of one private systemd user manager,
// serving its install root's `current` release, with a load generator sending it requests at a
// steady rate. Releases are tar.gz builds whose site.conf decides how nginx answers /app:
// healthy, 3% 500s (split_clients), or 20 ms slower (echo_sleep).
// Thread-safety: none, except the load threads it owns.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/fleet/fleet.h"
#include "tests/support/fleet/load_generator.h"
#include "tests/support/systemd/user_manager.h"

namespace rollgate::testing {

enum class ReleaseKind { kHealthy, kErrors3Percent, kSlower20ms };

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
  };
  // Empty when the fleet can run here, else what is missing.
  static std::string missingPrerequisite();
  static Result<std::unique_ptr<WebFleet>> start(const std::vector<WebHostSpec>& hosts, Options options);
  ~WebFleet();

  LocalFleet& fleet() { return *fleet_; }
  const std::vector<WebHostSpec>& hosts() const { return hosts_; }
  const TempDir& work() const { return work_; }

  // Builds a release archive; returns its path. `extraSite` is appended to its site.conf (an
  // nginx server-block fragment, e.g. a /metrics location).
  std::string makeRelease(const std::string& version, ReleaseKind kind,
                          const std::string& extraSite = "");
  // Pushes `version` and installs it on every host (the fleet's starting point).
  Status installEverywhere(const std::string& version, ReleaseKind kind,
                           const std::string& extraSite = "");
  // The loopback port `host`'s nginx listens on.
  int port(const std::string& host) const;
  void startLoad();
  void stopLoad();
  // The release each host's `current` points at.
  std::string activeRelease(const std::string& host) const;
  std::uint64_t requestsSent() const { return load_.requestsSent(); }
  void stopAgent(const std::string& host) { fleet_->stopAgent(host); }
  void startAgent(const std::string& host);

 private:
  WebFleet() = default;
  std::unique_ptr<UserManager> manager_;
  std::unique_ptr<LocalFleet> fleet_;
  TempDir work_{"rollgate-webfleet"};
  std::vector<WebHostSpec> hosts_;
  std::vector<int> ports_;
  Options options_;
  LoadGenerator load_;
};

}  // namespace rollgate::testing
