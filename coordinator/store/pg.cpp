#include "coordinator/store/pg.h"

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

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url, int ioTimeoutSeconds) {
  const std::string timeout = std::to_string(ioTimeoutSeconds);
  const std::string userTimeout = std::to_string(ioTimeoutSeconds * 1000);
  const std::string interval = std::to_string(std::max(1, ioTimeoutSeconds / 3));
  // A statement waits at most this long for a lock (the lease row during a takeover) and runs
  // at most 30 s: the coordinator's loop never blocks for longer on one call.
  const std::string options = "-c lock_timeout=" + userTimeout + " -c statement_timeout=30000";
  const char* keys[] = {"dbname",          "connect_timeout", "keepalives",
                        "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "application_name", "options", nullptr};
  const char* values[] = {url.c_str(),      timeout.c_str(),     "1",
                          interval.c_str(), interval.c_str(),    "3",
                          userTimeout.c_str(), "rollgate-coordinator", options.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
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
  return std::unique_ptr<Connection>(new Connection(conn, url, std::move(redacted)));
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

bool Connection::reset() {
  PQreset(conn_);
  return ok();
}

Error Connection::error(const std::string& what, PGresult* result) const {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string sql = what.substr(0, 60);
  for (char& c : sql) {
    if (c == '\n') c = ' ';
  }
  return makeError("PostgreSQL " + redacted_ + ": " + message + " (in: " + sql +
                   (what.size() > 60 ? "...)" : ")"));
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
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                  values.data(), lengths.data(), formats.data(), /*text rows*/ 0);
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = error(sql, result);
    PQclear(result);
    return e;
  }
  return Rows(result);
}

Status Connection::run(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = error(sql, result);
    PQclear(result);
    return e;
  }
  PQclear(result);
  return {};
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
