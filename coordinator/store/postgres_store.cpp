// One file holds all of the PostgreSQL backend's SQL so that its schema and every statement that
// depends on it are read together. Tables and columns are SQLite's (sqlite_store*.cpp), typed for
// PostgreSQL; `window` and `by` are quoted (reserved words here).
#include "coordinator/store/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/gate_json.h"
#include "common/sha256.h"
#include "common/sys/env.h"
#include "coordinator/store/leader_lease.h"
#include "coordinator/store/record_codec.h"

namespace rollgate::coordinator {
namespace {

constexpr std::size_t kContentChunkBytes = 1 << 20;

std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<pg::Connection> conn, std::uint64_t epoch,
                             std::string holder)
    : conn_(std::move(conn)), epoch_(epoch), holder_(std::move(holder)) {
  // The holder is the lease's instance token ("<coordinator id>/<pid>-<hex>", the id checked by
  // the config reader), so it needs no quoting beyond this.
  fenceBegin_ = "BEGIN; SELECT rollgate_fence(" + std::to_string(epoch_) + ", '" + holder_ + "')";
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& url,
                                                           std::uint64_t epoch,
                                                           const std::string& holder) {
  if (holder.find('\'') != std::string::npos) return makeError("lease holder holds a quote");
  auto conn = pg::Connection::open(url);
  if (!conn) return conn.error();
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(*conn), epoch, holder));
  if (auto status = store->migrate(); !status) return status.error();
  return store;
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::openUnfenced(const std::string& url) {
  auto conn = pg::Connection::open(url);
  if (!conn) return conn.error();
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(*conn), 0, ""));
  if (auto status = store->migrate(); !status) return status.error();
  return store;
}

