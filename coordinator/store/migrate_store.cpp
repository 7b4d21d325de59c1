#include "coordinator/store/migrate_store.h"

#include <fstream>
#include <set>
#include <vector>

#include "coordinator/store/leader_lease.h"
#include "coordinator/store/postgres_store.h"
#include "coordinator/store/sqlite.h"
#include "coordinator/store/sqlite_store.h"

namespace rollgate::coordinator {
namespace {

struct TableCopy {
  const char* table;
  std::vector<const char*> columns;
  std::set<std::string> blobs;  // BLOB in SQLite, BYTEA in PostgreSQL
  const char* serial;           // the BIGSERIAL column whose sequence follows the copied ids
};

// Every table both backends keep (meta is copied apart: its epoch becomes the lease's).
const std::vector<TableCopy>& tables() {
  static const std::vector<TableCopy> all = {
      {"hosts", {"name", "region", "cluster", "agent_version", "services", "last_contact_ms",
                 "claimed_host"}, {}, nullptr},
      {"events", {"id", "at_ms", "kind", "host", "rollout_id", "message"}, {}, "id"},
      {"aborts", {"id", "state"}, {}, nullptr},
      {"rollouts", {"id", "seq", "service", "version", "status", "finished", "created_ms",
                    "updated_ms", "state", "command_refs", "started_by"}, {}, nullptr},
      {"checks", {"id", "rollout_id", "at_ms", "step", "stage", "batch", "batches", "region",
                  "canary_hosts", "comparison_hosts", "name", "verdict", "p_value", "statistic",
                  "result"}, {}, "id"},
      {"reverts", {"id", "seq", "service", "finished", "state"}, {}, nullptr},
      {"train_state", {"service", "state"}, {}, nullptr},
      {"train_candidates", {"service", "seq", "commit_sha", "candidate"}, {}, nullptr},
      {"train_events", {"id", "service", "at_ms", "kind", "commit_sha", "rollout_id", "message"},
       {}, "id"},
      {"console_tokens", {"sha256", "operator", "role", "created_ms", "expires_ms", "created_by"},
       {}, nullptr},
      {"backtest_journal", {"id", "rollout_id", "line"}, {}, "id"},
      {"backtest_usage", {"rollout_id", "bytes"}, {}, nullptr},
      {"rollout_labels", {"rollout_id", "label", "reason", "by", "at_ms"}, {}, nullptr},
      {"artifacts", {"service", "version", "sha256", "size_bytes", "signature", "pushed_ms",
                     "pushed_by"}, {"signature"}, nullptr},
      {"telemetry", {"id", "host", "service", "release", "start_ms", "end_ms", "requests",
                     "status_5xx", "window"}, {"window"}, "id"},
  };
  return all;
}

std::string quoted(const std::string& column) { return "\"" + column + "\""; }

}  // namespace

Result<std::string> migrateSqliteToPostgres(
    const std::string& stateDir, const std::string& url,
    const std::function<void(const std::string&)>& progress) {
  // Opening the SQLite store takes its lock (no coordinator may be running on it) and brings an
  // older layout up to date; the copy then reads through a read-only connection.
  auto sqliteStore = SqliteStore::open(stateDir);
  if (!sqliteStore) return sqliteStore.error();
  const std::uint64_t sqliteEpoch = (*sqliteStore)->epoch();
  auto source = Database::openReadOnly(stateDir + "/coordinator.db");
  if (!source) return source.error();
  auto target = PostgresStore::openUnfenced(url);
  if (!target) return target.error();
  pg::Connection& pgc = (*target)->connection();

  // The lease row stays locked until the copy commits: no coordinator can take over meanwhile.
  pg::Transaction tx(pgc);
  if (!tx.status()) return tx.status().error();
  auto lease = pgc.exec(
      "SELECT epoch, holder <> '' AND expires_at > clock_timestamp(), coordinator_id "
      "FROM rollgate_lease WHERE name = 'leader' FOR UPDATE");
  if (!lease) return lease.error();
  if (!lease->empty() && lease->text(0, 1) == "t") {
    return makeError("coordinator " + lease->text(0, 2) + " leads on " + pgc.redactedUrl() +
                     "; stop every coordinator that uses it before migrating");
  }
  for (const char* table : {"hosts", "rollouts", "events", "artifacts"}) {
    auto count = pgc.exec(std::string("SELECT count(*) FROM ") + table);
    if (!count) return count.error();
    if (count->integer(0, 0) > 0) {
      return makeError(pgc.redactedUrl() + " already holds rollgate state (" +
                       std::to_string(count->integer(0, 0)) + " rows in " + table +
                       "); migrate into an empty database");
    }
  }

  std::string summary;
  for (const TableCopy& copy : tables()) {
    std::string select = "SELECT ";
    std::string insert = std::string("INSERT INTO ") + copy.table + "(";
    std::string values;
    for (std::size_t i = 0; i < copy.columns.size(); ++i) {
      select += (i ? ", " : "") + quoted(copy.columns[i]);
      insert += (i ? ", " : "") + quoted(copy.columns[i]);
      values += (i ? ", $" : "$") + std::to_string(i + 1);
    }
    select += std::string(" FROM ") + copy.table + " ORDER BY rowid";
    insert += ") VALUES(" + values + ")";
    auto rows = (*source)->prepare(select);
    if (!rows) return rows.error();
    std::uint64_t copied = 0;
    while (rows->step()) {
      std::vector<pg::Param> params;
      for (std::size_t i = 0; i < copy.columns.size(); ++i) {
        const int column = static_cast<int>(i);
        if (rows->isNull(column)) {
          params.push_back(pg::Param::null());
        } else if (copy.blobs.count(copy.columns[i]) > 0) {
          params.push_back(pg::Param::bytes(rows->blob(column)));
        } else {
          params.push_back(pg::Param(rows->text(column)));
        }
      }
      auto inserted = pgc.exec(insert, params);
      if (!inserted) return makeError(std::string(copy.table) + ": " + inserted.error().message);
      ++copied;
      if (copied % 50'000 == 0 && progress) {
        progress(std::string(copy.table) + ": " + std::to_string(copied) + " rows so far");
      }
    }
    if (auto status = rows->status(); !status) return status.error();
    if (copy.serial != nullptr) {
      auto sequence = pgc.exec(std::string("SELECT setval(pg_get_serial_sequence('") + copy.table +
                               "', '" + copy.serial + "'), GREATEST((SELECT MAX(" + copy.serial +
                               ") FROM " + copy.table + "), 1))");
      if (!sequence) return sequence.error();
    }
    if (progress) progress(std::string(copy.table) + ": " + std::to_string(copied) + " rows");
    summary += (summary.empty() ? "" : ", ") + std::to_string(copied) + " " + copy.table;
  }

  auto meta = (*source)->prepare("SELECT key, value FROM meta WHERE key <> 'epoch'");
  if (!meta) return meta.error();
  while (meta->step()) {
    auto saved = pgc.exec(
        "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = $2",
        {meta->text(0), meta->text(1)});
    if (!saved) return saved.error();
  }
  if (auto status = meta->status(); !status) return status.error();
  auto epoch = pgc.exec("UPDATE rollgate_lease SET epoch = GREATEST(epoch, $1) WHERE name = 'leader'",
                        {sqliteEpoch});
  if (!epoch) return epoch.error();

  // The artifacts' bytes, once per content.
  auto shas = (*source)->prepare("SELECT DISTINCT sha256 FROM artifacts");
  if (!shas) return shas.error();
  std::uint64_t contents = 0;
  while (shas->step()) {
    const std::string sha = shas->text(0);
    const std::string path = stateDir + "/artifacts/" + sha;
    if (!std::ifstream(path)) {
      return makeError("artifact " + sha + " is recorded but " + path + " is missing");
    }
    if (auto status = insertArtifactContent(pgc, sha, path); !status) return status.error();
    ++contents;
  }
  if (auto status = shas->status(); !status) return status.error();
  if (progress) progress("artifact contents: " + std::to_string(contents));
  if (auto status = tx.commit(); !status) return status.error();
  return "copied " + summary + " and " + std::to_string(contents) + " artifact contents from " +
         stateDir + " into " + pgc.redactedUrl() + "; the lease continues from epoch " +
         std::to_string(sqliteEpoch);
}

}  // namespace rollgate::coordinator
