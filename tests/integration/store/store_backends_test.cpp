// One Store interface, two backends: the same sequence of writes is read back identically from
// SqliteStore and PostgresStore (a real PostgreSQL 15 started here). The leader lease: one
// coordinator at a time, the epoch going up at every takeover, and a store fenced by an old epoch
// refused every write. migrate-store copies a SQLite state into PostgreSQL, readable the same.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/codec.h"
#include "common/gate_json.h"
#include "common/hex.h"
#include "common/sha256.h"
#include "coordinator/store/backtest_reader.h"
#include "coordinator/store/leader_lease.h"
#include "coordinator/store/migrate_store.h"
#include "coordinator/store/pg.h"
#include "coordinator/store/postgres_store.h"
#include "coordinator/store/record_codec.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/support/postgres/postgres_server.h"
#include "tests/support/skip.h"

using namespace rollgate;
using namespace rollgate::coordinator;
using rollgate::testing::PostgresServer;
using rollgate::testing::TempDir;

namespace {

template <typename T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return std::move(*r);
}
void must(Status s) { REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message)); }

TelemetryWindow window(const std::string& release, std::uint64_t end, std::uint64_t requests) {
  TelemetryWindow w;
  w.service = "web";
  w.release = release;
  w.startMillis = end - 1000;
  w.endMillis = end;
  w.requests = requests;
  w.status2xx = requests - 3;
  w.status5xx = 3;
  w.latencySampleMicros = {1200, 3400, 99000};
  return w;
}

