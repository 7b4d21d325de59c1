#include "common/notify.h"

#include <systemd/sd-daemon.h>

namespace rollgate {

void notifyReady(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}
void notifyStatus(const std::string& status) { sd_notify(0, ("STATUS=" + status).c_str()); }
void notifyStopping() { sd_notify(0, "STOPPING=1"); }
void notifyWatchdog() { sd_notify(0, "WATCHDOG=1"); }

std::uint64_t watchdogIntervalMillis() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) return 0;
  return usec / 2000;
}

}  // namespace rollgate
