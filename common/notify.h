// systemd readiness and watchdog notifications (sd_notify). No-ops when not run by systemd.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>

namespace rollgate {

void notifyReady(const std::string& status);
void notifyStatus(const std::string& status);
void notifyStopping();
void notifyWatchdog();
// Interval at which to call notifyWatchdog (half the configured WatchdogSec), 0 if disabled.
std::uint64_t watchdogIntervalMillis();

}  // namespace rollgate
