// TelemetryStore: the coordinator's record of every telemetry window agents report. Windows are
// queued in memory and appended in batches (one Store::appendWindows per flush, so ingest keeps up
// with a large fleet), kept for a retention period, and read back for `rollgate telemetry`, the
// gates and backtesting.
// Failure policy: a flush that fails keeps the queued windows and returns the error; the caller
// logs it and flushes again later (the windows are still in memory for the rollouts, which got
// them as they arrived).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class TelemetryStore {
 public:
  // Requires: `store` outlives this.
  explicit TelemetryStore(Store& store) : store_(&store) {}

  // Queues a window from `host`; flush() writes everything queued at once.
  void add(const std::string& host, TelemetryWindow window);
  Status flush();
  std::size_t pending() const { return pending_.size(); }
  std::uint64_t stored() const { return stored_; }

  // The newest `last` windows of host/service (any service if empty), oldest first.
  Result<std::vector<TelemetryWindow>> latest(const std::string& host, const std::string& service,
                                              std::uint32_t last) {
    return store_->latestWindows(host, service, last);
  }
  // Windows of `service` from any host whose end is after `sinceMillis`, oldest first.
  Result<std::vector<StoredWindow>> since(const std::string& service, std::uint64_t sinceMillis) {
    return store_->windowsSince(service, sinceMillis);
  }
  // Deletes windows that ended before `beforeMillis`; returns how many.
  Result<std::uint64_t> prune(std::uint64_t beforeMillis) {
    return store_->pruneWindows(beforeMillis);
  }

 private:
  Store* store_;
  std::vector<StoredWindow> pending_;
  std::uint64_t stored_ = 0;
};

}  // namespace rollgate::coordinator
