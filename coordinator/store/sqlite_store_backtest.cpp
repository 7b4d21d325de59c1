// SqliteStore's backtest tables: each rollout's journal (rollout/journal.h) one line a row in
// `backtest_journal`, the bytes each rollout's journal takes in `backtest_usage` (so that keeping
// the cap reads a row per rollout, not every line), and operators' labels in `rollout_labels`.
#include "coordinator/store/backtest_queries.h"
#include "coordinator/store/sqlite_store.h"

namespace rollgate::coordinator {

Status SqliteStore::migrateBacktest() {
  return db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS backtest_journal(
      id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, line TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS backtest_journal_rollout ON backtest_journal(rollout_id, id);
    CREATE TABLE IF NOT EXISTS backtest_usage(
      rollout_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS rollout_labels(
      rollout_id TEXT PRIMARY KEY, label TEXT NOT NULL, reason TEXT NOT NULL, by TEXT NOT NULL,
      at_ms INTEGER NOT NULL);
    INSERT OR IGNORE INTO meta(key, value) VALUES('journal_dropped_rollouts', '0');
  )sql");
}

Status SqliteStore::appendJournal(const std::string& rolloutId,
                                  const std::vector<std::string>& lines) {
  if (lines.empty()) return {};
  Transaction tx(*db_);
  auto insert = db_->prepare("INSERT INTO backtest_journal(rollout_id, line) VALUES(?1, ?2)");
  if (!insert) return insert.error();
  std::int64_t bytes = 0;
  for (const auto& line : lines) {
    insert->reset();
    insert->bind(1, rolloutId).bind(2, line);
    if (auto status = insert->run(); !status) return status;
    bytes += static_cast<std::int64_t>(line.size());
  }
  auto usage = db_->prepare(
      "INSERT INTO backtest_usage(rollout_id, bytes) VALUES(?1, ?2) "
      "ON CONFLICT(rollout_id) DO UPDATE SET bytes = bytes + ?2");
  if (!usage) return usage.error();
  usage->bind(1, rolloutId).bind(2, bytes);
  if (auto status = usage->run(); !status) return status;
  return tx.commit();
}

Result<JournalUsage> SqliteStore::pruneJournals(std::uint64_t capBytes) {
  // Oldest first: by the rollout's sequence number; unfinished rollouts are never dropped.
  auto rows = db_->prepare(
      "SELECT u.rollout_id, u.bytes, COALESCE(r.finished, 1) FROM backtest_usage u "
      "LEFT JOIN rollouts r ON r.id = u.rollout_id ORDER BY COALESCE(r.seq, 0), u.rollout_id");
  if (!rows) return rows.error();
  std::vector<std::pair<std::string, std::uint64_t>> finished;
  JournalUsage usage;
  while (rows->step()) {
    usage.bytes += static_cast<std::uint64_t>(rows->integer(1));
    usage.rollouts += 1;
    if (rows->integer(2) != 0) {
      finished.emplace_back(rows->text(0), static_cast<std::uint64_t>(rows->integer(1)));
    }
  }
  if (auto status = rows->status(); !status) return status.error();
  std::uint64_t dropped = 0;
  if (usage.bytes > capBytes) {
    Transaction tx(*db_);
    auto lines = db_->prepare("DELETE FROM backtest_journal WHERE rollout_id = ?1");
    auto entry = db_->prepare("DELETE FROM backtest_usage WHERE rollout_id = ?1");
    if (!lines) return lines.error();
    if (!entry) return entry.error();
    for (const auto& [id, bytes] : finished) {
      if (usage.bytes <= capBytes) break;
      lines->reset();
      lines->bind(1, id);
      if (auto status = lines->run(); !status) return status.error();
      entry->reset();
      entry->bind(1, id);
      if (auto status = entry->run(); !status) return status.error();
      usage.bytes -= bytes;
      usage.rollouts -= 1;
      dropped += 1;
    }
    auto count = db_->prepare(
        "UPDATE meta SET value = CAST(value AS INTEGER) + ?1 WHERE key = 'journal_dropped_rollouts'");
    if (!count) return count.error();
    count->bind(1, static_cast<std::int64_t>(dropped));
    if (auto status = count->run(); !status) return status.error();
    if (auto status = tx.commit(); !status) return status.error();
  }
  auto droppedSoFar = backtest_queries::droppedRollouts(*db_);
  if (!droppedSoFar) return droppedSoFar.error();
  usage.droppedRollouts = *droppedSoFar;
  return usage;
}

Status SqliteStore::saveLabel(const RolloutLabelRecord& label) {
  auto stmt = db_->prepare(
      "INSERT INTO rollout_labels(rollout_id, label, reason, by, at_ms) VALUES(?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(rollout_id) DO UPDATE SET label = ?2, reason = ?3, by = ?4, at_ms = ?5");
  if (!stmt) return stmt.error();
  stmt->bind(1, label.rolloutId)
      .bind(2, label.label)
      .bind(3, label.reason)
      .bind(4, label.by)
      .bind(5, static_cast<std::int64_t>(label.atMillis));
  return stmt->run();
}

Result<std::optional<RolloutLabelRecord>> SqliteStore::labelOf(const std::string& rolloutId) {
  return backtest_queries::labelOf(*db_, rolloutId);
}

Result<std::vector<RevertRecord>> SqliteStore::revertsOf(const std::string& service) {
  return backtest_queries::revertsOf(*db_, service);
}

}  // namespace rollgate::coordinator
