#include "coordinator/store/backtest_reader.h"

#include <algorithm>
#include <cstdint>

#include "coordinator/store/backtest_queries.h"

namespace rollgate::coordinator {
namespace {

constexpr const char* kRolloutColumns =
    "SELECT id, seq, service, version, finished, created_ms, state FROM rollouts ";

BacktestReader::RolloutRow rolloutRow(const Statement& stmt) {
  return BacktestReader::RolloutRow{stmt.text(0),
                                    static_cast<std::uint64_t>(stmt.integer(1)),
                                    stmt.text(2),
                                    stmt.text(3),
                                    stmt.integer(4) != 0,
                                    static_cast<std::uint64_t>(stmt.integer(5)),
                                    stmt.text(6)};
}

}  // namespace

Result<std::unique_ptr<BacktestReader>> BacktestReader::open(const std::string& stateDir) {
  auto db = Database::openReadOnly(stateDir + "/coordinator.db");
  if (!db) return db.error();
  return std::unique_ptr<BacktestReader>(new BacktestReader(std::move(*db)));
}

Result<std::vector<BacktestReader::RolloutRow>> BacktestReader::rollouts(
    const std::string& service, std::uint64_t sinceMillis, std::uint64_t untilMillis) {
  auto stmt = db_->prepare(std::string(kRolloutColumns) +
                           "WHERE (?1 = '' OR service = ?1) AND created_ms >= ?2 AND "
                           "created_ms < ?3 ORDER BY seq");
  if (!stmt) return stmt.error();
  stmt->bind(1, service)
      .bind(2, static_cast<std::int64_t>(sinceMillis))
      .bind(3, static_cast<std::int64_t>(std::min<std::uint64_t>(untilMillis, INT64_MAX)));
  std::vector<RolloutRow> out;
  while (stmt->step()) out.push_back(rolloutRow(*stmt));
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::vector<BacktestReader::RolloutRow>> BacktestReader::rolloutsOf(
    const std::string& service) {
  return rollouts(service, 0, UINT64_MAX);
}

Result<std::vector<std::string>> BacktestReader::journal(const std::string& rolloutId) {
  auto stmt = db_->prepare("SELECT line FROM backtest_journal WHERE rollout_id = ?1 ORDER BY id");
  if (!stmt) return stmt.error();
  stmt->bind(1, rolloutId);
  std::vector<std::string> lines;
  while (stmt->step()) lines.push_back(stmt->text(0));
  if (auto status = stmt->status(); !status) return status.error();
  return lines;
}

Result<std::optional<RolloutLabelRecord>> BacktestReader::labelOf(const std::string& rolloutId) {
  return backtest_queries::labelOf(*db_, rolloutId);
}

Result<std::vector<RevertRecord>> BacktestReader::revertsOf(const std::string& service) {
  return backtest_queries::revertsOf(*db_, service);
}

Result<JournalUsage> BacktestReader::usage() {
  JournalUsage usage;
  auto stmt = db_->prepare("SELECT COALESCE(SUM(bytes), 0), COUNT(*) FROM backtest_usage");
  if (!stmt) return stmt.error();
  if (stmt->step()) {
    usage.bytes = static_cast<std::uint64_t>(stmt->integer(0));
    usage.rollouts = static_cast<std::uint64_t>(stmt->integer(1));
  }
  if (auto status = stmt->status(); !status) return status.error();
  auto dropped = backtest_queries::droppedRollouts(*db_);
  if (!dropped) return dropped.error();
  usage.droppedRollouts = *dropped;
  return usage;
}

}  // namespace rollgate::coordinator
