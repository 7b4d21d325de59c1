// ServiceTelemetry: one declared service's telemetry pipeline inside the agent's loop: follows its
// access and error logs, parses each line once, samples the unit's resources (systemd over sd-bus,
// or /proc by main PID), and cuts TelemetryWindows every window and at every release switch.
// Follower positions are saved in the state directory so a restarted agent neither loses nor
// re-counts lines.
// Thread-safety: one thread (the agent's loop).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "agent/systemd/service_manager.h"
#include "agent/telemetry/access_log.h"
#include "agent/telemetry/error_log.h"
#include "agent/telemetry/log_follower.h"
#include "agent/telemetry/proc_stats.h"
#include "agent/telemetry/window_builder.h"
#include "common/logging.h"
#include "common/result.h"

namespace rollgate::agent {

class ServiceTelemetry {
 public:
  // `resources` may be null (no systemd): resources then come from /proc via the unit's... nothing,
  // and windows carry zero CPU and memory.
  static Result<std::unique_ptr<ServiceTelemetry>> create(const ServiceConfig& service,
                                                          const std::string& stateDir,
                                                          std::uint64_t windowMillis,
                                                          std::string release,
                                                          systemd::ServiceManager* resources,
                                                          Logger logger, std::uint64_t nowMillis);
  ~ServiceTelemetry();

  // File descriptors to poll for readability (inotify), and what to call when they are.
  std::vector<int> fds() const;
  void onReadable();
  // Periodic work: backstop polling of the logs, release-switch detection (`release` is what
  // `current` points at now), window cuts. Finished windows are appended to `out`.
  void tick(const std::string& release, std::uint64_t nowMillis, std::vector<TelemetryWindow>& out);
  // Closes the open window (shutdown) and saves follower positions.
  TelemetryWindow close(std::uint64_t nowMillis);

  const std::string& name() const { return service_.name; }

 private:
  ServiceTelemetry(ServiceConfig service, std::string stateFile, AccessLogParser parser,
                   std::optional<ErrorPattern> errorPattern, systemd::ServiceManager* resources,
                   Logger logger, WindowBuilder builder);
  void sampleResources();
  void saveState();

  ServiceConfig service_;
  std::string stateFile_;
  AccessLogParser parser_;
  std::optional<ErrorPattern> errorPattern_;
  systemd::ServiceManager* resources_;
  ProcStats proc_;
  Logger logger_;
  WindowBuilder builder_;
  std::unique_ptr<LogFollower> accessFollower_;
  std::unique_ptr<LogFollower> errorFollower_;
  std::uint64_t nextPollMillis_ = 0;
};

}  // namespace rollgate::agent
