// BacktestReader: what a backtest reads of the coordinator's store, on a connection of its own
// opened read-only (SQLite refuses every write through it), so that a backtest runs on a worker
// thread beside the coordinator's loop and cannot change stored state. WAL mode lets it read
// while the loop writes; it sees the store as of each query.
// Thread-safety: one thread (the worker that opened it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "coordinator/store/sqlite.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class BacktestReader {
 public:
  // Opens `<stateDir>/coordinator.db` read-only.
  static Result<std::unique_ptr<BacktestReader>> open(const std::string& stateDir);

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
  Result<std::vector<RolloutRow>> rollouts(const std::string& service, std::uint64_t sinceMillis,
                                           std::uint64_t untilMillis);
  // Every rollout of `service`, oldest first (for the automatic labels' later reverts).
  Result<std::vector<RolloutRow>> rolloutsOf(const std::string& service);
  Result<std::vector<std::string>> journal(const std::string& rolloutId);
  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId);
  Result<std::vector<RevertRecord>> revertsOf(const std::string& service);
  Result<JournalUsage> usage();

 private:
  explicit BacktestReader(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::unique_ptr<Database> db_;
};

}  // namespace rollgate::coordinator
