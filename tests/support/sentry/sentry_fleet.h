// SentryFleet: a small real fleet for Sentry tests and benchmarks. Each host is a real agent whose
// service "shop" is a small application using Debian's python3-sentry-sdk (sdk_app.py), run as a
// unit of one private systemd manager, its DSN pointed at that host's agent ([service.sentry]).
// The application serves simulated requests at a steady rate (its access log) in Sentry sessions.
// Releases are tar.gz builds whose mode.json says what the application raises (sdk_app.py):
// {"exception_rate": 0.04, "new_type_rate": 0, "crash_rate": 0.005}. One host may relay to an
// upstream receiver standing in for the team's Sentry (upstream_receiver.py).
// Thread-safety: none; one test thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/fleet/fleet.h"
#include "tests/support/systemd/user_manager.h"

namespace rollgate::testing {

struct SentryHostSpec {
  std::string name;
  std::string region;
  std::string cluster;
};

class SentryFleet {
 public:
  struct Options {
    int requestsPerSecond = 40;  // per host
    std::string relayHost;       // this host's agent relays to the upstream receiver; "": none
  };
  // The application's steady background: 4% of requests raise a handled KeyError, 0.5% of
  // sessions crash.
  static constexpr const char* kBackgroundMode = R"({"exception_rate": 0.04, "crash_rate": 0.005})";
  // Gates for this application, whose access log has no request times: the default checks that
  // need none (5xx ratio, restarts, and the three Sentry checks), with their default settings.
  static const char* gatesToml();

  // Empty when the fleet can run here, else what is missing.
  static std::string missingPrerequisite();
  static Result<std::unique_ptr<SentryFleet>> start(const std::vector<SentryHostSpec>& hosts,
                                                    Options options);
  ~SentryFleet();

  LocalFleet& fleet() { return *fleet_; }
  const TempDir& work() const { return work_; }
  // Where the upstream receiver keeps `count`, `last.headers` and `last.body`.
  std::string receiverDir() const { return work_.file("upstream"); }

  // Builds a release archive (VERSION and mode.json); returns its path.
  std::string makeRelease(const std::string& version, const std::string& modeJson);
  // Pushes `version` and installs it on every host, then waits until every host's windows of it
  // carry Sentry sessions (the application reports to its agent).
  Status installEverywhere(const std::string& version, const std::string& modeJson);
  // `rollgate telemetry --json` for the service on `host` (the last 200 windows).
  nlohmann::json telemetry(const std::string& host);
  // Windows of `release` on `host` whose Sentry counts show sessions.
  int sentryWindows(const std::string& host, const std::string& release);
  // The release each host's `current` points at.
  std::string activeRelease(const std::string& host) const;

 private:
  SentryFleet() = default;
  std::unique_ptr<UserManager> manager_;
  std::unique_ptr<LocalFleet> fleet_;
  TempDir work_{"rollgate-sentry"};
  Process receiver_;
  std::vector<SentryHostSpec> hosts_;
};

}  // namespace rollgate::testing