// Writes a bit of everything, then reads everything back into one JSON document.
nlohmann::json exercise(Store& store, const std::string& artifactFile) {
  HostInfo host{"eu-a-1", "eu", "eu-a", "1.0", {{"web", "1.0.0", {"0.9.0", "1.0.0"}}}, 1000,
                false, false, "eu-a-1.example", {}};
  must(store.saveHost(host));
  host.name = "eu-a-2";
  must(store.saveHost(host));
  must(store.saveLastContacts({{"eu-a-1", 5000}, {"eu-a-2", 6000}}));
  // A batch of hellos: the same host twice keeps its last registration; the events keep order.
  HostInfo first = host;
  first.name = "eu-b-1";
  first.region = "eu-first";
  HostInfo again = first;
  again.region = "eu";
  again.lastContactMillis = 7000;
  must(store.saveRegistrations({first, again},
                               {{12, "host_registered", "eu-b-1", "r1", "eu/eu-b"},
                                {13, "host_reconnected", "eu-b-1", "r1", "eu/eu-b"}}));
  must(store.deleteHost("nobody"));
  must(store.recordEvent({10, "rollout", "", "r1", "started"}));
  must(store.recordEvent({11, "host_silent", "eu-a-1", "r1", "it's \"quiet\"; \\ ok"}));
  AbortState abort;
  abort.abort.abortId = 7;
  abort.abort.reason = "bad deploy";
  abort.targets = {"eu-a-1", "eu-a-2"};
  abort.ackedAtMillis = {{"eu-a-1", 99}};
  must(store.saveAbort(abort));
  must(store.setFrozen(FreezeState{"alice", "incident 42", 1234}));
  RolloutRecord r;
  r.id = "r1";
  r.seq = must(store.nextRolloutSeq());
  r.service = "web";
  r.version = "1.1.0";
  r.status = "installing";
  r.createdMillis = 100;
  r.updatedMillis = 100;
  r.stateJson = R"({"k":"v"})";
  r.startedBy = "alice";
  must(store.createRollout(r));
  must(store.saveCommandRefs("r1", {{1, CommandRef{"r1", 1, 3}}}));
  r.status = "succeeded";
  r.finished = true;
  r.commandRefs = {{1, CommandRef{"r1", 1, 3}}, {2, CommandRef{"r1", 2, 4}}};
  must(store.saveRollout(r));
  CheckRecord check;
  check.rolloutId = "r1";
  check.atMillis = 200;
  check.step = 1;
  check.stage = "canary";
  check.region = "eu";
  check.canaryHosts = {"eu-a-1"};
  check.comparisonHosts = {"eu-a-2"};
  check.result.name = "http_5xx";
  check.result.statistic = std::nan("");
  check.result.pValue = 0.25;
  must(store.recordCheck(check));
  must(store.appendJournal("r1", {"{\"a\":1}", "{\"b\":2}"}));
  must(store.saveLabel({"r1", "good", "fine", "alice", 300}));
  must(store.saveRevert({"v1", must(store.nextRevertSeq()), "web", false, "{}"}));
  must(store.saveTrain("web", "{\"train\":1}", {{"web", 1, "abc123", "{}"}}));
  must(store.recordTrainEvent({400, "web", "picked", "abc123", "r1", "picked abc123"}));
  must(store.saveConsoleToken({"ff00", "alice", "operator", 1, 2, "root"}));
  // Telemetry goes through the ingest thread's connection of its own. The second window comes
  // with the frame its agent sent, which is what is stored: its samples differ from the decoded
  // copy's here to tell the two apart.
  auto ingest = must(store.openIngestConnection());
  REQUIRE(ingest != nullptr);
  TelemetryWindow sent = window("1.1.0", 3000, 120);
  sent.latencySampleMicros = {7};
  must(ingest->appendWindows({windowRow("eu-a-1", window("1.0.0", 2000, 100)),
                              windowRow("eu-a-1", window("1.1.0", 3000, 120),
                                        encode(AgentMessage{TelemetryReport{{sent}, true}})),
                              windowRow("eu-a-2", window("1.0.0", 3000, 80))}));
  must(store.addArtifact({"web", "1.1.0", sha256Hex("bytes"), 5, "sig\0bytes", 500, "alice"}));
  must(store.setArtifactSignature("web", "1.1.0", std::string("new\0sig", 7)));
  must(store.saveArtifactContent(sha256Hex("bytes"), artifactFile));

  nlohmann::json out;
  for (const auto& h : must(store.loadHosts())) {
    out["hosts"].push_back({h.name, h.region, h.cluster, h.agentVersion, h.lastContactMillis,
                            h.claimedHost, h.services.size()});
  }
  for (const auto& e : must(store.eventsOf("r1"))) {
    out["events"].push_back({e.atMillis, e.kind, e.host, e.message});
  }
  for (const auto& a : must(store.loadAborts())) {
    out["aborts"].push_back({a.abort.abortId, a.abort.reason, a.targets, a.ackedAtMillis});
  }
  auto freeze = must(store.frozen());
  out["frozen"] = freeze ? nlohmann::json{freeze->by, freeze->reason, freeze->sinceMillis}
                         : nlohmann::json();
  must(store.setFrozen(std::nullopt));
  out["thawed"] = !must(store.frozen()).has_value();
  auto loaded = must(store.loadRollout("r1"));
  REQUIRE(loaded.has_value());
  out["rollout"] = {loaded->status, loaded->finished, loaded->stateJson, loaded->commandRefs.size(),
                    loaded->commandRefs[2].epoch, loaded->startedBy};
  out["unfinished"] = must(store.unfinishedRollouts()).size();
  out["recent"] = must(store.recentRolloutIds(5));
  out["next_seq"] = must(store.nextRolloutSeq());
  for (const auto& c : must(store.checksOf("r1"))) {
    out["checks"].push_back({c.step, c.stage, c.canaryHosts, c.comparisonHosts, c.result.name,
                             std::isnan(c.result.statistic), c.result.pValue});
  }
  auto usage = must(store.pruneJournals(1 << 20));
  out["journal"] = {usage.bytes, usage.rollouts, usage.droppedRollouts};
  auto label = must(store.labelOf("r1"));
  out["label"] = label ? nlohmann::json{label->label, label->reason, label->by} : nlohmann::json();
  out["reverts"] = must(store.unfinishedReverts()).size();
  out["reverts_of"] = must(store.revertsOf("web")).size();
  out["train"] = must(store.loadTrainStates());
  out["candidates"] = must(store.loadCandidates("web")).size();
  for (const auto& e : must(store.trainEvents("web", 10))) out["train_events"].push_back(e.kind);
  auto token = must(store.findConsoleToken("ff00"));
  out["token"] = token ? token->operatorName : "";
  for (const auto& w : must(store.latestWindows("eu-a-1", "web", 5))) {
    out["latest"].push_back({w.release, w.endMillis, w.requests, w.latencySampleMicros});
  }
  for (const auto& w : must(store.windowsSince("web", {"eu-a-1", "eu-a-2", "nobody"}, 2500))) {
    out["since"].push_back({w.host, w.window.release});
  }
  out["since_of_one_host"] = must(store.windowsSince("web", {"eu-a-2"}, 0)).size();
  out["pruned"] = must(store.pruneWindows(2500));
  auto artifact = must(store.findArtifact("web", "1.1.0"));
  REQUIRE(artifact.has_value());
  out["artifact"] = {artifact->sha256, artifact->sizeBytes, artifact->signature == std::string("new\0sig", 7)};
  out["artifacts"] = must(store.listArtifacts("")).size();
  out["duplicate_artifact_refused"] =
      !store.addArtifact({"web", "1.1.0", std::string(64, 'b'), 5, "", 600, "bob"}).ok();
  out["events_pruned"] = must(store.pruneEvents(0, 1));
  return out;
}

