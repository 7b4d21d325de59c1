// SqliteStore's fleet-wide reverts: one row per revert in `reverts`, its state as JSON (the
// coordinator's revertToJson), with the columns that listing and resumption need.
#include "coordinator/store/sqlite_store.h"

namespace rollgate::coordinator {

Status SqliteStore::migrateReverts() {
  return db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS reverts(
      id TEXT PRIMARY KEY, seq INTEGER NOT NULL, service TEXT NOT NULL,
      finished INTEGER NOT NULL, state TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS reverts_unfinished ON reverts(finished, seq);
  )sql");
}

Result<std::uint64_t> SqliteStore::nextRevertSeq() {
  auto stmt = db_->prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM reverts");
  if (!stmt) return stmt.error();
  std::uint64_t next = 1;
  if (stmt->step()) next = static_cast<std::uint64_t>(stmt->integer(0));
  if (auto status = stmt->status(); !status) return status.error();
  return next;
}

Status SqliteStore::saveRevert(const RevertRecord& revert) {
  auto stmt = db_->prepare(
      "INSERT INTO reverts(id, seq, service, finished, state) VALUES(?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(id) DO UPDATE SET finished = ?4, state = ?5");
  if (!stmt) return stmt.error();
  stmt->bind(1, revert.id)
      .bind(2, static_cast<std::int64_t>(revert.seq))
      .bind(3, revert.service)
      .bind(4, static_cast<std::int64_t>(revert.finished ? 1 : 0))
      .bind(5, revert.stateJson);
  return stmt->run();
}

namespace {

RevertRecord revertRow(const Statement& stmt) {
  return RevertRecord{stmt.text(0), static_cast<std::uint64_t>(stmt.integer(1)), stmt.text(2),
                      stmt.integer(3) != 0, stmt.text(4)};
}

}  // namespace

Result<std::optional<RevertRecord>> SqliteStore::loadRevert(const std::string& id) {
  auto stmt = db_->prepare("SELECT id, seq, service, finished, state FROM reverts WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  std::optional<RevertRecord> out;
  if (stmt->step()) out = revertRow(*stmt);
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::vector<RevertRecord>> SqliteStore::unfinishedReverts() {
  auto stmt = db_->prepare(
      "SELECT id, seq, service, finished, state FROM reverts WHERE finished = 0 ORDER BY seq");
  if (!stmt) return stmt.error();
  std::vector<RevertRecord> out;
  while (stmt->step()) out.push_back(revertRow(*stmt));
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

}  // namespace rollgate::coordinator