Status PostgresStore::migrate() {
  if (auto status = createLeaseSchema(*conn_); !status) return status;
  pg::Transaction tx(*conn_, "BEGIN; SELECT pg_advisory_xact_lock(7400740)");
  if (!tx.status()) return tx.status();
  auto status = conn_->run(R"sql(
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS hosts(
      name TEXT PRIMARY KEY, region TEXT NOT NULL, cluster TEXT NOT NULL,
      agent_version TEXT NOT NULL, services TEXT NOT NULL, last_contact_ms BIGINT NOT NULL,
      claimed_host TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS enrollments(
      name TEXT PRIMARY KEY, public_key TEXT NOT NULL, revoked BOOLEAN NOT NULL,
      at_ms BIGINT NOT NULL, by_operator TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS events(
      id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, kind TEXT NOT NULL,
      host TEXT NOT NULL, rollout_id TEXT NOT NULL, message TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS events_rollout ON events(rollout_id, id);
    CREATE TABLE IF NOT EXISTS aborts(id BIGINT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS telemetry(
      id BIGSERIAL PRIMARY KEY, host TEXT COLLATE "C" NOT NULL, service TEXT COLLATE "C" NOT NULL,
      release TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
      requests BIGINT NOT NULL, status_5xx BIGINT NOT NULL, "window" BYTEA NOT NULL);
    DROP INDEX IF EXISTS telemetry_service_end;
    -- Host and service names are ASCII ([A-Za-z0-9._-]): in the C collation the index on them
    -- compares bytes, not through the database's locale, for every stored window. Tables made
    -- before are changed once (their index is built again).
    DO $$ BEGIN
      IF (SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema()
          AND table_name = 'telemetry' AND column_name = 'host') IS DISTINCT FROM 'C' THEN
        ALTER TABLE telemetry ALTER COLUMN host TYPE TEXT COLLATE "C",
          ALTER COLUMN service TYPE TEXT COLLATE "C";
      END IF;
    END $$;
    CREATE INDEX IF NOT EXISTS telemetry_host_service ON telemetry(host, service, end_ms);
    CREATE TABLE IF NOT EXISTS artifacts(
      id BIGSERIAL PRIMARY KEY,
      service TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,
      size_bytes BIGINT NOT NULL, signature BYTEA NOT NULL, pushed_ms BIGINT NOT NULL,
      pushed_by TEXT NOT NULL, UNIQUE(service, version));
    CREATE INDEX IF NOT EXISTS artifacts_by_sha256 ON artifacts(sha256);
    CREATE TABLE IF NOT EXISTS artifact_content(
      sha256 TEXT NOT NULL, chunk INTEGER NOT NULL, data BYTEA NOT NULL,
      PRIMARY KEY(sha256, chunk));
    CREATE TABLE IF NOT EXISTS rollouts(
      id TEXT PRIMARY KEY, seq BIGINT NOT NULL, service TEXT NOT NULL, version TEXT NOT NULL,
      status TEXT NOT NULL, finished INTEGER NOT NULL, created_ms BIGINT NOT NULL,
      updated_ms BIGINT NOT NULL, state TEXT NOT NULL, command_refs TEXT NOT NULL,
      started_by TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS checks(
      id BIGSERIAL PRIMARY KEY, rollout_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
      step INTEGER NOT NULL, stage TEXT NOT NULL, batch INTEGER NOT NULL, batches INTEGER NOT NULL,
      region TEXT NOT NULL, canary_hosts TEXT NOT NULL, comparison_hosts TEXT NOT NULL,
      name TEXT NOT NULL, verdict TEXT NOT NULL, p_value DOUBLE PRECISION,
      statistic DOUBLE PRECISION, result TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS checks_rollout ON checks(rollout_id, id);
    CREATE TABLE IF NOT EXISTS reverts(
      id TEXT PRIMARY KEY, seq BIGINT NOT NULL, service TEXT NOT NULL,
      finished INTEGER NOT NULL, state TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS reverts_unfinished ON reverts(finished, seq);
    CREATE TABLE IF NOT EXISTS train_state(service TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS train_candidates(
      service TEXT NOT NULL, seq BIGINT NOT NULL, commit_sha TEXT NOT NULL,
      candidate TEXT NOT NULL, PRIMARY KEY(service, seq), UNIQUE(service, commit_sha));
    CREATE TABLE IF NOT EXISTS train_events(
      id BIGSERIAL PRIMARY KEY, service TEXT NOT NULL, at_ms BIGINT NOT NULL,
      kind TEXT NOT NULL, commit_sha TEXT NOT NULL, rollout_id TEXT NOT NULL,
      message TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS train_events_service ON train_events(service, id);
    CREATE TABLE IF NOT EXISTS console_tokens(
      sha256 TEXT PRIMARY KEY, operator TEXT NOT NULL, role TEXT NOT NULL,
      created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, created_by TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS backtest_journal(
      id BIGSERIAL PRIMARY KEY, rollout_id TEXT NOT NULL, line TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS backtest_journal_rollout ON backtest_journal(rollout_id, id);
    CREATE TABLE IF NOT EXISTS backtest_usage(rollout_id TEXT PRIMARY KEY, bytes BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS rollout_labels(
      rollout_id TEXT PRIMARY KEY, label TEXT NOT NULL, reason TEXT NOT NULL, "by" TEXT NOT NULL,
      at_ms BIGINT NOT NULL);
    INSERT INTO meta(key, value) VALUES('journal_dropped_rollouts', '0') ON CONFLICT DO NOTHING;
  )sql");
  if (!status) return status;
  return tx.commit();
}

// A connection that is gone when a call begins (PostgreSQL restarted, a network blip) is connected
// again and the call made then: nothing had been sent, so nothing can be applied twice. It is
// tried while the leader lease is proven (the lease's own thread renews it only while the server
// answers, so a server away for longer than the lease ends this coordinator's lead, and the
// coordinator that leads next resumes from the store); without a lease check, for up to
// kReconnectMillis. Giving up sooner would pause a rollout for an operator over a server restart
// the lease rides out. A connection lost after the statements were sent fails the call (whether
// the server committed is unknown, and the caller's failure policy decides).
constexpr std::uint64_t kReconnectMillis = 5000;

Status PostgresStore::connected() {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(kReconnectMillis);
  while (!conn_->ok() && !conn_->reset()) {
    bool gaveUp = leaseValid_ ? !leaseValid_() : std::chrono::steady_clock::now() >= deadline;
    if (gaveUp) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
      return makeError("PostgreSQL " + conn_->redactedUrl() + " is unreachable (tried for " +
                       std::to_string(waited) + " ms" +
                       (leaseValid_ ? ", until the leader lease ran out)" : ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return {};
}

template <typename Write>
Status PostgresStore::fenced(Write&& write) {
  for (int attempt = 0;; ++attempt) {
    if (leaseValid_ && !leaseValid_()) {
      return makeError("epoch " + std::to_string(epoch_) +
                       " no longer holds the leader lease (not renewed in time); write refused");
    }
    if (Status up = connected(); !up) return up;
    pg::Transaction tx(*conn_, epoch_ == 0 && holder_.empty() ? "BEGIN" : fenceBegin_);
    if (!tx.status()) {
      if (!conn_->ok() && attempt == 0) continue;  // the server went away while idle: once more
      return tx.status();
    }
    if (Status status = write(); !status) return status;
    return tx.commit();
  }
}

Status PostgresStore::write(const std::string& sql, const std::vector<pg::Param>& params) {
  return fenced([&]() -> Status {
    auto rows = conn_->exec(sql, params);
    if (!rows) return rows.error();
    return {};
  });
}

Result<pg::Rows> PostgresStore::read(const std::string& sql, const std::vector<pg::Param>& params) {
  for (int attempt = 0;; ++attempt) {
    if (leaseValid_ && !leaseValid_()) {
      return makeError("epoch " + std::to_string(epoch_) +
                       " no longer holds the leader lease (not renewed in time)");
    }
    if (Status up = connected(); !up) return up.error();
    auto rows = conn_->exec(sql, params);
    if (!rows && !conn_->ok() && attempt == 0) continue;  // a read is safe to make again
    return rows;
  }
}

// ---- hosts

namespace {

constexpr const char* kUpsertHost =
    "INSERT INTO hosts(name, region, cluster, agent_version, services, last_contact_ms, "
    "claimed_host) VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(name) DO UPDATE SET "
    "region = $2, cluster = $3, agent_version = $4, services = $5, last_contact_ms = $6, "
    "claimed_host = $7";
constexpr const char* kInsertEvent =
    "INSERT INTO events(at_ms, kind, host, rollout_id, message) VALUES($1, $2, $3, $4, $5)";

std::vector<pg::Param> hostParams(const HostInfo& host) {
  return {host.name,
          host.region,
          host.cluster,
          host.agentVersion,
          servicesToJson(host.services).dump(),
          host.lastContactMillis,
          host.claimedHost};
}

std::vector<pg::Param> eventParams(const EventRecord& event) {
  return {event.atMillis, event.kind, event.host, event.rolloutId, event.message};
}

}  // namespace

Status PostgresStore::saveHost(const HostInfo& host) {
  return write(kUpsertHost, hostParams(host));
}

Status PostgresStore::saveRegistrations(const std::vector<HostInfo>& hosts,
                                        const std::vector<EventRecord>& events) {
  if (hosts.empty() && events.empty()) return {};
  // Two statements for the whole batch, the rows as JSON arrays; a host seen twice in the batch
  // keeps its last registration (one upsert cannot touch a row twice).
  std::map<std::string, const HostInfo*> latest;
  for (const auto& host : hosts) latest[host.name] = &host;
  nlohmann::json hostRows = nlohmann::json::array();
  for (const auto& [name, host] : latest) {
    hostRows.push_back({{"name", host->name},
                        {"region", host->region},
                        {"cluster", host->cluster},
                        {"agent_version", host->agentVersion},
                        {"services", servicesToJson(host->services).dump()},
                        {"last_contact_ms", host->lastContactMillis},
                        {"claimed_host", host->claimedHost}});
  }
  nlohmann::json eventRows = nlohmann::json::array();
  for (const auto& event : events) {
    eventRows.push_back({{"at_ms", event.atMillis},
                         {"kind", event.kind},
                         {"host", event.host},
                         {"rollout_id", event.rolloutId},
                         {"message", event.message}});
  }
  return fenced([&]() -> Status {
    if (!hostRows.empty()) {
      auto rows = conn_->exec(
          "INSERT INTO hosts(name, region, cluster, agent_version, services, last_contact_ms, "
          "claimed_host) SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(name TEXT, region "
          "TEXT, cluster TEXT, agent_version TEXT, services TEXT, last_contact_ms BIGINT, "
          "claimed_host TEXT) ON CONFLICT(name) DO UPDATE SET region = EXCLUDED.region, "
          "cluster = EXCLUDED.cluster, agent_version = EXCLUDED.agent_version, services = "
          "EXCLUDED.services, last_contact_ms = EXCLUDED.last_contact_ms, claimed_host = "
          "EXCLUDED.claimed_host",
          {hostRows.dump()});
      if (!rows) return rows.error();
    }
    if (!eventRows.empty()) {
      auto rows = conn_->exec(
          "INSERT INTO events(at_ms, kind, host, rollout_id, message) SELECT * FROM "
          "jsonb_to_recordset($1::jsonb) AS t(at_ms BIGINT, kind TEXT, host TEXT, rollout_id "
          "TEXT, message TEXT)",
          {eventRows.dump()});
      if (!rows) return rows.error();
    }
    return {};
  });
}

Status PostgresStore::saveEnrollments(const std::vector<EnrollmentRecord>& records) {
  if (records.empty()) return {};
  // One statement, the rows as a JSON array; a name given twice keeps its last record.
  std::map<std::string, const EnrollmentRecord*> latest;
  for (const auto& record : records) latest[record.name] = &record;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [name, record] : latest) {
    rows.push_back({{"name", name},
                    {"public_key", record->publicKey},
                    {"revoked", record->revoked},
                    {"at_ms", record->atMillis},
                    {"by_operator", record->by}});
  }
  return write(
      "INSERT INTO enrollments(name, public_key, revoked, at_ms, by_operator) SELECT * FROM "
      "jsonb_to_recordset($1::jsonb) AS t(name TEXT, public_key TEXT, revoked BOOLEAN, at_ms "
      "BIGINT, by_operator TEXT) ON CONFLICT(name) DO UPDATE SET public_key = "
      "EXCLUDED.public_key, revoked = EXCLUDED.revoked, at_ms = EXCLUDED.at_ms, by_operator = "
      "EXCLUDED.by_operator",
      {rows.dump()});
}

Result<std::vector<EnrollmentRecord>> PostgresStore::loadEnrollments() {
  auto rows = read(
      "SELECT name, public_key, revoked, at_ms, by_operator FROM enrollments ORDER BY name", {});
  if (!rows) return rows.error();
  std::vector<EnrollmentRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(EnrollmentRecord{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2) == "t",
                                   u64(rows->integer(i, 3)), rows->text(i, 4)});
  }
  return out;
}

Status PostgresStore::saveLastContacts(
    const std::vector<std::pair<std::string, std::uint64_t>>& contacts) {
  if (contacts.empty()) return {};
  // One statement for the whole batch: names and times as two arrays.
  nlohmann::json names = nlohmann::json::array();
  nlohmann::json times = nlohmann::json::array();
  for (const auto& [name, at] : contacts) {
    names.push_back(name);
    times.push_back(at);
  }
  return write(
      "UPDATE hosts SET last_contact_ms = c.at FROM "
      "(SELECT * FROM unnest(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)), "
      "ARRAY(SELECT jsonb_array_elements_text($2::jsonb)::bigint)) AS t(name, at)) AS c "
      "WHERE hosts.name = c.name",
      {names.dump(), times.dump()});
}

Status PostgresStore::deleteHost(const std::string& name) {
  return write("DELETE FROM hosts WHERE name = $1", {name});
}

Result<std::vector<HostInfo>> PostgresStore::loadHosts() {
  auto rows = read(
      "SELECT name, region, cluster, agent_version, services, last_contact_ms, claimed_host "
      "FROM hosts ORDER BY name");
  if (!rows) return rows.error();
  std::vector<HostInfo> hosts;
  for (int i = 0; i < rows->size(); ++i) {
    HostInfo host;
    host.name = rows->text(i, 0);
    host.region = rows->text(i, 1);
    host.cluster = rows->text(i, 2);
    host.agentVersion = rows->text(i, 3);
    host.services = servicesFromJson(rows->text(i, 4));
    host.lastContactMillis = u64(rows->integer(i, 5));
    host.claimedHost = rows->text(i, 6);
    hosts.push_back(std::move(host));
  }
  return hosts;
}

// ---- events

Status PostgresStore::recordEvent(const EventRecord& event) {
  return write(kInsertEvent, eventParams(event));
}

Result<std::vector<EventRecord>> PostgresStore::eventsOf(const std::string& rolloutId) {
  auto rows = read("SELECT at_ms, host, kind, message FROM events WHERE rollout_id = $1 ORDER BY id",
                   {rolloutId});
  if (!rows) return rows.error();
  std::vector<EventRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(EventRecord{u64(rows->integer(i, 0)), rows->text(i, 2), rows->text(i, 1),
                              rolloutId, rows->text(i, 3)});
  }
  return out;
}

Result<std::uint64_t> PostgresStore::pruneEvents(std::uint64_t beforeMillis,
                                                 std::uint64_t keepRows) {
  std::uint64_t deleted = 0;
  auto status = fenced([&]() -> Status {
    auto rows = conn_->exec(
        "DELETE FROM events WHERE at_ms < $1 OR id <= (SELECT MAX(id) FROM events) - $2",
        {beforeMillis, keepRows});
    if (!rows) return rows.error();
    deleted = rows->affected();
    return {};
  });
  if (!status) return status.error();
  return deleted;
}

// ---- aborts and the freeze

Status PostgresStore::saveAbort(const AbortState& state) {
  return write(
      "INSERT INTO aborts(id, state) VALUES($1, $2) ON CONFLICT(id) DO UPDATE SET state = $2",
      {state.abort.abortId, abortToJson(state).dump()});
}

Result<std::vector<AbortState>> PostgresStore::loadAborts() {
  auto rows = read("SELECT state FROM aborts ORDER BY id");
  if (!rows) return rows.error();
  std::vector<AbortState> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto json = nlohmann::json::parse(rows->text(i, 0), nullptr, false);
    if (json.is_object()) out.push_back(abortFromJson(json));
  }
  return out;
}

Status PostgresStore::setFrozen(const std::optional<FreezeState>& freeze) {
  if (!freeze) return write("DELETE FROM meta WHERE key = 'frozen'", {});
  const std::string value = nlohmann::json{{"by", freeze->by},
                                           {"reason", freeze->reason},
                                           {"sinceMillis", freeze->sinceMillis}}
                                .dump();
  return write(
      "INSERT INTO meta(key, value) VALUES('frozen', $1) ON CONFLICT(key) DO UPDATE SET value = $1",
      {value});
}

Result<std::optional<FreezeState>> PostgresStore::frozen() {
  auto rows = read("SELECT value FROM meta WHERE key = 'frozen'");
  if (!rows) return rows.error();
  std::optional<FreezeState> freeze;
  if (!rows->empty()) {
    auto json = nlohmann::json::parse(rows->text(0, 0), nullptr, false);
    freeze = FreezeState{};
    if (json.is_object()) {
      freeze->by = json.value("by", std::string());
      freeze->reason = json.value("reason", std::string());
      freeze->sinceMillis = json.value("sinceMillis", std::uint64_t{0});
    } else {
      freeze->reason = rows->text(0, 0);
    }
  }
  return freeze;
}

// ---- rollouts and checks

Result<std::uint64_t> PostgresStore::nextRolloutSeq() {
  auto rows = read("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts");
  if (!rows) return rows.error();
  return u64(rows->integer(0, 0));
}

Status PostgresStore::createRollout(const RolloutRecord& r) {
  return write(
      "INSERT INTO rollouts(id, seq, service, version, status, finished, created_ms, updated_ms, "
      "state, command_refs, started_by) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {r.id, r.seq, r.service, r.version, r.status, r.finished ? 1 : 0, r.createdMillis,
       r.updatedMillis, r.stateJson, refsToJson(r.commandRefs).dump(), r.startedBy});
}

Status PostgresStore::saveRollout(const RolloutRecord& r) {
  return fenced([&]() -> Status {
    auto rows = conn_->exec(
        "UPDATE rollouts SET status = $2, finished = $3, updated_ms = $4, state = $5, "
        "command_refs = $6 WHERE id = $1",
        {r.id, r.status, r.finished ? 1 : 0, r.updatedMillis, r.stateJson,
         refsToJson(r.commandRefs).dump()});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return makeError("no rollout " + r.id + " in " + conn_->redactedUrl());
    return {};
  });
}

Status PostgresStore::saveCommandRefs(const std::string& rolloutId,
                                      const std::map<std::uint64_t, CommandRef>& refs) {
  return fenced([&]() -> Status {
    auto rows = conn_->exec("UPDATE rollouts SET command_refs = $2 WHERE id = $1",
                            {rolloutId, refsToJson(refs).dump()});
    if (!rows) return rows.error();
    if (rows->affected() == 0) {
      return makeError("no rollout " + rolloutId + " in " + conn_->redactedUrl());
    }
    return {};
  });
}

Result<std::vector<RolloutRecord>> PostgresStore::queryRollouts(
    const std::string& where, const std::vector<pg::Param>& params) {
  auto rows = read(
      "SELECT id, seq, service, version, status, finished, created_ms, updated_ms, state, "
      "command_refs, started_by FROM rollouts " + where, params);
  if (!rows) return rows.error();
  std::vector<RolloutRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    RolloutRecord r;
    r.id = rows->text(i, 0);
    r.seq = u64(rows->integer(i, 1));
    r.service = rows->text(i, 2);
    r.version = rows->text(i, 3);
    r.status = rows->text(i, 4);
    r.finished = rows->integer(i, 5) != 0;
    r.createdMillis = u64(rows->integer(i, 6));
    r.updatedMillis = u64(rows->integer(i, 7));
    r.stateJson = rows->text(i, 8);
    r.commandRefs = refsFromJson(rows->text(i, 9));
    r.startedBy = rows->text(i, 10);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<RolloutRecord>> PostgresStore::loadRollout(const std::string& id) {
  auto rows = queryRollouts("WHERE id = $1", {id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<RolloutRecord>();
  return std::optional<RolloutRecord>(std::move(rows->front()));
}

Result<std::vector<RolloutRecord>> PostgresStore::unfinishedRollouts() {
  return queryRollouts("WHERE finished = 0 ORDER BY seq", {});
}

Result<std::vector<std::string>> PostgresStore::recentRolloutIds(std::size_t limit) {
  auto rows = read("SELECT id FROM rollouts ORDER BY seq DESC LIMIT $1", {i64(limit)});
  if (!rows) return rows.error();
  std::vector<std::string> ids;
  for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->text(i, 0));
  return ids;
}

Status PostgresStore::recordCheck(const CheckRecord& check) {
  // As in SQLite: the step column is 0-based and the whole result is kept as its JSON.
  auto number = [](double v) { return std::isfinite(v) ? pg::Param(v) : pg::Param::null(); };
  return write(
      "INSERT INTO checks(rollout_id, at_ms, step, stage, batch, batches, region, canary_hosts, "
      "comparison_hosts, name, verdict, p_value, statistic, result) "
      "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      {check.rolloutId, check.atMillis, static_cast<std::int64_t>(check.step) - 1, check.stage,
       static_cast<std::int64_t>(check.batch), static_cast<std::int64_t>(check.batches),
       check.region, nlohmann::json(check.canaryHosts).dump(),
       nlohmann::json(check.comparisonHosts).dump(), check.result.name,
       std::string(stats::toString(check.result.verdict)), number(check.result.pValue),
       number(check.result.statistic), nlohmann::json(check.result).dump()});
}

Result<std::vector<CheckRecord>> PostgresStore::checksOf(const std::string& rolloutId) {
  auto rows = read(
      "SELECT at_ms, step, stage, batch, batches, region, canary_hosts, comparison_hosts, result "
      "FROM checks WHERE rollout_id = $1 ORDER BY id",
      {rolloutId});
  if (!rows) return rows.error();
  std::vector<CheckRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    CheckRecord c;
    c.rolloutId = rolloutId;
    c.atMillis = u64(rows->integer(i, 0));
    c.step = static_cast<std::uint32_t>(rows->integer(i, 1) + 1);
    c.stage = rows->text(i, 2);
    c.batch = static_cast<std::uint32_t>(rows->integer(i, 3));
    c.batches = static_cast<std::uint32_t>(rows->integer(i, 4));
    c.region = rows->text(i, 5);
    c.canaryHosts = namesFromJson(rows->text(i, 6));
    c.comparisonHosts = namesFromJson(rows->text(i, 7));
    try {
      nlohmann::json::parse(rows->text(i, 8)).get_to(c.result);
    } catch (const std::exception& error) {
      return makeError("rollout " + rolloutId + ": a stored check result is unreadable: " +
                       error.what());
    }
    out.push_back(std::move(c));
  }
  return out;
}

// ---- the backtest's journals and labels

Status PostgresStore::appendJournal(const std::string& rolloutId,
                                    const std::vector<std::string>& lines) {
  if (lines.empty()) return {};
  std::int64_t bytes = 0;
  for (const auto& line : lines) bytes += static_cast<std::int64_t>(line.size());
  return fenced([&]() -> Status {
    auto inserted = conn_->exec(
        "INSERT INTO backtest_journal(rollout_id, line) "
        "SELECT $1, line FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS l(line, n) "
        "ORDER BY n",
        {rolloutId, nlohmann::json(lines).dump()});
    if (!inserted) return inserted.error();
    auto usage = conn_->exec(
        "INSERT INTO backtest_usage(rollout_id, bytes) VALUES($1, $2) "
        "ON CONFLICT(rollout_id) DO UPDATE SET bytes = backtest_usage.bytes + $2",
        {rolloutId, bytes});
    if (!usage) return usage.error();
    return {};
  });
}

Result<JournalUsage> PostgresStore::pruneJournals(std::uint64_t capBytes) {
  auto rows = read(
      "SELECT u.rollout_id, u.bytes, COALESCE(r.finished, 1) FROM backtest_usage u "
      "LEFT JOIN rollouts r ON r.id = u.rollout_id ORDER BY COALESCE(r.seq, 0), u.rollout_id");
  if (!rows) return rows.error();
  JournalUsage usage;
  std::vector<std::pair<std::string, std::uint64_t>> finished;
  for (int i = 0; i < rows->size(); ++i) {
    usage.bytes += u64(rows->integer(i, 1));
    usage.rollouts += 1;
    if (rows->integer(i, 2) != 0) finished.emplace_back(rows->text(i, 0), u64(rows->integer(i, 1)));
  }
  if (usage.bytes > capBytes) {
    auto status = fenced([&]() -> Status {
      std::uint64_t dropped = 0;
      for (const auto& [id, bytes] : finished) {
        if (usage.bytes <= capBytes) break;
        for (const char* sql : {"DELETE FROM backtest_journal WHERE rollout_id = $1",
                                "DELETE FROM backtest_usage WHERE rollout_id = $1"}) {
          auto deleted = conn_->exec(sql, {id});
          if (!deleted) return deleted.error();
        }
        usage.bytes -= bytes;
        usage.rollouts -= 1;
        dropped += 1;
      }
      auto count = conn_->exec(
          "UPDATE meta SET value = (value::bigint + $1)::text WHERE key = "
          "'journal_dropped_rollouts'",
          {dropped});
      if (!count) return count.error();
      return {};
    });
    if (!status) return status.error();
  }
  auto dropped = read("SELECT value FROM meta WHERE key = 'journal_dropped_rollouts'");
  if (!dropped) return dropped.error();
  if (!dropped->empty()) usage.droppedRollouts = std::stoull(dropped->text(0, 0));
  return usage;
}

Status PostgresStore::saveLabel(const RolloutLabelRecord& label) {
  return write(
      "INSERT INTO rollout_labels(rollout_id, label, reason, \"by\", at_ms) "
      "VALUES($1, $2, $3, $4, $5) ON CONFLICT(rollout_id) DO UPDATE SET label = $2, reason = $3, "
      "\"by\" = $4, at_ms = $5",
      {label.rolloutId, label.label, label.reason, label.by, label.atMillis});
}

const char* const kLabelOfSql =
    "SELECT rollout_id, label, reason, \"by\", at_ms FROM rollout_labels WHERE rollout_id = $1";
const char* const kRevertsOfSql =
    "SELECT id, seq, service, finished, state FROM reverts WHERE service = $1 ORDER BY seq";

std::optional<RolloutLabelRecord> labelRow(const pg::Rows& rows) {
  if (rows.empty()) return std::nullopt;
  return RolloutLabelRecord{rows.text(0, 0), rows.text(0, 1), rows.text(0, 2), rows.text(0, 3),
                            u64(rows.integer(0, 4))};
}

std::vector<RevertRecord> revertRows(const pg::Rows& rows) {
  std::vector<RevertRecord> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(RevertRecord{rows.text(i, 0), u64(rows.integer(i, 1)), rows.text(i, 2),
                               rows.integer(i, 3) != 0, rows.text(i, 4)});
  }
  return out;
}

Result<std::optional<RolloutLabelRecord>> PostgresStore::labelOf(const std::string& rolloutId) {
  auto rows = read(kLabelOfSql, {rolloutId});
  if (!rows) return rows.error();
  return labelRow(*rows);
}

// ---- reverts

Result<std::vector<RevertRecord>> PostgresStore::revertsOf(const std::string& service) {
  auto rows = read(kRevertsOfSql, {service});
  if (!rows) return rows.error();
  return revertRows(*rows);
}

Result<std::uint64_t> PostgresStore::nextRevertSeq() {
  auto rows = read("SELECT COALESCE(MAX(seq), 0) + 1 FROM reverts");
  if (!rows) return rows.error();
  return u64(rows->integer(0, 0));
}

Status PostgresStore::saveRevert(const RevertRecord& revert) {
  return write(
      "INSERT INTO reverts(id, seq, service, finished, state) VALUES($1, $2, $3, $4, $5) "
      "ON CONFLICT(id) DO UPDATE SET finished = $4, state = $5",
      {revert.id, revert.seq, revert.service, revert.finished ? 1 : 0, revert.stateJson});
}

Result<std::optional<RevertRecord>> PostgresStore::loadRevert(const std::string& id) {
  auto rows = read("SELECT id, seq, service, finished, state FROM reverts WHERE id = $1", {id});
  if (!rows) return rows.error();
  auto out = revertRows(*rows);
  if (out.empty()) return std::optional<RevertRecord>();
  return std::optional<RevertRecord>(std::move(out.front()));
}

Result<std::vector<RevertRecord>> PostgresStore::unfinishedReverts() {
  auto rows = read(
      "SELECT id, seq, service, finished, state FROM reverts WHERE finished = 0 ORDER BY seq");
  if (!rows) return rows.error();
  return revertRows(*rows);
}

// ---- the release train

Result<std::vector<std::string>> PostgresStore::loadTrainStates() {
  auto rows = read("SELECT state FROM train_state ORDER BY service");
  if (!rows) return rows.error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(rows->text(i, 0));
  return out;
}

Status PostgresStore::saveTrain(const std::string& service, const std::string& stateJson,
                                const std::vector<TrainCandidateRow>& candidates) {
  return fenced([&]() -> Status {
    auto state = conn_->exec(
        "INSERT INTO train_state(service, state) VALUES($1, $2) "
        "ON CONFLICT(service) DO UPDATE SET state = $2",
        {service, stateJson});
    if (!state) return state.error();
    for (const TrainCandidateRow& row : candidates) {
      auto saved = conn_->exec(
          "INSERT INTO train_candidates(service, seq, commit_sha, candidate) "
          "VALUES($1, $2, $3, $4) "
          "ON CONFLICT(service, seq) DO UPDATE SET commit_sha = $3, candidate = $4",
          {row.service, row.seq, row.commit, row.json});
      if (!saved) return saved.error();
    }
    return {};
  });
}

Result<std::vector<TrainCandidateRow>> PostgresStore::loadCandidates(const std::string& service) {
  auto rows = read(
      "SELECT seq, commit_sha, candidate FROM train_candidates WHERE service = $1 ORDER BY seq",
      {service});
  if (!rows) return rows.error();
  std::vector<TrainCandidateRow> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(
        TrainCandidateRow{service, u64(rows->integer(i, 0)), rows->text(i, 1), rows->text(i, 2)});
  }
  return out;
}

Status PostgresStore::recordTrainEvent(const TrainEventRecord& event) {
  return write(
      "INSERT INTO train_events(service, at_ms, kind, commit_sha, rollout_id, message) "
      "VALUES($1, $2, $3, $4, $5, $6)",
      {event.service, event.atMillis, event.kind, event.commit, event.rolloutId, event.message});
}

Result<std::vector<TrainEventRecord>> PostgresStore::trainEvents(const std::string& service,
                                                                 std::size_t limit) {
  auto rows = read(
      "SELECT at_ms, kind, commit_sha, rollout_id, message FROM "
      "(SELECT * FROM train_events WHERE service = $1 ORDER BY id DESC LIMIT $2) AS newest "
      "ORDER BY id",
      {service, i64(limit)});
  if (!rows) return rows.error();
  std::vector<TrainEventRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(TrainEventRecord{u64(rows->integer(i, 0)), service, rows->text(i, 1),
                                   rows->text(i, 2), rows->text(i, 3), rows->text(i, 4)});
  }
  return out;
}

// ---- console tokens

Status PostgresStore::saveConsoleToken(const ConsoleTokenRecord& token) {
  return write(
      "INSERT INTO console_tokens(sha256, operator, role, created_ms, expires_ms, created_by) "
      "VALUES($1, $2, $3, $4, $5, $6)",
      {token.sha256Hex, token.operatorName, token.role, token.createdMillis, token.expiresMillis,
       token.createdBy});
}

Result<std::optional<ConsoleTokenRecord>> PostgresStore::findConsoleToken(
    const std::string& sha256Hex) {
  auto rows = read(
      "SELECT sha256, operator, role, created_ms, expires_ms, created_by FROM console_tokens "
      "WHERE sha256 = $1",
      {sha256Hex});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ConsoleTokenRecord>();
  return std::optional<ConsoleTokenRecord>(
      ConsoleTokenRecord{rows->text(0, 0), rows->text(0, 1), rows->text(0, 2),
                         u64(rows->integer(0, 3)), u64(rows->integer(0, 4)), rows->text(0, 5)});
}

// ---- telemetry

Status PostgresStore::appendWindows(const std::vector<WindowRow>& windows) {
  if (windows.empty()) return {};
  // One binary COPY per batch, in the fenced transaction: PostgreSQL's bulk load, with no
  // statement to parse per row and no text to escape or parse per field (COPY's text format sent
  // each frame as hex, which the server decoded: bench_ingest --postgres stored 1.04-1.16x the
  // windows a second in binary, alternated runs).
  pg::BinaryCopyRows rows;
  rows.reserve(windows.size() * 320);
  for (const WindowRow& w : windows) {
    rows.beginRow(8);
    rows.text(w.host);
    rows.text(w.service);
    rows.text(w.release);
    for (std::uint64_t n : {w.startMillis, w.endMillis, w.requests, w.status5xx}) {
      rows.int8(static_cast<std::int64_t>(n));
    }
    rows.bytes(w.encoded);
  }
  const std::string& data = rows.finish();
  return fenced([&]() -> Status {
    return conn_->copyIn(
        "COPY telemetry(host, service, release, start_ms, end_ms, requests, status_5xx, "
        "\"window\") FROM STDIN (FORMAT binary)",
        data);
  });
}

Result<std::unique_ptr<Store>> PostgresStore::openIngestConnection() {
  // A second session with the same fence: every append checks this coordinator's epoch and
  // holder in its transaction, and the lease check stops it at once when the lease is lost.
  auto conn = pg::Connection::open(conn_->url());
  if (!conn) return conn.error();
  std::unique_ptr<PostgresStore> ingest(new PostgresStore(std::move(*conn), epoch_, holder_));
  ingest->leaseValid_ = leaseValid_;
  return std::unique_ptr<Store>(std::move(ingest));
}

Result<std::vector<TelemetryWindow>> PostgresStore::latestWindows(const std::string& host,
                                                                  const std::string& service,
                                                                  std::uint32_t last) {
  auto rows = read(
      "SELECT \"window\" FROM telemetry WHERE host = $1 AND ($2 = '' OR service = $2) "
      "ORDER BY end_ms DESC, id DESC LIMIT $3",
      {host, service, static_cast<std::int64_t>(last)});
  if (!rows) return rows.error();
  std::vector<TelemetryWindow> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto window = decodeWindow(rows->bytes(i, 0));
    if (window) out.push_back(std::move(*window));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<StoredWindow>> PostgresStore::windowsSince(const std::string& service,
                                                              const std::vector<std::string>& hosts,
                                                              std::uint64_t sinceMillis) {
  auto rows = read(
      "SELECT host, \"window\" FROM telemetry WHERE host IN (SELECT jsonb_array_elements_text("
      "$3::jsonb)) AND service = $1 AND end_ms > $2 ORDER BY end_ms, id",
      {service, sinceMillis, nlohmann::json(hosts).dump()});
  if (!rows) return rows.error();
  std::vector<StoredWindow> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto window = decodeWindow(rows->bytes(i, 1));
    if (window) out.push_back(StoredWindow{rows->text(i, 0), std::move(*window)});
  }
  return out;
}

Result<std::uint64_t> PostgresStore::pruneWindows(std::uint64_t beforeMillis) {
  std::uint64_t deleted = 0;
  auto status = fenced([&]() -> Status {
    // As SqliteStore::pruneWindows: an id range from the table's start, on its primary key.
    auto rows = conn_->exec(
        "DELETE FROM telemetry WHERE end_ms < $1 AND id < COALESCE((SELECT id FROM telemetry "
        "WHERE end_ms >= $1 ORDER BY id LIMIT 1), 9223372036854775807)",
        {beforeMillis});
    if (!rows) return rows.error();
    deleted = rows->affected();
    return {};
  });
  if (!status) return status.error();
  return deleted;
}

// ---- artifacts

Result<std::vector<ArtifactInfo>> PostgresStore::queryArtifacts(
    const std::string& where, const std::vector<pg::Param>& params) {
  auto rows = read(
      "SELECT service, version, sha256, size_bytes, signature, pushed_ms, pushed_by FROM "
      "artifacts " + where, params);
  if (!rows) return rows.error();
  std::vector<ArtifactInfo> out;
  for (int i = 0; i < rows->size(); ++i) {
    ArtifactInfo info;
    info.service = rows->text(i, 0);
    info.version = rows->text(i, 1);
    info.sha256 = rows->text(i, 2);
    info.sizeBytes = u64(rows->integer(i, 3));
    info.signature = rows->bytes(i, 4);
    info.pushedMillis = u64(rows->integer(i, 5));
    info.pushedBy = rows->text(i, 6);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::optional<ArtifactInfo>> PostgresStore::findArtifact(const std::string& service,
                                                                const std::string& version) {
  auto rows = queryArtifacts("WHERE service = $1 AND version = $2", {service, version});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ArtifactInfo>();
  return std::optional<ArtifactInfo>(std::move(rows->front()));
}

Result<std::optional<ArtifactInfo>> PostgresStore::findArtifactBySha(const std::string& sha256) {
  auto rows = queryArtifacts("WHERE sha256 = $1 ORDER BY pushed_ms, id LIMIT 1", {sha256});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ArtifactInfo>();
  return std::optional<ArtifactInfo>(std::move(rows->front()));
}

Result<std::vector<ArtifactInfo>> PostgresStore::listArtifacts(const std::string& service) {
  if (service.empty()) return queryArtifacts("ORDER BY service, pushed_ms DESC, id DESC", {});
  return queryArtifacts("WHERE service = $1 ORDER BY pushed_ms DESC, id DESC", {service});
}

Status PostgresStore::addArtifact(const ArtifactInfo& a) {
  return write(
      "INSERT INTO artifacts(service, version, sha256, size_bytes, signature, pushed_ms, "
      "pushed_by) VALUES($1, $2, $3, $4, $5, $6, $7)",
      {a.service, a.version, a.sha256, a.sizeBytes, pg::Param::bytes(a.signature), a.pushedMillis,
       a.pushedBy});
}

Status PostgresStore::setArtifactSignature(const std::string& service, const std::string& version,
                                           const std::string& signature) {
  return write("UPDATE artifacts SET signature = $3 WHERE service = $1 AND version = $2",
               {service, version, pg::Param::bytes(signature)});
}

Status insertArtifactContent(pg::Connection& conn, const std::string& sha256,
                             const std::string& path) {
  auto present = conn.exec("SELECT count(*) FROM artifact_content WHERE sha256 = $1", {sha256});
  if (!present) return present.error();
  if (present->integer(0, 0) > 0) return {};  // content-addressed: already kept
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError("cannot read artifact " + path + " to keep it in PostgreSQL");
  std::string chunk(kContentChunkBytes, '\0');
  for (int index = 0;; ++index) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    auto rows = conn.exec(
        "INSERT INTO artifact_content(sha256, chunk, data) VALUES($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        {sha256, index, pg::Param::bytes(chunk.substr(0, got))});
    if (!rows) return rows.error();
    if (got < chunk.size()) break;
  }
  if (in.bad()) return makeError("cannot read artifact " + path + " to keep it in PostgreSQL");
  return {};
}

Status PostgresStore::saveArtifactContent(const std::string& sha256, const std::string& path) {
  return fenced([&]() { return insertArtifactContent(*conn_, sha256, path); });
}

Result<bool> PostgresStore::restoreArtifactContent(const std::string& sha256,
                                                   const std::string& path) {
  // One query, the chunks in order; a gap (a chunk missing) is an error naming it.
  auto rows = read("SELECT chunk, data FROM artifact_content WHERE sha256 = $1 ORDER BY chunk",
                   {sha256});
  if (!rows) return rows.error();
  if (rows->empty()) return false;
  std::string bytes;
  for (int i = 0; i < rows->size(); ++i) {
    if (rows->integer(i, 0) != i) {
      return makeError("artifact " + sha256 + ": chunk " + std::to_string(i) +
                       " is missing in PostgreSQL");
    }
    bytes += rows->bytes(i, 1);
  }
  if (sha256Hex(bytes) != sha256) {
    return makeError("artifact " + sha256 + ": the bytes kept in PostgreSQL have another digest");
  }
  sys::PosixEnv env;
  if (auto status = sys::writeFileAtomically(env, path, bytes, 0600); !status) {
    return status.error();
  }
  return true;
}

}  // namespace rollgate::coordinator
