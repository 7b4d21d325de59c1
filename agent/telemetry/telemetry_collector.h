// TelemetryCollector: the agent's telemetry, from log lines to windows the coordinator has stored.
// Runs every declared service's pipeline (ServiceTelemetry) inside the agent's loop, adds resource
// samples from the service manager (systemd over sd-bus; /proc by main PID where the unit does not
// account), cuts windows on time and at release switches, and keeps finished windows in the
// durable TelemetryBacklog until the coordinator acknowledges them.
//
// Log positions: each window is written to the backlog together with the positions right after
// it, then the service's positions file is replaced. After a crash between the two, the backlog's
// newer positions win, so a restarted agent re-reads exactly the lines of the window it had not
// finished, never those of a window it kept. The open window is not saved at shutdown: its lines
// are read again after a restart.
// Thread-safety: one thread (the agent's loop).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "agent/systemd/service_manager.h"
#include "agent/telemetry/backlog.h"
#include "agent/telemetry/proc_stats.h"
#include "agent/telemetry/service_telemetry.h"
#include "common/logging.h"
#include "common/result.h"

namespace rollgate::agent {

// What a service's Sentry endpoint counted since the last call (agent/sentry's SentryEndpoint);
// nothing for a service without one. Called on the collector's thread when a window is cut.
using SentryCountsSource = std::function<std::optional<SentryWindow>(const std::string& service)>;

struct CollectedService {
  ServiceTelemetryConfig telemetry;  // telemetry.service is the service's name
  std::string unit;                  // systemd unit, for resource samples
};

struct TelemetryCollectorConfig {
  std::string stateDir;  // telemetry-<service>.state files and telemetry-backlog/
  std::vector<CollectedService> services;
  BacklogLimits backlog;
};

class TelemetryCollector {
 public:
  // `activeReleases[i]` is what service i's `current` points at now. `resources` may be null (no
  // service manager): windows then carry no CPU or memory. Fails naming the service or the
  // backlog directory.
  static Result<std::unique_ptr<TelemetryCollector>> create(
      TelemetryCollectorConfig config, const std::vector<std::string>& activeReleases,
      systemd::ServiceManager* resources, Logger logger, std::uint64_t nowMillis);

  std::vector<int> fds() const;
  void onReadable(int fd);
  // Cuts the windows that are due (or at a release switch) into the backlog.
  void tick(const std::vector<std::string>& activeReleases, std::uint64_t nowMillis);

  // Sending, as TelemetryBacklog: the windows to send next, oldest first; which were handed to
  // the connection; a new session; the coordinator's acknowledgement.
  std::vector<TelemetryWindow> unsent(std::size_t maxCount) const { return backlog_->unsent(maxCount); }
  void markSent(std::uint64_t throughSequence) { backlog_->markSent(throughSequence); }
  void resendAll() { backlog_->resendAll(); }
  void acknowledge(std::uint64_t throughSequence);
  // Every service's window length from now on (WindowBuilder::setWindowMillis).
  // Requires: windowMillis > 0.
  void setWindowMillis(std::uint64_t windowMillis) {
    for (auto& service : services_) service.telemetry->setWindowMillis(windowMillis);
  }
  // Each window cut from now on carries the service's Sentry counts from `source`.
  void setSentrySource(SentryCountsSource source) { sentry_ = std::move(source); }
  const TelemetryBacklog& backlog() const { return *backlog_; }

 private:
  struct Service {
    CollectedService config;
    std::unique_ptr<ServiceTelemetry> telemetry;
    std::string stateFile;
  };
  TelemetryCollector(systemd::ServiceManager* resources, Logger logger)
      : resources_(resources), logger_(std::move(logger)) {}
  std::optional<ResourceSample> sample(const CollectedService& service);
  void keep(const Service& service, TelemetryWindow window);

  systemd::ServiceManager* resources_;
  Logger logger_;
  ProcStats proc_;
  std::vector<Service> services_;
  std::unique_ptr<TelemetryBacklog> backlog_;
  SentryCountsSource sentry_;
};

}  // namespace rollgate::agent
