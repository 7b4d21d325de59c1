#include "coordinator/store/backtest_queries.h"

namespace rollgate::coordinator::backtest_queries {

Result<std::optional<RolloutLabelRecord>> labelOf(Database& db, const std::string& rolloutId) {
  auto stmt = db.prepare(
      "SELECT rollout_id, label, reason, by, at_ms FROM rollout_labels WHERE rollout_id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, rolloutId);
  std::optional<RolloutLabelRecord> out;
  if (stmt->step()) {
    out = RolloutLabelRecord{stmt->text(0), stmt->text(1), stmt->text(2), stmt->text(3),
                             static_cast<std::uint64_t>(stmt->integer(4))};
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::vector<RevertRecord>> revertsOf(Database& db, const std::string& service) {
  auto stmt = db.prepare(
      "SELECT id, seq, service, finished, state FROM reverts WHERE service = ?1 ORDER BY seq");
  if (!stmt) return stmt.error();
  stmt->bind(1, service);
  std::vector<RevertRecord> out;
  while (stmt->step()) {
    out.push_back(RevertRecord{stmt->text(0), static_cast<std::uint64_t>(stmt->integer(1)),
                               stmt->text(2), stmt->integer(3) != 0, stmt->text(4)});
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::uint64_t> droppedRollouts(Database& db) {
  auto meta = db.prepare("SELECT value FROM meta WHERE key = 'journal_dropped_rollouts'");
  if (!meta) return meta.error();
  std::uint64_t dropped = 0;
  if (meta->step()) dropped = std::stoull(meta->text(0));
  if (auto status = meta->status(); !status) return status.error();
  return dropped;
}

}  // namespace rollgate::coordinator::backtest_queries
