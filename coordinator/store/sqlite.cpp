#include "coordinator/store/sqlite.h"

namespace rollgate {

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_.get(), index, value);
  return *this;
}
Statement& Statement::bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bindBlob(int index, const std::string& value) {
  sqlite3_bind_blob(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bindUncopied(int index, const std::string& value) {
  sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_STATIC);
  return *this;
}
Statement& Statement::bindBlobUncopied(int index, const std::string& value) {
  sqlite3_bind_blob(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_STATIC);
  return *this;
}
Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    status_ = makeError(std::string("sqlite: ") + sqlite3_errmsg(db_) + " in: " +
                        sqlite3_sql(stmt_.get()));
  }
  return false;
}

Status Statement::run() {
  while (step()) {
  }
  return status_;
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Statement::blob(int column) const {
  const auto* data = sqlite3_column_blob(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);
  return data ? std::string(static_cast<const char*>(data), size) : std::string();
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);
  return data ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
}

Result<std::unique_ptr<Database>> Database::openWith(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return makeError("database " + path + ": " + message);
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Result<std::unique_ptr<Database>> Database::openReadOnly(const std::string& path) {
  return openWith(path, SQLITE_OPEN_READONLY);
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  return openReadWrite(path, 0);
}

Result<std::unique_ptr<Database>> Database::openForOneThread(const std::string& path) {
  return openReadWrite(path, SQLITE_OPEN_NOMUTEX);
}

Result<std::unique_ptr<Database>> Database::openReadWrite(const std::string& path, int flags) {
  auto db = openWith(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | flags);
  if (!db) return db;
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON"}) {
    if (auto status = (*db)->exec(pragma); !status) return status.error();
  }
  return db;
}

Status Database::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return makeError("database " + path_ + ": " + message + " in: " + sql.substr(0, 200));
  }
  return {};
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return makeError("database " + path_ + ": " + sqlite3_errmsg(db_.get()) + " in: " + sql);
  }
  return Statement(db_.get(), stmt);
}

Transaction::Transaction(Database& db) : db_(db), begin_(db_.exec("BEGIN IMMEDIATE")) {}

Transaction::~Transaction() {
  // Nothing to report to: whatever failed was reported by the call that failed, and SQLite rolls
  // back an open transaction when the connection closes anyway.
  if (!done_ && begin_) static_cast<void>(db_.exec("ROLLBACK").ok());
}

Status Transaction::commit() {
  if (!begin_) return begin_;
  auto status = db_.exec("COMMIT");
  if (status) done_ = true;
  return status;
}

}  // namespace rollgate
