// SqliteStore's console sign-in tokens: one row per token in `console_tokens`, keyed by the
// SHA-256 of the token's text (the text itself is never stored).
#include "coordinator/store/sqlite_store.h"

namespace rollgate::coordinator {

Status SqliteStore::migrateConsole() {
  return db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS console_tokens(
      sha256 TEXT PRIMARY KEY, operator TEXT NOT NULL, role TEXT NOT NULL,
      created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, created_by TEXT NOT NULL);
  )sql");
}

Status SqliteStore::saveConsoleToken(const ConsoleTokenRecord& token) {
  auto stmt = db_->prepare(
      "INSERT INTO console_tokens(sha256, operator, role, created_ms, expires_ms, created_by) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stmt) return stmt.error();
  stmt->bind(1, token.sha256Hex)
      .bind(2, token.operatorName)
      .bind(3, token.role)
      .bind(4, static_cast<std::int64_t>(token.createdMillis))
      .bind(5, static_cast<std::int64_t>(token.expiresMillis))
      .bind(6, token.createdBy);
  return stmt->run();
}

Result<std::optional<ConsoleTokenRecord>> SqliteStore::findConsoleToken(
    const std::string& sha256Hex) {
  auto stmt = db_->prepare(
      "SELECT sha256, operator, role, created_ms, expires_ms, created_by FROM console_tokens "
      "WHERE sha256 = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, sha256Hex);
  std::optional<ConsoleTokenRecord> out;
  if (stmt->step()) {
    out = ConsoleTokenRecord{stmt->text(0),
                             stmt->text(1),
                             stmt->text(2),
                             static_cast<std::uint64_t>(stmt->integer(3)),
                             static_cast<std::uint64_t>(stmt->integer(4)),
                             stmt->text(5)};
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

}  // namespace rollgate::coordinator
