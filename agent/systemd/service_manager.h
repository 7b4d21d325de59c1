// ServiceManager: how the agent restarts a service's unit and reads its state. SystemdClient
// (systemd_client.h) talks to systemd over sd-bus; CommandServiceManager runs a configured
// restart command on hosts without systemd.
// Thread-safety: implementations are used by one thread at a time unless they say otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace rollgate::systemd {

// Unit properties for telemetry (ResourceSample) and for checks after a restart.
struct UnitStatus {
  std::string activeState;                     // "active", "failed", "inactive", "activating", ...
  std::string subState;                        // "running", "dead", "exited", ...
  uint32_t mainPid = 0;                        // 0 when not running
  std::optional<uint64_t> cpuUsageNSec;        // unset when CPU accounting is off
  std::optional<uint64_t> memoryCurrentBytes;  // unset when memory accounting is off
  uint32_t nRestarts = 0;                      // automatic restarts (Restart=) since load
  std::string controlGroup;  // ControlGroup, e.g. "/system.slice/web.service"; empty: unknown
};

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // Restarts the unit and waits until its job finished (at most `timeout`). Returns the job's
  // result: "done", "failed", "timeout", "canceled", "dependency", "skipped" (systemd's words),
  // or an error when the request itself could not be made (bus down, unknown unit).
  virtual Result<std::string> restartUnit(const std::string& unit,
                                          std::chrono::milliseconds timeout) = 0;
  virtual Result<UnitStatus> unitStatus(const std::string& unit) = 0;
};

}  // namespace rollgate::systemd
