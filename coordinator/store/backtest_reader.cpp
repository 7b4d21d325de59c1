#include "coordinator/store/backtest_reader.h"

#include <algorithm>
#include <cstdint>

#include "coordinator/store/backtest_queries.h"
#include "coordinator/store/pg.h"
#include "coordinator/store/postgres_store.h"
#include "coordinator/store/sqlite.h"

namespace rollgate::coordinator {
namespace {

constexpr const char* kRolloutColumns =
    "SELECT id, seq, service, version, finished, created_ms, state FROM rollouts ";
constexpr const char* kJournalSql = "SELECT line FROM backtest_journal WHERE rollout_id = ?1 ORDER BY id";
constexpr const char* kUsageSql = "SELECT COALESCE(SUM(bytes), 0), COUNT(*) FROM backtest_usage";

std::int64_t until(std::uint64_t untilMillis) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(untilMillis, INT64_MAX));
}

class SqliteBacktestReader final : public BacktestReader {
 public:
  explicit SqliteBacktestReader(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  Result<std::vector<RolloutRow>> rollouts(const std::string& service, std::uint64_t sinceMillis,
                                           std::uint64_t untilMillis) override {
    auto stmt = db_->prepare(std::string(kRolloutColumns) +
                             "WHERE (?1 = '' OR service = ?1) AND created_ms >= ?2 AND "
                             "created_ms < ?3 ORDER BY seq");
    if (!stmt) return stmt.error();
    stmt->bind(1, service).bind(2, static_cast<std::int64_t>(sinceMillis)).bind(3, until(untilMillis));
    std::vector<RolloutRow> out;
    while (stmt->step()) {
      out.push_back(RolloutRow{stmt->text(0), static_cast<std::uint64_t>(stmt->integer(1)),
                               stmt->text(2), stmt->text(3), stmt->integer(4) != 0,
                               static_cast<std::uint64_t>(stmt->integer(5)), stmt->text(6)});
    }
    if (auto status = stmt->status(); !status) return status.error();
    return out;
  }

  Result<std::vector<std::string>> journal(const std::string& rolloutId) override {
    auto stmt = db_->prepare(kJournalSql);
    if (!stmt) return stmt.error();
    stmt->bind(1, rolloutId);
    std::vector<std::string> lines;
    while (stmt->step()) lines.push_back(stmt->text(0));
    if (auto status = stmt->status(); !status) return status.error();
    return lines;
  }

  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) override {
    return backtest_queries::labelOf(*db_, rolloutId);
  }

  Result<std::vector<RevertRecord>> revertsOf(const std::string& service) override {
    return backtest_queries::revertsOf(*db_, service);
  }

  Result<JournalUsage> usage() override {
    JournalUsage usage;
    auto stmt = db_->prepare(kUsageSql);
    if (!stmt) return stmt.error();
    if (stmt->step()) {
      usage.bytes = static_cast<std::uint64_t>(stmt->integer(0));
      usage.rollouts = static_cast<std::uint64_t>(stmt->integer(1));
    }
    if (auto status = stmt->status(); !status) return status.error();
    auto dropped = backtest_queries::droppedRollouts(*db_);
    if (!dropped) return dropped.error();
    usage.droppedRollouts = *dropped;
    return usage;
  }

 private:
  std::unique_ptr<Database> db_;
};

// The same reads in PostgreSQL's dialect ($n parameters, a quoted "by"), over a read-only session.
class PostgresBacktestReader final : public BacktestReader {
 public:
  explicit PostgresBacktestReader(std::unique_ptr<pg::Connection> conn) : conn_(std::move(conn)) {}

  Result<std::vector<RolloutRow>> rollouts(const std::string& service, std::uint64_t sinceMillis,
                                           std::uint64_t untilMillis) override {
    auto rows = conn_->exec(std::string(kRolloutColumns) +
                                "WHERE ($1 = '' OR service = $1) AND created_ms >= $2 AND "
                                "created_ms < $3 ORDER BY seq",
                            {service, sinceMillis, until(untilMillis)});
    if (!rows) return rows.error();
    std::vector<RolloutRow> out;
    for (int i = 0; i < rows->size(); ++i) {
      out.push_back(RolloutRow{rows->text(i, 0), static_cast<std::uint64_t>(rows->integer(i, 1)),
                               rows->text(i, 2), rows->text(i, 3), rows->integer(i, 4) != 0,
                               static_cast<std::uint64_t>(rows->integer(i, 5)), rows->text(i, 6)});
    }
    return out;
  }

  Result<std::vector<std::string>> journal(const std::string& rolloutId) override {
    auto rows = conn_->exec("SELECT line FROM backtest_journal WHERE rollout_id = $1 ORDER BY id",
                            {rolloutId});
    if (!rows) return rows.error();
    std::vector<std::string> lines;
    for (int i = 0; i < rows->size(); ++i) lines.push_back(rows->text(i, 0));
    return lines;
  }

  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) override {
    auto rows = conn_->exec(kLabelOfSql, {rolloutId});
    if (!rows) return rows.error();
    return labelRow(*rows);
  }

  Result<std::vector<RevertRecord>> revertsOf(const std::string& service) override {
    auto rows = conn_->exec(kRevertsOfSql, {service});
    if (!rows) return rows.error();
    return revertRows(*rows);
  }

  Result<JournalUsage> usage() override {
    JournalUsage usage;
    auto rows = conn_->exec(kUsageSql);
    if (!rows) return rows.error();
    usage.bytes = static_cast<std::uint64_t>(rows->integer(0, 0));
    usage.rollouts = static_cast<std::uint64_t>(rows->integer(0, 1));
    auto dropped = conn_->exec("SELECT value FROM meta WHERE key = 'journal_dropped_rollouts'");
    if (!dropped) return dropped.error();
    if (!dropped->empty()) usage.droppedRollouts = std::stoull(dropped->text(0, 0));
    return usage;
  }

 private:
  std::unique_ptr<pg::Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<BacktestReader>> BacktestReader::open(const std::string& stateDir,
                                                             const std::string& storeUrl) {
  if (!storeUrl.empty()) {
    auto conn = pg::Connection::open(storeUrl);
    if (!conn) return conn.error();
    if (auto status = (*conn)->run("SET default_transaction_read_only = on"); !status) {
      return status.error();
    }
    return std::unique_ptr<BacktestReader>(new PostgresBacktestReader(std::move(*conn)));
  }
  auto db = Database::openReadOnly(stateDir + "/coordinator.db");
  if (!db) return db.error();
  return std::unique_ptr<BacktestReader>(new SqliteBacktestReader(std::move(*db)));
}

}  // namespace rollgate::coordinator
