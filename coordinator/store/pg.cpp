#include "coordinator/store/pg.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <regex>

namespace rollgate::pg {

std::string redactUrl(const std::string& url) {
  // postgresql://user:secret@host/db and postgresql://host/db?password=secret; a key=value
  // connection string's password=secret too.
  static const std::regex userinfo(R"(^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):[^@/?#]*@)");
  static const std::regex parameter(R"((password=)[^&\s]*)");
  std::string out = std::regex_replace(url, userinfo, "$1:***@");
  return std::regex_replace(out, parameter, "$1***");
}

Param::Param(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  value = buffer;
}

std::string Rows::text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return value == nullptr ? std::string() : std::string(value, PQgetlength(result_.get(), row, column));
}

std::int64_t Rows::integer(int row, int column) const {
  if (isNull(row, column)) return 0;
  return std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
}

double Rows::real(int row, int column) const {
  if (isNull(row, column)) return 0;
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

std::string Rows::bytes(int row, int column) const {
  if (isNull(row, column)) return {};
  std::size_t length = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column)), &length);
  if (raw == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

std::uint64_t Rows::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples == nullptr || *tuples == '\0' ? 0 : std::strtoull(tuples, nullptr, 10);
}

PGconn* Connection::connectWith(const std::string& url, int ioTimeoutSeconds) {
  const std::string timeout = std::to_string(ioTimeoutSeconds);
  const std::string userTimeout = std::to_string(ioTimeoutSeconds * 1000);
  const std::string interval = std::to_string(std::max(1, ioTimeoutSeconds / 3));
  // A statement waits at most this long for a lock (the lease row during a takeover) and runs at
  // most 30 s; a session left idle inside a transaction (a coordinator that stopped mid-write) is
  // ended by the server, so its locks never block a takeover for long.
  const std::string options = "-c lock_timeout=" + userTimeout +
                              " -c statement_timeout=30000 -c idle_in_transaction_session_timeout=" +
                              userTimeout;
  const char* keys[] = {"dbname",          "connect_timeout", "keepalives",
                        "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "application_name", "options", nullptr};
  const char* values[] = {url.c_str(),      timeout.c_str(),     "1",
                          interval.c_str(), interval.c_str(),    "3",
                          userTimeout.c_str(), "rollgate-coordinator", options.c_str(), nullptr};
  return PQconnectdbParams(keys, values, /*expand_dbname=*/1);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url, int ioTimeoutSeconds) {
  PGconn* conn = connectWith(url, ioTimeoutSeconds);
  std::string redacted = redactUrl(url);
  if (conn == nullptr) return makeError("PostgreSQL " + redacted + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    PQfinish(conn);
    return makeError("cannot connect to PostgreSQL " + redacted + ": " + message);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(
      new Connection(conn, url, std::move(redacted), ioTimeoutSeconds * 1000));
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::reset() {
  if (ok()) return true;
  PQfinish(conn_);
  conn_ = connectWith(url_, ioTimeoutMillis_ / 1000);
  if (ok()) PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return ok();
}

Error Connection::error(const std::string& what, PGresult* result) const {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty() && !timedOutWhat_.empty()) {
    message = "no answer within " + std::to_string(ioTimeoutMillis_ / 1000) +
              " s; connection closed";
  }
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string sql = what.substr(0, 60);
  for (char& c : sql) {
    if (c == '\n') c = ' ';
  }
  return makeError("PostgreSQL " + redacted_ + ": " + message + " (in: " + sql +
                   (what.size() > 60 ? "...)" : ")"));
}

// Sends with libpq's asynchronous calls and waits for the answer at most ioTimeoutMillis_: a
// server that stops answering on a connection that stays open (a cut link whose packets are still
// acknowledged somewhere, a frozen server) fails the call instead of blocking the loop. The
// connection is then closed, so that the server ends the session and its transaction, and the next
// call connects again.
PGresult* Connection::await(const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ioTimeoutMillis_);
  while (PQflush(conn_) == 1) {
    if (!waitSocket(POLLOUT | POLLIN, deadline)) return timedOut(what);
    if (PQconsumeInput(conn_) == 0) break;
  }
  PGresult* last = nullptr;
  while (true) {
    while (PQisBusy(conn_) != 0) {
      if (!waitSocket(POLLIN, deadline)) {
        PQclear(last);
        return timedOut(what);
      }
      if (PQconsumeInput(conn_) == 0) break;
    }
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) return last;
    // Several statements in one run(): the first error wins, else the last result.
    if (last != nullptr && PQresultStatus(last) == PGRES_FATAL_ERROR) {
      PQclear(result);
      continue;
    }
    PQclear(last);
    last = result;
  }
}

