// BacktestReader: what a backtest reads of the coordinator's store, on a connection of its own so
// that a backtest runs on a worker thread beside the coordinator's loop and cannot change stored
// state. SQLite: `<stateDir>/coordinator.db` opened read-only (SQLite refuses every write through
// it; WAL mode lets it read while the loop writes). PostgreSQL: a session of its own whose
// transactions are read-only (default_transaction_read_only). Either sees the store as of each
// query.
// Thread-safety: one thread (the worker that opened it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class BacktestReader {
 public:
  // PostgreSQL at `storeUrl` when it is set ([store] url), else SQLite in `stateDir`.
  static Result<std::unique_ptr<BacktestReader>> open(const std::string& stateDir,
                                                      const std::string& storeUrl = {});
  virtual ~BacktestReader() = default;

  struct RolloutRow {
    std::string id;
    std::uint64_t seq = 0;
    std::string service;
    std::string version;
    bool finished = false;
    std::uint64_t createdMillis = 0;
    std::string stateJson;
  };
  // Rollouts of `service` (every service when empty) created in [sinceMillis, untilMillis),
  // oldest first.
  virtual Result<std::vector<RolloutRow>> rollouts(const std::string& service,
                                                   std::uint64_t sinceMillis,
                                                   std::uint64_t untilMillis) = 0;
  // Every rollout of `service`, oldest first (for the automatic labels' later reverts).
  Result<std::vector<RolloutRow>> rolloutsOf(const std::string& service) {
    return rollouts(service, 0, UINT64_MAX);
  }
  virtual Result<std::vector<std::string>> journal(const std::string& rolloutId) = 0;
  virtual Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) = 0;
  virtual Result<std::vector<RevertRecord>> revertsOf(const std::string& service) = 0;
  virtual Result<JournalUsage> usage() = 0;
};

}  // namespace rollgate::coordinator
