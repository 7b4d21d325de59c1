// TelemetryCollector: runs every declared service's telemetry pipeline (agent/telemetry's
// ServiceTelemetry) inside the agent's loop, adds resource samples from the service manager
// (systemd over sd-bus; /proc by main PID where the unit does not account), cuts windows on time
// and at release switches, and saves log positions after every cut. Positions are saved only at
// cuts, so a restarted agent re-reads exactly the lines of the window it had not sent.
// Thread-safety: one thread (the agent's loop).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "agent/systemd/service_manager.h"
#include "agent/telemetry/proc_stats.h"
#include "agent/telemetry/service_telemetry.h"
#include "common/logging.h"
#include "common/result.h"

namespace rollgate::agent {

class TelemetryCollector {
 public:
  // `resources` may be null (no service manager): windows then carry no CPU or memory.
  static Result<std::unique_ptr<TelemetryCollector>> create(const AgentConfig& config,
                                                            systemd::ServiceManager* resources,
                                                            Logger logger,
                                                            std::uint64_t nowMillis);

  std::vector<int> fds() const;
  void onReadable(int fd);
  // `activeReleases[i]` is what service i's `current` points at now. Finished windows are
  // appended to `out`.
  void tick(const std::vector<std::string>& activeReleases, std::uint64_t nowMillis,
            std::vector<TelemetryWindow>& out);

 private:
  struct Service {
    ServiceConfig config;
    std::unique_ptr<ServiceTelemetry> telemetry;
    std::string stateFile;
  };
  TelemetryCollector(systemd::ServiceManager* resources, Logger logger)
      : resources_(resources), logger_(std::move(logger)) {}
  std::optional<ResourceSample> sample(const ServiceConfig& service);
  void save(const Service& service);

  systemd::ServiceManager* resources_;
  Logger logger_;
  ProcStats proc_;
  std::vector<Service> services_;
};

}  // namespace rollgate::agent
