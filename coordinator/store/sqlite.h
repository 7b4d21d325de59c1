// SQLite wrapper for the SQLite store backend (nothing else uses SQLite): RAII Database and
// Statement; errors become Results naming the SQL and the file.
// Thread-safety: a Database belongs to one thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rollgate {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt, &sqlite3_finalize) {}

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bindBlob(int index, const std::string& value);
  // Bound without a copy: `value` must stay as it is until the statement is reset.
  Statement& bindUncopied(int index, const std::string& value);
  Statement& bindBlobUncopied(int index, const std::string& value);
  Statement& bindNull(int index);
  Statement& bind(int index, double value);

  // Advances; true while a row is available. Errors are returned through `status()`.
  bool step();
  // Runs to completion (for statements without rows).
  Status run();
  // Makes the statement ready to bind and run again (bindings are replaced by the next binds).
  void reset();
  Status status() const { return status_; }

  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  double real(int column) const { return sqlite3_column_double(stmt_.get(), column); }
  std::string text(int column) const;
  std::string blob(int column) const;
  bool isNull(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt_;
  Status status_;
};

class Database {
 public:
  // Opens (creating) `path` in WAL mode with synchronous=FULL and a busy timeout.
  static Result<std::unique_ptr<Database>> open(const std::string& path);
  // open() for a connection only ever used by one thread at a time: without SQLite's own mutexes
  // (SQLITE_OPEN_NOMUTEX).
  static Result<std::unique_ptr<Database>> openForOneThread(const std::string& path);
  // Opens an existing `path` read-only (SQLITE_OPEN_READONLY): every write through it fails.
  static Result<std::unique_ptr<Database>> openReadOnly(const std::string& path);

  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  std::int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }
  std::int64_t changes() const { return sqlite3_changes64(db_.get()); }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db, &sqlite3_close_v2), path_(std::move(path)) {}
  // sqlite3_open_v2 with `flags` and the busy timeout, or the error naming the path.
  static Result<std::unique_ptr<Database>> openWith(const std::string& path, int flags);
  // openWith() read-write (adding `flags`), then WAL, synchronous=FULL and foreign keys.
  static Result<std::unique_ptr<Database>> openReadWrite(const std::string& path, int flags);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_;
  std::string path_;
};

// Begins a transaction; rolls back on destruction unless commit() succeeded. A failed BEGIN is
// returned by commit().
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Status commit();

 private:
  Database& db_;
  Status begin_;
  bool done_ = false;
};

}  // namespace rollgate
