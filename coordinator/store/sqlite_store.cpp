// One file holds all of the SQLite backend's SQL (about 600 lines) so that the schema and every
// statement that depends on it are read together.
#include "coordinator/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/codec.h"
#include "common/gate_json.h"
#include "common/sys/error.h"
#include "common/sys/private_files.h"
#include "coordinator/store/record_codec.h"

namespace rollgate::coordinator {

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& stateDir) {
  // 0700 / 0600 whoever starts the coordinator and with whatever umask: the database holds
  // the fleet's state and events. SQLite gives its -wal and -shm files the database's mode.
  if (auto status = sys::createPrivateDir(stateDir); !status) {
    return makeError("state directory: " + status.error().message);
  }
  std::string lockPath = stateDir + "/coordinator.lock";
  for (const std::string& path : {lockPath, stateDir + "/coordinator.db"}) {
    if (auto status = sys::ensurePrivateFile(path); !status) return status.error();
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string path = stateDir + "/coordinator.db" + suffix;
    if (::access(path.c_str(), F_OK) != 0) continue;
    if (auto status = sys::ensurePrivateFile(path); !status) return status.error();
  }
  int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("lock file " + lockPath + ": " + sys::errnoMessage(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(holder, n) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return makeError("state directory " + stateDir + " is owned by another coordinator (pid " +
                     pid + "); only one coordinator may use a state file at a time");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock is what matters; the pid is only informational.
  }
  auto db = Database::open(stateDir + "/coordinator.db");
  if (!db) {
    ::close(fd);
    return db.error();
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(*db), fd));
  if (auto status = store->migrate(); !status) return status.error();
  return store;
}

SqliteStore::~SqliteStore() {
  db_.reset();
  if (lockFd_ >= 0) ::close(lockFd_);
}

