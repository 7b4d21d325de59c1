#include "coordinator/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace rollgate::coordinator {
namespace {

nlohmann::json servicesToJson(const std::vector<ServiceRelease>& services) {
  auto out = nlohmann::json::array();
  for (const auto& s : services) {
    out.push_back({{"service", s.service}, {"active", s.activeRelease}, {"releases", s.releases}});
  }
  return out;
}

std::vector<ServiceRelease> servicesFromJson(const std::string& text) {
  std::vector<ServiceRelease> out;
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_array()) return out;
  for (const auto& s : json) {
    ServiceRelease release;
    release.service = s.value("service", "");
    release.activeRelease = s.value("active", "");
    release.releases = s.value("releases", std::vector<std::string>{});
    out.push_back(std::move(release));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& stateDir) {
  if (::mkdir(stateDir.c_str(), 0750) != 0 && errno != EEXIST) {
    return makeError("state directory " + stateDir + ": " + std::strerror(errno));
  }
  std::string lockPath = stateDir + "/coordinator.lock";
  int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return makeError("lock file " + lockPath + ": " + std::strerror(errno));
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
  std::unique_ptr<Store> store(new Store(std::move(*db), fd));
  if (auto status = store->migrate(); !status) return status.error();
  return store;
}

Store::~Store() {
  db_.reset();
  if (lockFd_ >= 0) ::close(lockFd_);
}

Status Store::migrate() {
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
    INSERT OR IGNORE INTO meta(key, value) VALUES('epoch', '0');
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'epoch';
  )sql");
  if (!status) return status;
  auto stmt = db_->prepare("SELECT value FROM meta WHERE key = 'epoch'");
  if (!stmt) return stmt.error();
  if (stmt->step()) epoch_ = std::stoull(stmt->text(0));
  return stmt->status();
}

Status Store::saveHost(const HostInfo& host) {
  auto stmt = db_->prepare(
      "INSERT INTO hosts(name, region, cluster, agent_version, services, last_contact_ms, "
      "claimed_host) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET "
      "region = ?2, cluster = ?3, agent_version = ?4, services = ?5, last_contact_ms = ?6, "
      "claimed_host = ?7");
  if (!stmt) return stmt.error();
  stmt->bind(1, host.name)
      .bind(2, host.region)
      .bind(3, host.cluster)
      .bind(4, host.agentVersion)
      .bind(5, servicesToJson(host.services).dump())
      .bind(6, static_cast<std::int64_t>(host.lastContactMillis))
      .bind(7, host.claimedHost);
  return stmt->run();
}

Status Store::saveLastContact(const std::string& name, std::uint64_t lastContactMillis) {
  auto stmt = db_->prepare("UPDATE hosts SET last_contact_ms = ?2 WHERE name = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, name).bind(2, static_cast<std::int64_t>(lastContactMillis));
  return stmt->run();
}

Status Store::deleteHost(const std::string& name) {
  auto stmt = db_->prepare("DELETE FROM hosts WHERE name = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, name);
  return stmt->run();
}

Result<std::vector<HostInfo>> Store::loadHosts() {
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

Status Store::recordEvent(std::uint64_t atMillis, const std::string& kind, const std::string& host,
                          const std::string& rolloutId, const std::string& message) {
  auto stmt = db_->prepare(
      "INSERT INTO events(at_ms, kind, host, rollout_id, message) VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(atMillis)).bind(2, kind).bind(3, host).bind(4, rolloutId)
      .bind(5, message);
  return stmt->run();
}

namespace {

nlohmann::json abortToJson(const AbortState& state) {
  nlohmann::json rollBack = nlohmann::json::object();
  for (const auto& [host, services] : state.rollBackByHost) rollBack[host] = servicesToJson(services);
  return {{"id", state.abort.abortId},
          {"rollouts", state.abort.rolloutIds},
          {"reason", state.abort.reason},
          {"roll_back", rollBack},
          {"created_ms", state.createdMillis},
          {"requested_by", state.requestedBy},
          {"targets", state.targets},
          {"acked_ms", state.ackedAtMillis}};
}

AbortState abortFromJson(const nlohmann::json& json) {
  AbortState state;
  state.abort.abortId = json.value("id", std::uint64_t{0});
  state.abort.rolloutIds = json.value("rollouts", std::vector<std::string>{});
  state.abort.reason = json.value("reason", "");
  if (json.contains("roll_back") && json["roll_back"].is_object()) {
    for (const auto& [host, services] : json["roll_back"].items()) {
      state.rollBackByHost[host] = servicesFromJson(services.dump());
    }
  }
  state.createdMillis = json.value("created_ms", std::uint64_t{0});
  state.requestedBy = json.value("requested_by", "");
  state.targets = json.value("targets", std::set<std::string>{});
  state.ackedAtMillis = json.value("acked_ms", std::map<std::string, std::uint64_t>{});
  return state;
}

}  // namespace

Status Store::saveAbort(const AbortState& state) {
  auto stmt = db_->prepare("INSERT OR REPLACE INTO aborts(id, state) VALUES(?1, ?2)");
  if (!stmt) return stmt.error();
  stmt->bind(1, static_cast<std::int64_t>(state.abort.abortId)).bind(2, abortToJson(state).dump());
  return stmt->run();
}

Result<std::vector<AbortState>> Store::loadAborts() {
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

Status Store::setFrozen(const std::optional<std::string>& reason) {
  if (!reason) return db_->exec("DELETE FROM meta WHERE key = 'frozen'");
  auto stmt = db_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('frozen', ?1)");
  if (!stmt) return stmt.error();
  stmt->bind(1, *reason);
  return stmt->run();
}

std::optional<std::string> Store::frozen() {
  auto stmt = db_->prepare("SELECT value FROM meta WHERE key = 'frozen'");
  if (!stmt || !stmt->step()) return std::nullopt;
  return stmt->text(0);
}

}  // namespace rollgate::coordinator