bool Connection::waitSocket(short events, std::chrono::steady_clock::time_point deadline) {
  const int fd = PQsocket(conn_);
  if (fd < 0) return false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd item{fd, events, 0};
    int n = ::poll(&item, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

PGresult* Connection::timedOut(const std::string& what) {
  timedOutWhat_ = what;
  // Closing the socket ends the session on the server as soon as it notices, and with it any
  // transaction (and lock) this call left open.
  PQfinish(conn_);
  conn_ = nullptr;  // ok() is false until reset() connects again
  return nullptr;
}

Result<Rows> Connection::exec(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  values.reserve(params.size());
  for (const Param& p : params) {
    values.push_back(p.isNull ? nullptr : p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  timedOutWhat_.clear();
  if (conn_ == nullptr) return makeError("PostgreSQL " + redacted_ + ": not connected");
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                        values.data(), lengths.data(), formats.data(), /*text rows*/ 0) == 0) {
    return error(sql, nullptr);
  }
  return answer(sql);
}

Status Connection::run(const std::string& sql) {
  timedOutWhat_.clear();
  if (conn_ == nullptr) return makeError("PostgreSQL " + redacted_ + ": not connected");
  if (PQsendQuery(conn_, sql.c_str()) == 0) return error(sql, nullptr);
  auto rows = answer(sql);
  if (!rows) return rows.error();
  return {};
}

BinaryCopyRows::BinaryCopyRows() {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and its terminating zero byte
  data_.assign(kSignature, sizeof kSignature);
  integer(0, 4);  // flags: no OIDs
  integer(0, 4);  // no header extension
}

void BinaryCopyRows::integer(std::uint64_t value, int octets) {
  for (int shift = (octets - 1) * 8; shift >= 0; shift -= 8) {
    data_.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void BinaryCopyRows::beginRow(std::int16_t fields) {
  integer(static_cast<std::uint16_t>(fields), 2);
}

void BinaryCopyRows::bytes(std::string_view value) {
  integer(value.size(), 4);
  data_.append(value);
}

void BinaryCopyRows::int8(std::int64_t value) {
  integer(8, 4);
  integer(static_cast<std::uint64_t>(value), 8);
}

const std::string& BinaryCopyRows::finish() {
  integer(0xffff, 2);  // the trailer: a field count of -1
  return data_;
}

Status Connection::copyIn(const std::string& sql, const std::string& data) {
  timedOutWhat_.clear();
  if (conn_ == nullptr) return makeError("PostgreSQL " + redacted_ + ": not connected");
  if (PQsendQuery(conn_, sql.c_str()) == 0) return error(sql, nullptr);
  // The first answer says whether the server takes the data (await() would wait past it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ioTimeoutMillis_);
  while (PQisBusy(conn_) != 0) {
    if (!waitSocket(POLLIN, deadline)) {
      timedOut(sql);
      return error(sql, nullptr);
    }
    if (PQconsumeInput(conn_) == 0) break;
  }
  PGresult* started = PQgetResult(conn_);
  if (started == nullptr || PQresultStatus(started) != PGRES_COPY_IN) {
    Error e = error(sql, started);
    PQclear(started);
    PQclear(await(sql));  // the rest of the answer, so that the connection can be used again
    return e;
  }
  PQclear(started);
  constexpr std::size_t kPiece = 1 << 20;
  for (std::size_t at = 0; at < data.size(); at += kPiece) {
    const int size = static_cast<int>(std::min(kPiece, data.size() - at));
    if (PQputCopyData(conn_, data.data() + at, size) != 1) return error(sql, nullptr);
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return error(sql, nullptr);
  auto rows = answer(sql);
  if (!rows) return rows.error();
  return {};
}

Result<Rows> Connection::answer(const std::string& sql) {
  PGresult* result = await(sql);
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = error(sql, result);
    PQclear(result);
    return e;
  }
  return Rows(result);
}

Transaction::Transaction(Connection& connection, const std::string& begin)
    : connection_(connection), begin_(connection.run(begin)) {
  // A failed begin may have opened the transaction (BEGIN ran, a lock after it did not).
  if (!begin_) (void)connection_.run("ROLLBACK");
}

Transaction::~Transaction() {
  if (!done_ && begin_) (void)connection_.run("ROLLBACK");
}

Status Transaction::commit() {
  if (!begin_) return begin_;
  done_ = true;
  return connection_.run("COMMIT");
}

}  // namespace rollgate::pg