Status SqliteStore::migrate() {
  auto status = db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS hosts(
      name TEXT PRIMARY KEY, region TEXT NOT NULL, cluster TEXT NOT NULL,
      agent_version TEXT NOT NULL, services TEXT NOT NULL, last_contact_ms INTEGER NOT NULL,
      claimed_host TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS events(
      id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, kind TEXT NOT NULL,
      host TEXT NOT NULL, rollout_id TEXT NOT NULL, message TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS aborts(id INTEGER PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS telemetry(
      id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, service TEXT NOT NULL,
      release TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
      requests INTEGER NOT NULL, status_5xx INTEGER NOT NULL, window BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS telemetry_host_service ON telemetry(host, service, end_ms);
    DROP INDEX IF EXISTS telemetry_service_end;
    CREATE TABLE IF NOT EXISTS artifacts(
      service TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,
      size_bytes INTEGER NOT NULL, signature BLOB NOT NULL, pushed_ms INTEGER NOT NULL,
      pushed_by TEXT NOT NULL, UNIQUE(service, version));
    CREATE INDEX IF NOT EXISTS artifacts_by_sha256 ON artifacts(sha256);
    CREATE TABLE IF NOT EXISTS rollouts(
      id TEXT PRIMARY KEY, seq INTEGER NOT NULL, service TEXT NOT NULL, version TEXT NOT NULL,
      status TEXT NOT NULL, finished INTEGER NOT NULL, created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL, state TEXT NOT NULL, command_refs TEXT NOT NULL,
      started_by TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS checks(
      id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
      step INTEGER NOT NULL, stage TEXT NOT NULL, batch INTEGER NOT NULL, batches INTEGER NOT NULL,
      region TEXT NOT NULL, canary_hosts TEXT NOT NULL, comparison_hosts TEXT NOT NULL,
      name TEXT NOT NULL, verdict TEXT NOT NULL, p_value REAL, statistic REAL,
      result TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS checks_rollout ON checks(rollout_id, id);
    CREATE INDEX IF NOT EXISTS events_rollout ON events(rollout_id, id);
    INSERT OR IGNORE INTO meta(key, value) VALUES('epoch', '0');
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'epoch';
  )sql");
  if (!status) return status;
  if (auto reverts = migrateReverts(); !reverts) return reverts;
  if (auto train = migrateTrain(); !train) return train;
  if (auto console = migrateConsole(); !console) return console;
  if (auto backtest = migrateBacktest(); !backtest) return backtest;
  auto stmt = db_->prepare("SELECT value FROM meta WHERE key = 'epoch'");
  if (!stmt) return stmt.error();
  if (stmt->step()) epoch_ = std::stoull(stmt->text(0));
  return stmt->status();
}

namespace {

constexpr const char* kUpsertHost =
    "INSERT INTO hosts(name, region, cluster, agent_version, services, last_contact_ms, "
    "claimed_host) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET "
    "region = ?2, cluster = ?3, agent_version = ?4, services = ?5, last_contact_ms = ?6, "
    "claimed_host = ?7";
constexpr const char* kInsertEvent =
    "INSERT INTO events(at_ms, kind, host, rollout_id, message) VALUES(?1, ?2, ?3, ?4, ?5)";

Status upsertHost(Statement& stmt, const HostInfo& host) {
  stmt.reset();
  stmt.bind(1, host.name)
      .bind(2, host.region)
      .bind(3, host.cluster)
      .bind(4, host.agentVersion)
      .bind(5, servicesToJson(host.services).dump())
      .bind(6, static_cast<std::int64_t>(host.lastContactMillis))
      .bind(7, host.claimedHost);
  return stmt.run();
}

Status insertEvent(Statement& stmt, const EventRecord& event) {
  stmt.reset();
  stmt.bind(1, static_cast<std::int64_t>(event.atMillis))
      .bind(2, event.kind)
      .bind(3, event.host)
      .bind(4, event.rolloutId)
      .bind(5, event.message);
  return stmt.run();
}

}  // namespace

Status SqliteStore::saveHost(const HostInfo& host) {
  auto stmt = db_->prepare(kUpsertHost);
  if (!stmt) return stmt.error();
  return upsertHost(*stmt, host);
}

Status SqliteStore::saveRegistrations(const std::vector<HostInfo>& hosts,
                                      const std::vector<EventRecord>& events) {
  if (hosts.empty() && events.empty()) return {};
  Transaction transaction(*db_);
  auto host = db_->prepare(kUpsertHost);
  if (!host) return host.error();
  for (const auto& info : hosts) {
    if (auto status = upsertHost(*host, info); !status) return status;
  }
  auto event = db_->prepare(kInsertEvent);
  if (!event) return event.error();
  for (const auto& record : events) {
    if (auto status = insertEvent(*event, record); !status) return status;
  }
  return transaction.commit();
}

Status SqliteStore::saveLastContacts(
    const std::vector<std::pair<std::string, std::uint64_t>>& contacts) {
  if (contacts.empty()) return {};
  Transaction transaction(*db_);
  auto stmt = db_->prepare("UPDATE hosts SET last_contact_ms = ?2 WHERE name = ?1");
  if (!stmt) return stmt.error();
  for (const auto& [name, lastContactMillis] : contacts) {
    stmt->bind(1, name).bind(2, static_cast<std::int64_t>(lastContactMillis));
    if (auto status = stmt->run(); !status) return status;
    stmt->reset();
  }
  return transaction.commit();
}

Status SqliteStore::deleteHost(const std::string& name) {
  auto stmt = db_->prepare("DELETE FROM hosts WHERE name = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, name);
  return stmt->run();
}

Result<std::vector<HostInfo>> SqliteStore::loadHosts() {
  auto stmt = db_->prepare(
      "SELECT name, region, cluster, agent_version, services, last_contact_ms, claimed_host "
      "FROM hosts ORDER BY name");
  if (!stmt) return stmt.error();
  std::vector<HostInfo> hosts;
  while (stmt->step()) {
    HostInfo host;
    host.name = stmt->text(0);
    host.region = stmt->text(1);
    host.cluster = stmt->text(2);
    host.agentVersion = stmt->text(3);
    host.services = servicesFromJson(stmt->text(4));
    host.lastContactMillis = stmt->integer(5);
    host.claimedHost = stmt->text(6);
    hosts.push_back(std::move(host));
  }
  if (auto status = stmt->status(); !status) return status.error();
  return hosts;
}

Status SqliteStore::recordEvent(const EventRecord& event) {
  auto stmt = db_->prepare(kInsertEvent);
  if (!stmt) return stmt.error();
  return insertEvent(*stmt, event);
}

Result<std::vector<EventRecord>> SqliteStore::eventsOf(const std::string& rolloutId) {
  auto stmt = db_->prepare(
      "SELECT at_ms, host, kind, message FROM events WHERE rollout_id = ?1 ORDER BY id");
  if (!stmt) return stmt.error();
  stmt->bind(1, rolloutId);
  std::vector<EventRecord> out;
  while (stmt->step()) {
    out.push_back(EventRecord{static_cast<std::uint64_t>(stmt->integer(0)), stmt->text(2),
                              stmt->text(1), rolloutId, stmt->text(3)});
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Status SqliteStore::saveAbort(const AbortState& state) {
  auto stmt = db_->prepare("INSERT OR REPLACE INTO aborts(id, state) VALUES(?1, ?2)");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(state.abort.abortId)).bind(2, abortToJson(state).dump());
  return stmt->run();
}

Result<std::vector<AbortState>> SqliteStore::loadAborts() {
  auto stmt = db_->prepare("SELECT state FROM aborts ORDER BY id");
  if (!stmt) return stmt.error();
  std::vector<AbortState> out;
  while (stmt->step()) {
    auto json = nlohmann::json::parse(stmt->text(0), nullptr, false);
    if (json.is_object()) out.push_back(abortFromJson(json));
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

// The freeze is one JSON object in meta('frozen'). Stores written before it had an author and a
// time hold the reason text alone there; it is read as the reason, by and since unknown.
Status SqliteStore::setFrozen(const std::optional<FreezeState>& freeze) {
  if (!freeze) return db_->exec("DELETE FROM meta WHERE key = 'frozen'");
  auto stmt = db_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('frozen', ?1)");
  if (!stmt) return stmt.error();
  const std::string value = nlohmann::json{
      {"by", freeze->by},
      {"reason", freeze->reason},
      {"sinceMillis",
       freeze->sinceMillis}}.dump();
  stmt->bind(1, value);
  return stmt->run();
}

Result<std::optional<FreezeState>> SqliteStore::frozen() {
  auto stmt = db_->prepare("SELECT value FROM meta WHERE key = 'frozen'");
  if (!stmt) return stmt.error();
  std::optional<FreezeState> freeze;
  if (stmt->step()) {
    const std::string value = stmt->text(0);
    auto json = nlohmann::json::parse(value, nullptr, false);
    freeze = FreezeState{};
    if (json.is_object()) {
      freeze->by = json.value("by", std::string());
      freeze->reason = json.value("reason", std::string());
      freeze->sinceMillis = json.value("sinceMillis", std::uint64_t{0});
    } else {
      freeze->reason = value;
    }
  }
  if (auto status = stmt->status(); !status) return status.error();
  return freeze;
}

Result<std::uint64_t> SqliteStore::nextRolloutSeq() {
  auto stmt = db_->prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts");
  if (!stmt) return stmt.error();
  std::uint64_t seq = 1;
  if (stmt->step()) seq = static_cast<std::uint64_t>(stmt->integer(0));
  if (auto status = stmt->status(); !status) return status.error();
  return seq;
}

Status SqliteStore::createRollout(const RolloutRecord& r) {
  auto stmt = db_->prepare(
      "INSERT INTO rollouts(id, seq, service, version, status, finished, created_ms, updated_ms, "
      "state, command_refs, started_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!stmt) return stmt.error();
  stmt->bind(1, r.id)
      .bind(2, static_cast<std::int64_t>(r.seq))
      .bind(3, r.service)
      .bind(4, r.version)
      .bind(5, r.status)
      .bind(6, static_cast<std::int64_t>(r.finished ? 1 : 0))
      .bind(7, static_cast<std::int64_t>(r.createdMillis))
      .bind(8, static_cast<std::int64_t>(r.updatedMillis))
      .bind(9, r.stateJson)
      .bind(10, refsToJson(r.commandRefs).dump())
      .bind(11, r.startedBy);
  return stmt->run();
}

Status SqliteStore::saveRollout(const RolloutRecord& r) {
  auto stmt = db_->prepare(
      "UPDATE rollouts SET status = ?2, finished = ?3, updated_ms = ?4, state = ?5, "
      "command_refs = ?6 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, r.id)
      .bind(2, r.status)
      .bind(3, static_cast<std::int64_t>(r.finished ? 1 : 0))
      .bind(4, static_cast<std::int64_t>(r.updatedMillis))
      .bind(5, r.stateJson)
      .bind(6, refsToJson(r.commandRefs).dump());
  if (auto status = stmt->run(); !status) return status;
  if (db_->changes() == 0) return makeError("no rollout " + r.id + " in " + db_->path());
  return {};
}

Status SqliteStore::saveCommandRefs(const std::string& rolloutId,
                                    const std::map<std::uint64_t, CommandRef>& refs) {
  auto stmt = db_->prepare("UPDATE rollouts SET command_refs = ?2 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, rolloutId).bind(2, refsToJson(refs).dump());
  if (auto status = stmt->run(); !status) return status;
  if (db_->changes() == 0) return makeError("no rollout " + rolloutId + " in " + db_->path());
  return {};
}

Result<std::vector<RolloutRecord>> SqliteStore::queryRollouts(const std::string& where,
                                                              const std::string& arg) {
  auto stmt = db_->prepare(
      "SELECT id, seq, service, version, status, finished, created_ms, updated_ms, state, "
      "command_refs, started_by FROM rollouts " + where);
  if (!stmt) return stmt.error();
  if (!arg.empty()) stmt->bind(1, arg);
  std::vector<RolloutRecord> out;
  while (stmt->step()) {
    RolloutRecord r;
    r.id = stmt->text(0);
    r.seq = static_cast<std::uint64_t>(stmt->integer(1));
    r.service = stmt->text(2);
    r.version = stmt->text(3);
    r.status = stmt->text(4);
    r.finished = stmt->integer(5) != 0;
    r.createdMillis = static_cast<std::uint64_t>(stmt->integer(6));
    r.updatedMillis = static_cast<std::uint64_t>(stmt->integer(7));
    r.stateJson = stmt->text(8);
    r.commandRefs = refsFromJson(stmt->text(9));
    r.startedBy = stmt->text(10);
    out.push_back(std::move(r));
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::optional<RolloutRecord>> SqliteStore::loadRollout(const std::string& id) {
  auto rows = queryRollouts("WHERE id = ?1", id);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<RolloutRecord>();
  return std::optional<RolloutRecord>(std::move(rows->front()));
}

Result<std::vector<RolloutRecord>> SqliteStore::unfinishedRollouts() {
  return queryRollouts("WHERE finished = 0", "");
}

Result<std::vector<std::string>> SqliteStore::recentRolloutIds(std::size_t limit) {
  auto stmt = db_->prepare("SELECT id FROM rollouts ORDER BY seq DESC LIMIT ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(limit));
  std::vector<std::string> ids;
  while (stmt->step()) ids.push_back(stmt->text(0));
  if (auto status = stmt->status(); !status) return status.error();
  return ids;
}

Status SqliteStore::recordCheck(const CheckRecord& check) {
  auto stmt = db_->prepare(
      "INSERT INTO checks(rollout_id, at_ms, step, stage, batch, batches, region, "
      "canary_hosts, comparison_hosts, name, verdict, p_value, statistic, result) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!stmt) return stmt.error();
  // The step column is 0-based; name, verdict, p and statistic are columns of their own for SQL
  // queries, and the whole result is kept as its JSON (common/gate_json.h).
  stmt->bind(1, check.rolloutId)
      .bind(2, static_cast<std::int64_t>(check.atMillis))
      .bind(3, static_cast<std::int64_t>(check.step) - 1)
      .bind(4, check.stage)
      .bind(5, static_cast<std::int64_t>(check.batch))
      .bind(6, static_cast<std::int64_t>(check.batches))
      .bind(7, check.region)
      .bind(8, nlohmann::json(check.canaryHosts).dump())
      .bind(9, nlohmann::json(check.comparisonHosts).dump())
      .bind(10, check.result.name)
      .bind(11, std::string(stats::toString(check.result.verdict)))
      .bind(12, check.result.pValue)
      .bind(13, check.result.statistic)
      .bind(14, nlohmann::json(check.result).dump());
  return stmt->run();
}

Result<std::vector<CheckRecord>> SqliteStore::checksOf(const std::string& rolloutId) {
  auto stmt = db_->prepare(
      "SELECT at_ms, step, stage, batch, batches, region, canary_hosts, comparison_hosts, result "
      "FROM checks WHERE rollout_id = ?1 ORDER BY id");
  if (!stmt) return stmt.error();
  stmt->bind(1, rolloutId);
  std::vector<CheckRecord> out;
  while (stmt->step()) {
    CheckRecord c;
    c.rolloutId = rolloutId;
    c.atMillis = static_cast<std::uint64_t>(stmt->integer(0));
    c.step = static_cast<std::uint32_t>(stmt->integer(1) + 1);
    c.stage = stmt->text(2);
    c.batch = static_cast<std::uint32_t>(stmt->integer(3));
    c.batches = static_cast<std::uint32_t>(stmt->integer(4));
    c.region = stmt->text(5);
    c.canaryHosts = namesFromJson(stmt->text(6));
    c.comparisonHosts = namesFromJson(stmt->text(7));
    try {
      nlohmann::json::parse(stmt->text(8)).get_to(c.result);
    } catch (const std::exception& error) {
      return makeError("rollout " + rolloutId + ": a stored check result is unreadable: " +
                       error.what());
    }
    out.push_back(std::move(c));
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Status SqliteStore::appendWindows(const std::vector<WindowRow>& windows) {
  if (windows.empty()) return {};
  // Up to 64 rows per statement: a batch of thousands runs a few dozen statements, not one per row.
  // OR FAIL: a statement of several rows that could abort half-way must be able to undo its own
  // rows, so SQLite copies every page it touches to a statement journal (a temporary file, as many
  // bytes again as the rows). A failure here rolls back the whole transaction anyway.
  constexpr std::size_t kRowsPerStatement = 64;
  auto insertOf = [&](std::size_t rows) {
    std::string sql =
        "INSERT OR FAIL INTO telemetry(host, service, release, start_ms, end_ms, requests, status_5xx, "
        "window) VALUES";
    for (std::size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?)";
    return db_->prepare(sql);
  };
  Transaction transaction(*db_);
  std::optional<Statement> insert;  // prepared for `preparedRows` rows (again for a shorter tail)
  std::size_t preparedRows = 0;
  for (std::size_t first = 0; first < windows.size(); first += kRowsPerStatement) {
    std::size_t rows = std::min(kRowsPerStatement, windows.size() - first);
    if (rows != preparedRows) {
      auto prepared = insertOf(rows);
      if (!prepared) return prepared.error();
      insert.emplace(std::move(*prepared));
      preparedRows = rows;
    }
    Statement& stmt = *insert;
    for (std::size_t i = 0; i < rows; ++i) {
      const WindowRow& w = windows[first + i];
      const int at = static_cast<int>(i) * 8;
      stmt.bindUncopied(at + 1, w.host)
          .bindUncopied(at + 2, w.service)
          .bindUncopied(at + 3, w.release)
          .bind(at + 4, static_cast<std::int64_t>(w.startMillis))
          .bind(at + 5, static_cast<std::int64_t>(w.endMillis))
          .bind(at + 6, static_cast<std::int64_t>(w.requests))
          .bind(at + 7, static_cast<std::int64_t>(w.status5xx))
          .bindBlobUncopied(at + 8, w.encoded);
    }
    if (auto status = stmt.run(); !status) return status;
    stmt.reset();
  }
  return transaction.commit();
}

Result<std::unique_ptr<Store>> SqliteStore::openIngestConnection() {
  // The same file in WAL mode: the ingest connection's commits and this one's take turns (both
  // begin IMMEDIATE and wait out the other's commit), and readers see either's last commit. It
  // holds no lock file (this store does) and bumps no epoch.
  auto db = Database::openForOneThread(db_->path());
  if (!db) return db.error();
  // A batch of windows dirties many pages of the table and its index: a cache of up to 64 MiB
  // keeps them (SQLite's default 2 MiB spills and reads them back within the batch).
  if (auto status = (*db)->exec("PRAGMA cache_size = -65536"); !status) return status.error();
  std::unique_ptr<SqliteStore> ingest(new SqliteStore(std::move(*db), -1));
  ingest->epoch_ = epoch_;
  return std::unique_ptr<Store>(std::move(ingest));
}

Result<std::vector<TelemetryWindow>> SqliteStore::latestWindows(const std::string& host,
                                                                const std::string& service,
                                                                std::uint32_t last) {
  auto stmt = db_->prepare(
      "SELECT window FROM telemetry WHERE host = ?1 AND (?2 = '' OR service = ?2) "
      "ORDER BY end_ms DESC, id DESC LIMIT ?3");
  if (!stmt) return stmt.error();
  stmt->bind(1, host).bind(2, service).bind(3, static_cast<std::int64_t>(last));
  std::vector<TelemetryWindow> out;
  while (stmt->step()) {
    auto window = decodeWindow(stmt->blob(0));
    if (window) out.push_back(std::move(*window));
  }
  if (auto status = stmt->status(); !status) return status.error();
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<StoredWindow>> SqliteStore::windowsSince(const std::string& service,
                                                            const std::vector<std::string>& hosts,
                                                            std::uint64_t sinceMillis) {
  auto stmt = db_->prepare(
      "SELECT host, window FROM telemetry WHERE host IN (SELECT value FROM json_each(?3)) AND "
      "service = ?1 AND end_ms > ?2 ORDER BY end_ms, id");
  if (!stmt) return stmt.error();
  stmt->bind(1, service)
      .bind(2, static_cast<std::int64_t>(sinceMillis))
      .bind(3, nlohmann::json(hosts).dump());
  std::vector<StoredWindow> out;
  while (stmt->step()) {
    auto window = decodeWindow(stmt->blob(1));
    if (window) out.push_back(StoredWindow{stmt->text(0), std::move(*window)});
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::uint64_t> SqliteStore::pruneWindows(std::uint64_t beforeMillis) {
  // In the order stored (Store::pruneWindows): the oldest window still kept bounds a range of ids,
  // both found from the table's start, so a prune reads what it deletes, not the whole table.
  auto stmt = db_->prepare(
      "DELETE FROM telemetry WHERE end_ms < ?1 AND id < COALESCE((SELECT id FROM telemetry "
      "WHERE end_ms >= ?1 ORDER BY id LIMIT 1), 9223372036854775807)");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(beforeMillis));
  if (auto status = stmt->run(); !status) return status.error();
  return static_cast<std::uint64_t>(db_->changes());
}

Result<std::uint64_t> SqliteStore::pruneEvents(std::uint64_t beforeMillis, std::uint64_t keepRows) {
  auto stmt = db_->prepare(
      "DELETE FROM events WHERE at_ms < ?1 OR id <= (SELECT MAX(id) FROM events) - ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(beforeMillis));
  stmt->bind(2, static_cast<std::int64_t>(keepRows));
  if (auto status = stmt->run(); !status) return status.error();
  return static_cast<std::uint64_t>(db_->changes());
}

Result<std::vector<ArtifactInfo>> SqliteStore::queryArtifacts(
    const std::string& where, const std::vector<std::string>& args) {
  auto stmt = db_->prepare(
      "SELECT service, version, sha256, size_bytes, signature, pushed_ms, pushed_by FROM "
      "artifacts " +
      where);
  if (!stmt) return stmt.error();
  for (std::size_t i = 0; i < args.size(); ++i) stmt->bind(static_cast<int>(i + 1), args[i]);
  std::vector<ArtifactInfo> out;
  while (stmt->step()) {
    ArtifactInfo info;
    info.service = stmt->text(0);
    info.version = stmt->text(1);
    info.sha256 = stmt->text(2);
    info.sizeBytes = static_cast<std::uint64_t>(stmt->integer(3));
    info.signature = stmt->text(4);  // a BLOB's bytes, unchanged
    info.pushedMillis = static_cast<std::uint64_t>(stmt->integer(5));
    info.pushedBy = stmt->text(6);
    out.push_back(std::move(info));
  }
  if (auto status = stmt->status(); !status) return status.error();
  return out;
}

Result<std::optional<ArtifactInfo>> SqliteStore::findArtifact(const std::string& service,
                                                              const std::string& version) {
  auto rows = queryArtifacts("WHERE service = ?1 AND version = ?2", {service, version});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ArtifactInfo>();
  return std::optional<ArtifactInfo>(std::move(rows->front()));
}

Result<std::optional<ArtifactInfo>> SqliteStore::findArtifactBySha(const std::string& sha256) {
  auto rows = queryArtifacts("WHERE sha256 = ?1 ORDER BY pushed_ms, rowid LIMIT 1", {sha256});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ArtifactInfo>();
  return std::optional<ArtifactInfo>(std::move(rows->front()));
}

Result<std::vector<ArtifactInfo>> SqliteStore::listArtifacts(const std::string& service) {
  if (service.empty()) return queryArtifacts("ORDER BY service, pushed_ms DESC, rowid DESC", {});
  return queryArtifacts("WHERE service = ?1 ORDER BY pushed_ms DESC, rowid DESC", {service});
}

Status SqliteStore::addArtifact(const ArtifactInfo& artifact) {
  auto stmt = db_->prepare(
      "INSERT INTO artifacts(service, version, sha256, size_bytes, signature, pushed_ms, "
      "pushed_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!stmt) return stmt.error();
  stmt->bind(1, artifact.service)
      .bind(2, artifact.version)
      .bind(3, artifact.sha256)
      .bind(4, static_cast<std::int64_t>(artifact.sizeBytes))
      .bindBlob(5, artifact.signature)
      .bind(6, static_cast<std::int64_t>(artifact.pushedMillis))
      .bind(7, artifact.pushedBy);
  return stmt->run();
}

Status SqliteStore::setArtifactSignature(const std::string& service, const std::string& version,
                                         const std::string& signature) {
  auto stmt = db_->prepare("UPDATE artifacts SET signature = ?3 WHERE service = ?1 AND version = ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, service).bind(2, version).bindBlob(3, signature);
  return stmt->run();
}
}  // namespace rollgate::coordinator
