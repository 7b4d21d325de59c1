// The backtest tables' reads that do not depend on the connection: the coordinator's store
// (SqliteStore) and the backtest worker's read-only connection (BacktestReader) ask them alike.
// Thread-safety: as the Database given (one thread at a time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "coordinator/store/sqlite.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator::backtest_queries {

// The operator's label of `rolloutId`, if any (table rollout_labels).
Result<std::optional<RolloutLabelRecord>> labelOf(Database& db, const std::string& rolloutId);
// Every fleet-wide revert of `service`, oldest first (table reverts).
Result<std::vector<RevertRecord>> revertsOf(Database& db, const std::string& service);
// How many rollouts' journals the size cap has dropped so far (meta journal_dropped_rollouts).
Result<std::uint64_t> droppedRollouts(Database& db);

}  // namespace rollgate::coordinator::backtest_queries
