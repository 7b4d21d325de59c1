// SqliteStore's tables of the release train (coordinator/train): train_state (one row per
// service, its state JSON), train_candidates (one row per submitted commit, its model JSON) and
// train_events (what each train did and why). A train's state and the candidates it changed are
// saved in one transaction, so a coordinator killed between two saves resumes from one or the
// other, never a mix.
#include "coordinator/store/sqlite_store.h"

namespace rollgate::coordinator {

Status SqliteStore::migrateTrain() {
  return db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS train_state(service TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS train_candidates(
      service TEXT NOT NULL, seq INTEGER NOT NULL, commit_sha TEXT NOT NULL, candidate TEXT NOT NULL,
      PRIMARY KEY(service, seq), UNIQUE(service, commit_sha));
    CREATE TABLE IF NOT EXISTS train_events(
      id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, at_ms INTEGER NOT NULL,
      kind TEXT NOT NULL, commit_sha TEXT NOT NULL, rollout_id TEXT NOT NULL,
      message TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS train_events_service ON train_events(service, id);
  )sql");
}

Result<std::vector<std::string>> SqliteStore::loadTrainStates() {
  auto stmt = db_->prepare("SELECT state FROM train_state ORDER BY service");
  if (!stmt) return stmt.error();
  std::vector<std::string> out;
  while (stmt->step()) out.push_back(stmt->text(0));
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Status SqliteStore::saveTrain(const std::string& service, const std::string& stateJson,
                              const std::vector<TrainCandidateRow>& candidates) {
  Transaction transaction(*db_);
  auto state = db_->prepare(
      "INSERT INTO train_state(service, state) VALUES(?1, ?2) "
      "ON CONFLICT(service) DO UPDATE SET state = ?2");
  if (!state) return state.error();
  state->bind(1, service).bind(2, stateJson);
  if (auto status = state->run(); !status) return status;
  auto stmt = db_->prepare(
      "INSERT INTO train_candidates(service, seq, commit_sha, candidate) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(service, seq) DO UPDATE SET commit_sha = ?3, candidate = ?4");
  if (!stmt) return stmt.error();
  for (const TrainCandidateRow& row : candidates) {
    stmt->bind(1, row.service)
        .bind(2, static_cast<std::int64_t>(row.seq))
        .bind(3, row.commit)
        .bind(4, row.json);
    if (auto status = stmt->run(); !status) return status;
    stmt->reset();
  }
  return transaction.commit();
}

Result<std::vector<TrainCandidateRow>> SqliteStore::loadCandidates(const std::string& service) {
  auto stmt = db_->prepare(
      "SELECT seq, commit_sha, candidate FROM train_candidates WHERE service = ?1 ORDER BY seq");
  if (!stmt) return stmt.error();
  stmt->bind(1, service);
  std::vector<TrainCandidateRow> out;
  while (stmt->step()) {
    out.push_back(TrainCandidateRow{service, static_cast<std::uint64_t>(stmt->integer(0)),
                                    stmt->text(1), stmt->text(2)});
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Status SqliteStore::recordTrainEvent(const TrainEventRecord& event) {
  auto stmt = db_->prepare(
      "INSERT INTO train_events(service, at_ms, kind, commit_sha, rollout_id, message) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stmt) return stmt.error();
  stmt->bind(1, event.service)
      .bind(2, static_cast<std::int64_t>(event.atMillis))
      .bind(3, event.kind)
      .bind(4, event.commit)
      .bind(5, event.rolloutId)
      .bind(6, event.message);
  return stmt->run();
}

Result<std::vector<TrainEventRecord>> SqliteStore::trainEvents(const std::string& service,
                                                               std::size_t limit) {
  auto stmt = db_->prepare(
      "SELECT at_ms, kind, commit_sha, rollout_id, message FROM "
      "(SELECT * FROM train_events WHERE service = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id");
  if (!stmt) return stmt.error();
  stmt->bind(1, service).bind(2, static_cast<std::int64_t>(limit));
  std::vector<TrainEventRecord> out;
  while (stmt->step()) {
    out.push_back(TrainEventRecord{static_cast<std::uint64_t>(stmt->integer(0)), service,
                                   stmt->text(1), stmt->text(2), stmt->text(3), stmt->text(4)});
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

}  // namespace rollgate::coordinator
