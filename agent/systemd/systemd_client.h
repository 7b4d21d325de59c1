// SystemdClient: the agent's sd-bus connection to systemd (the system manager, or a user manager
// when configured, as in tests). Restarts units and waits for the job's JobRemoved signal, and
// reads unit properties (ActiveState, SubState, MainPID, CPUUsageNSec, MemoryCurrent, NRestarts).
// It never sleeps: a restart waits in sd_bus_wait for the job's signal, bounded by the timeout,
// which is measured on the injected clock (options.clock).
// Thread-safety: NOT thread-safe; an sd_bus connection belongs to one thread. Give each thread
// (installer worker, telemetry collector) its own SystemdClient.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/systemd/service_manager.h"
#include "common/clock.h"

struct sd_bus;

namespace rollgate::systemd {

enum class BusKind { kSystem, kUser };

struct SystemdClientOptions {
  BusKind bus = BusKind::kSystem;
  // When non-empty, connect to this D-Bus address instead of the default for `bus`
  // (e.g. "unix:path=/run/user/0/bus"). Used by tests with a private user manager.
  std::string address;
  // The clock a restart's timeout is measured on; nullptr: the system's. Must outlive the client.
  const Clock* clock = nullptr;
};

class SystemdClient final : public ServiceManager {
 public:
  static Result<std::unique_ptr<SystemdClient>> connect(const SystemdClientOptions& options);
  ~SystemdClient() override;
  SystemdClient(const SystemdClient&) = delete;
  SystemdClient& operator=(const SystemdClient&) = delete;

  Result<std::string> restartUnit(const std::string& unit,
                                  std::chrono::milliseconds timeout) override;
  Result<UnitStatus> unitStatus(const std::string& unit) override;
  // Asks the manager to reload unit files (daemon-reload); returns when done.
  Status reload();

 private:
  struct BusDeleter {
    void operator()(sd_bus* bus) const;
  };
  SystemdClient(sd_bus* bus, const Clock* clock);
  Result<std::string> unitPath(const std::string& unit);
  std::unique_ptr<sd_bus, BusDeleter> bus_;
  bool subscribed_ = false;
  SystemClock systemClock_;
  const Clock& clock_;
};

// Runs a fixed argv (e.g. {"/usr/sbin/service", "myapp", "restart"}) as "restart". The unit name
// is ignored. Exit status 0 -> "done", non-zero or killed -> "failed", over time -> "timeout" (the
// command is killed). unitStatus() is unavailable. The timeout and the polling between checks of
// the child go through `clock` (which must outlive the manager).
class CommandServiceManager final : public ServiceManager {
 public:
  CommandServiceManager(std::vector<std::string> argv, const Clock& clock)
      : argv_(std::move(argv)), clock_(clock) {}
  Result<std::string> restartUnit(const std::string& unit,
                                  std::chrono::milliseconds timeout) override;
  Result<UnitStatus> unitStatus(const std::string& unit) override;

 private:
  std::vector<std::string> argv_;
  const Clock& clock_;
};

}  // namespace rollgate::systemd
