// libpq wrapper for the PostgreSQL store backend and the leader lease (nothing else talks to
// PostgreSQL): an RAII connection, parameterised statements (text parameters, text results;
// bytea as binary parameters and results) and a transaction guard. Errors become Results with
// PostgreSQL's own message and the URL without its password.
// Thread-safety: a PgConnection belongs to one thread.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::pg {

// `url` with the password (in the userinfo or a password= parameter) replaced by "***", for
// messages and logs.
std::string redactUrl(const std::string& url);

// One parameter: text, or bytes sent as binary (bytea), or SQL NULL.
struct Param {
  Param(std::string v) : value(std::move(v)) {}  // NOLINT: implicit, as a parameter list reads
  Param(const char* v) : value(v) {}             // NOLINT
  Param(std::int64_t v) : value(std::to_string(v)) {}  // NOLINT
  Param(std::uint64_t v) : value(std::to_string(v)) {}  // NOLINT
  Param(int v) : value(std::to_string(v)) {}  // NOLINT
  Param(double v);  // NOLINT
  Param(bool v) : value(v ? "true" : "false") {}  // NOLINT
  static Param bytes(std::string v) {
    Param p(std::move(v));
    p.binary = true;
    return p;
  }
  static Param null() {
    Param p("");
    p.isNull = true;
    return p;
  }
  std::string value;
  bool binary = false;
  bool isNull = false;
};

// The rows of one statement. Columns are read as text except bytea columns read with bytes().
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  double real(int row, int column) const;
  bool isNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // A bytea column in the text result format (\x hex), decoded.
  std::string bytes(int row, int column) const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::uint64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// Rows for `COPY ... FROM STDIN (FORMAT binary)`: PostgreSQL's bulk-load format, in which nothing
// is escaped by the client or parsed by the server (fields go as their length and their bytes,
// integers in network byte order). A text field's bytes are checked by the server as text of the
// connection's encoding, as in any other statement.
class BinaryCopyRows {
 public:
  BinaryCopyRows();  // the format's header
  void reserve(std::size_t bytes) { data_.reserve(bytes); }
  void beginRow(std::int16_t fields);
  void text(std::string_view value) { bytes(value); }
  void bytes(std::string_view value);
  void int8(std::int64_t value);
  // The data with the format's trailer; the builder is done.
  const std::string& finish();

 private:
  void integer(std::uint64_t value, int octets);
  std::string data_;
};

class Connection {
 public:
  // Connects with libpq's own timeouts and TCP settings tightened (connect_timeout, TCP keepalives,
  // tcp_user_timeout), and every call waits at most `ioTimeoutSeconds` for its answer, so a lost or
  // silent server fails a call instead of hanging. Errors carry PostgreSQL's message and the
  // redacted URL.
  static Result<std::unique_ptr<Connection>> open(const std::string& url,
                                                  int ioTimeoutSeconds = 5);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with parameters $1..$n. An error names the first words of the SQL.
  Result<Rows> exec(const std::string& sql, const std::vector<Param>& params = {});
  // Runs one or more statements without parameters (schema, BEGIN, COMMIT).
  Status run(const std::string& sql);
  // Runs `sql`, a COPY ... FROM STDIN, with `data` as its input (BinaryCopyRows for FORMAT binary).
  Status copyIn(const std::string& sql, const std::string& data);
  // False once the connection is gone; reset() tries to connect again.
  bool ok() const;
  bool reset();
  const std::string& redactedUrl() const { return redacted_; }
  const std::string& url() const { return url_; }

 private:
  Connection(PGconn* conn, std::string url, std::string redacted, int ioTimeoutMillis)
      : conn_(conn), url_(std::move(url)), redacted_(std::move(redacted)),
        ioTimeoutMillis_(ioTimeoutMillis) {}
  static PGconn* connectWith(const std::string& url, int ioTimeoutSeconds);
  Error error(const std::string& what, PGresult* result) const;
  // The result of the statement(s) just sent, or nullptr when no answer came in time.
  PGresult* await(const std::string& what);
  // await() as rows, or the error naming `sql`.
  Result<Rows> answer(const std::string& sql);
  bool waitSocket(short events, std::chrono::steady_clock::time_point deadline);
  PGresult* timedOut(const std::string& what);
  PGconn* conn_;
  std::string url_;
  std::string redacted_;
  int ioTimeoutMillis_;
  std::string timedOutWhat_;  // the SQL of the call that timed out (for its error)
};

// BEGIN on construction (through `begin`, which may also take locks); ROLLBACK on destruction
// unless commit() succeeded. A failed begin is returned by commit() and by status().
class Transaction {
 public:
  Transaction(Connection& connection, const std::string& begin = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& status() const { return begin_; }
  Status commit();

 private:
  Connection& connection_;
  Status begin_;
  bool done_ = false;
};

}  // namespace rollgate::pg
