// PostgresStore: the Store backend in PostgreSQL, for coordinators that share one database and
// take turns leading (leader_lease.h). It keeps everything the SQLite backend keeps, in tables of
// the same names and columns (so `rollgate-coordinator migrate-store` copies one into the other
// table by table), and artifacts' bytes too (artifact_content, in 1 MiB chunks), so that a
// standby that takes over can serve every artifact the old leader stored.
//
// Fencing: every write runs in a transaction that starts with rollgate_fence(epoch, holder), which
// takes a share lock on the lease row and fails unless the lease is still this coordinator's epoch
// and unexpired. A leader that lost the lease therefore stores nothing more, and a write that
// fails that way says so ("epoch N no longer holds the leader lease"). Reads are not fenced.
//
// A connection found gone when a call begins is connected again, for up to 5 s, before the call
// (PostgreSQL restarted: the call waits and carries on). A connection lost mid-call fails that
// call (the caller's failure policy applies, as for a full disk with SQLite).
//
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/pg.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class PostgresStore final : public Store {
 public:
  // Connects, creates or checks the schema, and fences writes with (epoch, holder), the lease
  // this coordinator holds.
  static Result<std::unique_ptr<PostgresStore>> open(const std::string& url, std::uint64_t epoch,
                                                     const std::string& holder);
  // Connects and creates or checks the schema only (the migration writes with its own fence).
  static Result<std::unique_ptr<PostgresStore>> openUnfenced(const std::string& url);

  std::uint64_t epoch() const override { return epoch_; }

  Status saveHost(const HostInfo& host) override;
  Status saveLastContacts(
      const std::vector<std::pair<std::string, std::uint64_t>>& contacts) override;
  Status deleteHost(const std::string& name) override;
  Result<std::vector<HostInfo>> loadHosts() override;

  Status recordEvent(const EventRecord& event) override;
  Status saveRegistrations(const std::vector<HostInfo>& hosts,
                           const std::vector<EventRecord>& events) override;
  bool sharesEnrollments() const override { return true; }
  Status saveEnrollments(const std::vector<EnrollmentRecord>& records) override;
  Result<std::vector<EnrollmentRecord>> loadEnrollments() override;
  Result<std::vector<EventRecord>> eventsOf(const std::string& rolloutId) override;

  Status saveAbort(const AbortState& state) override;
  Result<std::vector<AbortState>> loadAborts() override;
  Status setFrozen(const std::optional<FreezeState>& freeze) override;
  Result<std::optional<FreezeState>> frozen() override;

  Result<std::uint64_t> nextRolloutSeq() override;
  Status createRollout(const RolloutRecord& rollout) override;
  Status saveRollout(const RolloutRecord& rollout) override;
  Status saveCommandRefs(const std::string& rolloutId,
                         const std::map<std::uint64_t, CommandRef>& refs) override;
  Result<std::optional<RolloutRecord>> loadRollout(const std::string& id) override;
  Result<std::vector<RolloutRecord>> unfinishedRollouts() override;
  Result<std::vector<std::string>> recentRolloutIds(std::size_t limit) override;
  Status recordCheck(const CheckRecord& check) override;
  Result<std::vector<CheckRecord>> checksOf(const std::string& rolloutId) override;

  Status appendJournal(const std::string& rolloutId,
                       const std::vector<std::string>& lines) override;
  Result<JournalUsage> pruneJournals(std::uint64_t capBytes) override;
  Status saveLabel(const RolloutLabelRecord& label) override;
  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) override;
  Result<std::vector<RevertRecord>> revertsOf(const std::string& service) override;

  Result<std::uint64_t> nextRevertSeq() override;
  Status saveRevert(const RevertRecord& revert) override;
  Result<std::optional<RevertRecord>> loadRevert(const std::string& id) override;
  Result<std::vector<RevertRecord>> unfinishedReverts() override;

  Result<std::vector<std::string>> loadTrainStates() override;
  Status saveTrain(const std::string& service, const std::string& stateJson,
                   const std::vector<TrainCandidateRow>& candidates) override;
  Result<std::vector<TrainCandidateRow>> loadCandidates(const std::string& service) override;
  Status recordTrainEvent(const TrainEventRecord& event) override;
  Result<std::vector<TrainEventRecord>> trainEvents(const std::string& service,
                                                    std::size_t limit) override;

  Status saveConsoleToken(const ConsoleTokenRecord& token) override;
  Result<std::optional<ConsoleTokenRecord>> findConsoleToken(const std::string& sha256Hex) override;

  Status appendWindows(const std::vector<WindowRow>& windows) override;
  Result<std::unique_ptr<Store>> openIngestConnection() override;
  Result<std::vector<TelemetryWindow>> latestWindows(const std::string& host,
                                                     const std::string& service,
                                                     std::uint32_t last) override;
  Result<std::vector<StoredWindow>> windowsSince(const std::string& service,
                                                 const std::vector<std::string>& hosts,
                                                 std::uint64_t sinceMillis) override;
  Result<std::uint64_t> pruneWindows(std::uint64_t beforeMillis) override;
  Result<std::uint64_t> pruneEvents(std::uint64_t beforeMillis, std::uint64_t keepRows) override;

  Result<std::optional<ArtifactInfo>> findArtifact(const std::string& service,
                                                   const std::string& version) override;
  Result<std::optional<ArtifactInfo>> findArtifactBySha(const std::string& sha256) override;
  Result<std::vector<ArtifactInfo>> listArtifacts(const std::string& service) override;
  Status addArtifact(const ArtifactInfo& artifact) override;
  Status setArtifactSignature(const std::string& service, const std::string& version,
                              const std::string& signature) override;
  Status saveArtifactContent(const std::string& sha256, const std::string& path) override;
  Result<bool> restoreArtifactContent(const std::string& sha256, const std::string& path) override;

  // The migration's raw access (migrate_store.cpp): the connection and the fence's BEGIN.
  pg::Connection& connection() { return *conn_; }
  // The leader's own view of its lease (LeaderLease::valid). Once it says no, every call fails at
  // once instead of waiting for a database this coordinator may no longer reach, so the loop gets
  // to its step-down without delay.
  void setLeaseCheck(std::function<bool()> valid) { leaseValid_ = std::move(valid); }

 private:
  PostgresStore(std::unique_ptr<pg::Connection> conn, std::uint64_t epoch, std::string holder);
  Status migrate();
  // Connects again when the connection is gone (see postgres_store.cpp).
  Status connected();
  // Runs `write` in a fenced transaction (see above) and commits.
  template <typename Write>
  Status fenced(Write&& write);
  // One fenced statement.
  Status write(const std::string& sql, const std::vector<pg::Param>& params);
  Result<pg::Rows> read(const std::string& sql, const std::vector<pg::Param>& params = {});
  Result<std::vector<RolloutRecord>> queryRollouts(const std::string& where,
                                                   const std::vector<pg::Param>& params);
  Result<std::vector<ArtifactInfo>> queryArtifacts(const std::string& where,
                                                   const std::vector<pg::Param>& params);

  std::unique_ptr<pg::Connection> conn_;
  std::uint64_t epoch_ = 0;
  std::string holder_;
  std::string fenceBegin_;
  std::function<bool()> leaseValid_;
};

// Reads the backtest worker's connection (BacktestReader) asks as the store does: the statement
// ($1: the rollout id, or the service) and the decoding of its rows.
extern const char* const kLabelOfSql;
extern const char* const kRevertsOfSql;
std::optional<RolloutLabelRecord> labelRow(const pg::Rows& rows);
std::vector<RevertRecord> revertRows(const pg::Rows& rows);

// Keeps the bytes of the file at `path` (content `sha256`) in artifact_content, in the caller's
// transaction; nothing when they are kept already.
Status insertArtifactContent(pg::Connection& conn, const std::string& sha256,
                             const std::string& path);

}  // namespace rollgate::coordinator