// What a backtest reads, through the reader's connection of its own, as one JSON document.
nlohmann::json readBacktest(BacktestReader& reader) {
  nlohmann::json out;
  for (const auto& r : must(reader.rollouts("", 0, UINT64_MAX))) {
    out["rollouts"].push_back({r.id, r.seq, r.service, r.version, r.finished, r.createdMillis,
                               r.stateJson});
  }
  out["of_web"] = must(reader.rolloutsOf("web")).size();
  out["created_later"] = must(reader.rollouts("web", 101, 200)).size();  // r1 was created at 100
  out["journal"] = must(reader.journal("r1"));
  auto label = must(reader.labelOf("r1"));
  out["label"] = label ? nlohmann::json{label->label, label->reason, label->by, label->atMillis}
                       : nlohmann::json();
  out["reverts"] = must(reader.revertsOf("web")).size();
  auto usage = must(reader.usage());
  out["usage"] = {usage.bytes, usage.rollouts, usage.droppedRollouts};
  return out;
}

}  // namespace

TEST_CASE("the same writes read back the same from SQLite and PostgreSQL") {
  if (!rollgate::testing::requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = must(PostgresServer::start());
  TempDir dir("rollgate-store-backends");
  rollgate::testing::writeFile(dir.file("artifact"), "bytes");
  auto sqlite = must(SqliteStore::open(dir.file("state")));
  nlohmann::json fromSqlite = exercise(*sqlite, dir.file("artifact"));
  auto postgres = must(PostgresStore::openUnfenced(pg->url()));
  nlohmann::json fromPostgres = exercise(*postgres, dir.file("artifact"));
  CHECK(fromSqlite.dump(1) == fromPostgres.dump(1));
  // A backtest reads the same, on a read-only connection of its own, from either backend.
  nlohmann::json backtestSqlite = readBacktest(*must(BacktestReader::open(dir.file("state"))));
  nlohmann::json backtestPostgres = readBacktest(*must(BacktestReader::open("", pg->url())));
  CHECK(backtestSqlite.dump(1) == backtestPostgres.dump(1));
  CHECK(fromPostgres["since"].size() == 2);
  CHECK(fromPostgres["since_of_one_host"] == 1);
  CHECK(backtestPostgres["rollouts"].size() == 1);
  CHECK(backtestPostgres["journal"] == nlohmann::json{"{\"a\":1}", "{\"b\":2}"});
  CHECK(backtestPostgres["label"][0] == "good");
  CHECK(backtestPostgres["created_later"] == 0);
  CHECK(fromPostgres["hosts"].dump().find(R"(["eu-b-1","eu","eu-a","1.0",7000)") !=
        std::string::npos);
  CHECK(fromPostgres["events"].dump().find("host_registered") <
        fromPostgres["events"].dump().find("host_reconnected"));
  // PostgreSQL keeps the artifact's bytes: a coordinator that takes over can serve them.
  CHECK(must(postgres->restoreArtifactContent(sha256Hex("bytes"), dir.file("restored"))));
  CHECK(rollgate::testing::readFile(dir.file("restored")) == "bytes");
  CHECK_FALSE(must(sqlite->restoreArtifactContent(sha256Hex("bytes"), dir.file("none"))));

  // Enrollments are kept where coordinators share the store; SQLite's agents_dir is its record.
  const EnrollmentRecord a{"web-1", "a-key", false, 1, "alice"};
  const EnrollmentRecord b{"web-2", "b-key", false, 2, "alice"};
  const EnrollmentRecord aRevoked{"web-1", "a-key", true, 3, "bob"};
  CHECK_FALSE(sqlite->sharesEnrollments());
  must(sqlite->saveEnrollments({a, b}));
  CHECK(must(sqlite->loadEnrollments()).empty());
  CHECK(postgres->sharesEnrollments());
  must(postgres->saveEnrollments({a, b}));
  must(postgres->saveEnrollments({a, aRevoked}));  // the same name twice: the last one counts
  CHECK(must(postgres->loadEnrollments()) == std::vector<EnrollmentRecord>{aRevoked, b});
}

TEST_CASE("telemetry is pruned in the order stored, by both backends") {
  if (!rollgate::testing::requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = must(PostgresServer::start());
  TempDir dir("rollgate-store-prune");
  auto sqlite = must(SqliteStore::open(dir.file("state")));
  auto postgres = must(PostgresStore::openUnfenced(pg->url()));
  for (Store* store : {static_cast<Store*>(sqlite.get()), static_cast<Store*>(postgres.get())}) {
    // Stored in this order; 2000 came late (an agent's backlog sent after a disconnect).
    for (std::uint64_t end : {1000, 3000, 2000, 4000, 1500}) {
      must(store->appendWindows({windowRow("h", window("1.0.0", end, 10))}));
    }
    auto ends = [&] {
      std::vector<std::uint64_t> out;
      for (const auto& w : must(store->windowsSince("web", {"h"}, 0))) out.push_back(w.window.endMillis);
      return out;
    };
    CHECK(must(store->pruneWindows(500)) == 0);
    CHECK(must(store->pruneWindows(2500)) == 1);  // 1000; 2000 waits behind 3000
    CHECK(ends() == std::vector<std::uint64_t>{1500, 2000, 3000, 4000});
    CHECK(must(store->pruneWindows(3500)) == 2);  // 3000 and 2000; 1500 waits behind 4000
    CHECK(ends() == std::vector<std::uint64_t>{1500, 4000});
    CHECK(must(store->pruneWindows(5000)) == 2);  // nothing kept: all of them
    CHECK(ends().empty());
  }
}

TEST_CASE("telemetry rows go to PostgreSQL in COPY's binary format") {
  // Checked byte by byte against the format's description (PostgreSQL 15, COPY, "Binary Format");
  // the stores' tests above read back what the server made of it.
  pg::BinaryCopyRows rows;
  rows.beginRow(3);
  rows.text("a\tb");
  rows.int8(-2);
  rows.bytes(std::string("\x00\xff", 2));
  const std::string& data = rows.finish();
  std::string expected("PGCOPY\n\xff\r\n\0", 11);     // the signature
  expected += std::string(8, '\0');                   // flags, header extension
  expected += std::string("\0\x03", 2);               // 3 fields
  expected += std::string("\0\0\0\x03", 4) + "a\tb";  // length, bytes
  expected += std::string("\0\0\0\x08", 4);           // int8: 8 bytes
  expected += std::string(7, '\xff') + "\xfe";        // -2, big endian
  expected += std::string("\0\0\0\x02\x00\xff", 6);   // the bytea
  expected += "\xff\xff";                             // trailer: -1
  CHECK(data == expected);
}

TEST_CASE("a telemetry table made before keeps its rows: C collation, flat frames read back") {
  if (!rollgate::testing::requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = must(PostgresServer::start());
  auto conn = must(pg::Connection::open(pg->url()));
  // The table as rollgate made it before: names in the database's collation, windows stored flat.
  must(conn->run(R"sql(
    CREATE TABLE telemetry(
      id BIGSERIAL PRIMARY KEY, host TEXT NOT NULL, service TEXT NOT NULL,
      release TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
      requests BIGINT NOT NULL, status_5xx BIGINT NOT NULL, "window" BYTEA NOT NULL);
    CREATE INDEX telemetry_host_service ON telemetry(host, service, end_ms);
  )sql"));
  const TelemetryWindow old = window("1.0.0", 1000, 40);
  must(conn->run("INSERT INTO telemetry(host, service, release, start_ms, end_ms, requests, "
                 "status_5xx, \"window\") VALUES('h', 'web', '1.0.0', 0, 1000, 40, 3, decode('" +
                 toHex(encodeWindow(old)) + "', 'hex'))"));
  auto collation = [&] {
    auto rows = must(conn->exec(
        "SELECT COALESCE(collation_name, '') FROM information_schema.columns WHERE "
        "table_name = 'telemetry' AND column_name IN ('host', 'service') ORDER BY column_name"));
    REQUIRE(rows.size() == 2);
    return rows.text(0, 0) + "," + rows.text(1, 0);
  };
  CHECK(collation() == ",");

  auto store = must(PostgresStore::openUnfenced(pg->url()));
  CHECK(collation() == "C,C");
  auto ingest = must(store->openIngestConnection());
  const TelemetryWindow now = window("1.1.0", 2000, 50);
  must(ingest->appendWindows({windowRow("h", now)}));
  auto read = must(store->latestWindows("h", "web", 10));
  REQUIRE(read.size() == 2);
  CHECK(read[0] == old);  // flat, as stored before
  CHECK(read[1] == now);  // packed
  auto since = must(store->windowsSince("web", {"h"}, 0));
  CHECK(since.size() == 2);
  store.reset();
  CHECK(must(PostgresStore::openUnfenced(pg->url()))->latestWindows("h", "web", 10)->size() == 2);
}

TEST_CASE("one leader at a time; a store fenced by an old epoch writes nothing") {
  if (!rollgate::testing::requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = must(PostgresServer::start());
  SystemClock clock;
  LeaseSettings a{pg->url(), "a", "tcp://127.0.0.1:1", 2000, "https://a.example:7443/"};
  LeaseSettings b{pg->url(), "b", "tcp://127.0.0.1:2", 2000, ""};  // no console
  auto leaseA = must(LeaderLease::open(a, clock));
  auto leaseB = must(LeaderLease::open(b, clock));
  auto epochA = must(leaseA->tryAcquire());
  REQUIRE(epochA.has_value());
  CHECK_FALSE(must(leaseB->tryAcquire()).has_value());  // held
  auto current = must(leaseB->current());
  REQUIRE(current.has_value());
  CHECK(current->id == "a");
  CHECK(current->epoch == *epochA);
  CHECK(current->consoleUrl == "https://a.example:7443/");  // where B's console sends operators
  CHECK(leaseA->valid(clock.steadyMillis()));

  auto storeA = must(PostgresStore::open(pg->url(), *epochA, leaseA->holder()));
  must(storeA->recordEvent({1, "rollout", "", "r1", "written while leading"}));
  auto ingestA = must(storeA->openIngestConnection());  // the telemetry ingest thread's
  must(ingestA->appendWindows({windowRow("h", window("1.0.0", 1000, 1))}));

  // A is not renewing (a frozen leader): its lease runs out, B takes it with a higher epoch.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  CHECK_FALSE(leaseA->valid(clock.steadyMillis()));
  auto epochB = must(leaseB->tryAcquire());
  REQUIRE(epochB.has_value());
  CHECK(*epochB == *epochA + 1);
  leaseB->startRenewing();
  auto taken = must(leaseA->current());
  REQUIRE(taken.has_value());
  CHECK(taken->id == "b");
  CHECK(taken->consoleUrl.empty());  // B serves no console: standbys say so, redirect nowhere

  // Every write of the old leader is refused, saying why; reads still work.
  auto late = storeA->recordEvent({2, "rollout", "", "r1", "late write"});
  REQUIRE_FALSE(late.ok());
  CHECK_MESSAGE(late.error().message.find("epoch " + std::to_string(*epochA) +
                                          " no longer holds the leader lease") != std::string::npos,
                late.error().message);
  CHECK_FALSE(storeA->saveHost(HostInfo{"h", "r", "c", "1", {}, 1, false, false, "h", {}}).ok());
  CHECK_FALSE(ingestA->appendWindows({windowRow("h", window("1.0.0", 1000, 1))}).ok());
  CHECK(must(storeA->eventsOf("r1")).size() == 1);

  auto storeB = must(PostgresStore::open(pg->url(), *epochB, leaseB->holder()));
  must(storeB->recordEvent({3, "rollout", "", "r1", "written by the new leader"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // renewed meanwhile
  CHECK(leaseB->valid(clock.steadyMillis()));
  must(storeB->recordEvent({4, "rollout", "", "r1", "still leading"}));
  CHECK(must(storeB->eventsOf("r1")).size() == 3);

  // A clean stop gives the lease up at once.
  leaseB->release();
  CHECK(must(leaseA->tryAcquire()).has_value());
}

TEST_CASE("migrate-store copies a SQLite state into PostgreSQL; the lease continues its epoch") {
  if (!rollgate::testing::requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = must(PostgresServer::start());
  TempDir dir("rollgate-migrate");
  rollgate::testing::writeFile(dir.file("artifact"), "bytes");
  std::uint64_t sqliteEpoch = 0;
  nlohmann::json before;
  {
    auto sqlite = must(SqliteStore::open(dir.file("state")));
    before = exercise(*sqlite, dir.file("artifact"));
    sqliteEpoch = sqlite->epoch();
  }
  // The artifact's bytes as the coordinator keeps them.
  std::filesystem::create_directories(dir.file("state/artifacts"));
  rollgate::testing::writeFile(dir.file("state/artifacts/" + sha256Hex("bytes")), "bytes");

  std::vector<std::string> progress;
  auto summary = must(migrateSqliteToPostgres(
      dir.file("state"), pg->url(), [&](const std::string& l) { progress.push_back(l); }));
  CHECK_MESSAGE(summary.find("3 hosts") != std::string::npos, summary);
  CHECK_MESSAGE(summary.find("rollgate:***@") != std::string::npos, summary);
  CHECK_FALSE(progress.empty());

  auto postgres = must(PostgresStore::openUnfenced(pg->url()));
  CHECK(must(postgres->loadHosts()).size() == 3);
  auto rollout = must(postgres->loadRollout("r1"));
  REQUIRE(rollout.has_value());
  CHECK(rollout->commandRefs.size() == 2);
  CHECK(must(postgres->checksOf("r1")).size() == 1);
  CHECK(must(postgres->latestWindows("eu-a-2", "web", 5)).size() == 1);
  CHECK(must(postgres->restoreArtifactContent(sha256Hex("bytes"), dir.file("restored"))));
  CHECK(rollgate::testing::readFile(dir.file("restored")) == "bytes");
  // New rows continue after the copied ids.
  must(postgres->recordEvent({20, "rollout", "", "r1", "after the move"}));
  CHECK(must(postgres->eventsOf("r1")).back().message == "after the move");

  SystemClock clock;
  auto lease = must(LeaderLease::open({pg->url(), "c0", "tcp://127.0.0.1:1", 2000, ""}, clock));
  auto epoch = must(lease->tryAcquire());
  REQUIRE(epoch.has_value());
  CHECK(*epoch > sqliteEpoch);  // continues from the SQLite store's epoch

  // Into a database that already holds state: refused, naming it.
  auto again = migrateSqliteToPostgres(dir.file("state"), pg->url(), {});
  REQUIRE_FALSE(again.ok());
  const std::string& refusal = again.error().message;
  const bool named = refusal.find("leads on") != std::string::npos ||
                     refusal.find("already holds rollgate state") != std::string::npos;
  CHECK_MESSAGE(named, refusal);
}

TEST_CASE("URLs are shown without their password") {
  CHECK(pg::redactUrl("postgresql://rollgate:s3cret@db:5432/rollgate") ==
        "postgresql://rollgate:***@db:5432/rollgate");
  CHECK(pg::redactUrl("postgresql://db/rollgate?password=s3cret&sslmode=require") ==
        "postgresql://db/rollgate?password=***&sslmode=require");
  CHECK(pg::redactUrl("postgresql://rollgate@db/rollgate") == "postgresql://rollgate@db/rollgate");
}
