#include "coordinator/store/leader_lease.h"

#include <sodium.h>
#include <unistd.h>

#include <chrono>

namespace rollgate::coordinator {
namespace {

// The schema version this rollgate writes; a database with a higher one is refused.
constexpr std::int64_t kSchemaVersion = 1;

std::string hexNonce() {
  unsigned char bytes[6];
  randombytes_buf(bytes, sizeof(bytes));
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

}  // namespace

Status createLeaseSchema(pg::Connection& conn) {
  // Serialised between coordinators starting at once (CREATE ... IF NOT EXISTS is not safe
  // against a concurrent creator); the lock is the transaction's and goes with it.
  pg::Transaction tx(conn, "BEGIN; SELECT pg_advisory_xact_lock(7400740)");
  if (!tx.status()) return tx.status();
  auto status = conn.run(R"sql(
    CREATE TABLE IF NOT EXISTS rollgate_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS rollgate_lease(
      name TEXT PRIMARY KEY, epoch BIGINT NOT NULL, holder TEXT NOT NULL,
      coordinator_id TEXT NOT NULL, admin_endpoint TEXT NOT NULL, since_ms BIGINT NOT NULL,
      expires_at TIMESTAMPTZ NOT NULL);
    INSERT INTO rollgate_lease VALUES('leader', 0, '', '', '', 0, '-infinity')
      ON CONFLICT (name) DO NOTHING;
    CREATE TABLE IF NOT EXISTS rollgate_consoles(
      coordinator_id TEXT PRIMARY KEY, url TEXT NOT NULL, updated_ms BIGINT NOT NULL);
    CREATE OR REPLACE FUNCTION rollgate_fence(lease_epoch BIGINT, lease_holder TEXT)
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM rollgate_lease WHERE name = 'leader' AND epoch = lease_epoch
        AND holder = lease_holder AND expires_at > clock_timestamp() FOR SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'rollgate: epoch % no longer holds the leader lease; write refused',
          lease_epoch USING ERRCODE = 'RG001';
      END IF;
    END $$;
  )sql");
  if (!status) return status;
  auto version = conn.exec("SELECT value FROM rollgate_meta WHERE key = 'schema_version'");
  if (!version) return version.error();
  if (!version->empty() && std::stoll(version->text(0, 0)) > kSchemaVersion) {
    return makeError("PostgreSQL " + conn.redactedUrl() + " holds a rollgate schema of version " +
                     version->text(0, 0) + ", newer than this rollgate's " +
                     std::to_string(kSchemaVersion) + "; upgrade this coordinator");
  }
  if (version->empty()) {
    auto set = conn.exec("INSERT INTO rollgate_meta(key, value) VALUES('schema_version', $1)",
                         {std::to_string(kSchemaVersion)});
    if (!set) return set.error();
  }
  return tx.commit();
}

Result<std::unique_ptr<LeaderLease>> LeaderLease::open(const LeaseSettings& settings,
                                                       const Clock& clock) {
  auto conn = pg::Connection::open(settings.url);
  if (!conn) return conn.error();
  if (auto status = createLeaseSchema(**conn); !status) return status.error();
  // Its console's address, or none: a console turned off since is not advertised any more.
  auto published = (*conn)->exec(
      "INSERT INTO rollgate_consoles(coordinator_id, url, updated_ms) VALUES($1, $2, $3) "
      "ON CONFLICT (coordinator_id) "
      "DO UPDATE SET url = EXCLUDED.url, updated_ms = EXCLUDED.updated_ms",
      {settings.coordinatorId, settings.consoleUrl, clock.nowMillis()});
  if (!published) return published.error();
  return std::unique_ptr<LeaderLease>(new LeaderLease(settings, clock, std::move(*conn)));
}

LeaderLease::LeaderLease(LeaseSettings settings, const Clock& clock,
                         std::unique_ptr<pg::Connection> conn)
    : settings_(std::move(settings)), clock_(clock), conn_(std::move(conn)) {
  holder_ = settings_.coordinatorId + "/" + std::to_string(::getpid()) + "-" + hexNonce();
}

LeaderLease::~LeaderLease() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

Result<std::optional<std::uint64_t>> LeaderLease::tryAcquire() {
  if (!conn_->ok() && !conn_->reset()) {
    return makeError("PostgreSQL " + conn_->redactedUrl() + " is unreachable");
  }
  const std::uint64_t startSteady = clock_.steadyMillis();
  const std::uint64_t nowMillis = clock_.nowMillis();
  auto rows = conn_->exec(
      "UPDATE rollgate_lease SET epoch = epoch + 1, holder = $1, coordinator_id = $2, "
      "admin_endpoint = $3, since_ms = $4, "
      "expires_at = clock_timestamp() + make_interval(secs => $5::double precision / 1000) "
      // SKIP LOCKED: a row locked by the old leader's write in flight (or by its session that
      // stopped mid-transaction, until the server ends it) is not waited for: this call returns
      // at once and the proof of the lease is measured from its start.
      "WHERE name = (SELECT name FROM rollgate_lease WHERE name = 'leader' "
      "AND expires_at <= clock_timestamp() FOR UPDATE SKIP LOCKED) RETURNING epoch",
      {holder_, settings_.coordinatorId, settings_.adminEndpoint, nowMillis,
       settings_.leaseMillis});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::uint64_t>();
  epoch_ = static_cast<std::uint64_t>(rows->integer(0, 0));
  sinceMillis_ = nowMillis;
  validUntilSteady_.store(startSteady + settings_.leaseMillis - settings_.leaseMillis / 5);
  return std::optional<std::uint64_t>(epoch_);
}

Result<std::optional<LeaderInfo>> LeaderLease::current() {
  if (!conn_->ok() && !conn_->reset()) {
    return makeError("PostgreSQL " + conn_->redactedUrl() + " is unreachable");
  }
  auto rows = conn_->exec(
      "SELECT l.coordinator_id, l.admin_endpoint, l.epoch, l.since_ms, COALESCE(c.url, '') "
      "FROM rollgate_lease l LEFT JOIN rollgate_consoles c ON c.coordinator_id = l.coordinator_id "
      "WHERE l.name = 'leader' AND l.holder <> '' AND l.expires_at > clock_timestamp()");
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<LeaderInfo>();
  return std::optional<LeaderInfo>(LeaderInfo{
      rows->text(0, 0), rows->text(0, 1), static_cast<std::uint64_t>(rows->integer(0, 2)),
      static_cast<std::uint64_t>(rows->integer(0, 3)), rows->text(0, 4)});
}

void LeaderLease::startRenewing() {
  thread_ = std::thread([this] { renewLoop(); });
}

void LeaderLease::renewLoop() {
  const std::uint64_t every = std::max<std::uint64_t>(settings_.leaseMillis / 4, 100);
  std::uint64_t nextSteady = clock_.steadyMillis() + every;
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::uint64_t now = clock_.steadyMillis();
    if (now < nextSteady) continue;
    nextSteady = now + every;
    if (!conn_->ok() && !conn_->reset()) {
      std::lock_guard<std::mutex> lock(mutex_);
      lostReason_ = "PostgreSQL " + conn_->redactedUrl() + " is unreachable";
      nextSteady = now + 200;  // soon again: the proof runs out unless a renewal succeeds
      continue;
    }
    auto rows = conn_->exec(
        "UPDATE rollgate_lease SET "
        "expires_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000) "
        "WHERE name = 'leader' AND epoch = $1 AND holder = $2 AND expires_at > clock_timestamp() "
        "RETURNING epoch",
        {epoch_, holder_, settings_.leaseMillis});
    if (!rows) {
      std::lock_guard<std::mutex> lock(mutex_);
      lostReason_ = "cannot renew: " + rows.error().message;
      nextSteady = now + 200;
      continue;
    }
    if (rows->empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      lostReason_ = "the lease of epoch " + std::to_string(epoch_) +
                    " expired or was taken by another coordinator";
      validUntilSteady_.store(0);
      return;
    }
    validUntilSteady_.store(now + settings_.leaseMillis - settings_.leaseMillis / 5);
  }
}

void LeaderLease::release() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (epoch_ != 0 && valid(clock_.steadyMillis())) {
    (void)conn_->exec(
        "UPDATE rollgate_lease SET expires_at = '-infinity' "
        "WHERE name = 'leader' AND epoch = $1 AND holder = $2",
        {epoch_, holder_});
  }
  validUntilSteady_.store(0);
}

bool LeaderLease::valid(std::uint64_t steadyMillis) const {
  return steadyMillis < validUntilSteady_.load();
}

LeaderInfo LeaderLease::info() const {
  return LeaderInfo{settings_.coordinatorId, settings_.adminEndpoint, epoch_, sinceMillis_,
                    settings_.consoleUrl};
}

std::string LeaderLease::lostReason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lostReason_.empty() ? "the lease could not be renewed in time" : lostReason_;
}

}  // namespace rollgate::coordinator
