// TelemetryStore: the coordinator's record of every telemetry window agents report. Windows are
// appended in batches (one SQLite transaction per batch, so ingest keeps up with a large fleet),
// kept for a retention period, and read back for `rollgate telemetry`, the gates and backtesting.
// A window is stored whole (its encoded form) plus the columns queries filter on.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace rollgate::coordinator {

struct StoredWindow {
  std::string host;
  TelemetryWindow window;
};

class TelemetryStore {
 public:
  // Creates the table if needed. `db` must outlive the store.
  static Result<TelemetryStore> open(Database& db);

  // Queues a window from `host`; flush() writes everything queued in one transaction.
  void add(const std::string& host, TelemetryWindow window);
  Status flush();
  std::size_t pending() const { return pending_.size(); }
  std::uint64_t stored() const { return stored_; }

  // The newest `last` windows of host/service (any service if empty), oldest first.
  Result<std::vector<TelemetryWindow>> latest(const std::string& host, const std::string& service,
                                              std::uint32_t last);
  // Windows of `service` from any host whose end is after `sinceMillis`, oldest first.
  Result<std::vector<StoredWindow>> since(const std::string& service, std::uint64_t sinceMillis);
  // Deletes windows that ended before `beforeMillis`; returns how many.
  Result<std::uint64_t> prune(std::uint64_t beforeMillis);

 private:
  explicit TelemetryStore(Database& db) : db_(&db) {}
  Database* db_;
  std::vector<StoredWindow> pending_;
  std::uint64_t stored_ = 0;
};

}  // namespace rollgate::coordinator
