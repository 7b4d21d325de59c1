// SqliteStore: the Store backend in one SQLite database (WAL, synchronous=FULL) under the
// coordinator's state directory. Only one coordinator may own a state directory: open() takes an
// exclusive lock on `coordinator.lock` and fails, naming the holder's pid, if another process has
// it. Every open bumps the epoch. Tables: meta, hosts, events, aborts, rollouts, checks,
// telemetry, artifacts, reverts, backtest_journal, backtest_usage, rollout_labels; the layout of
// the older tables is that of every earlier release, so an existing state directory opens
// unchanged (reverts and the backtest's tables are created when missing).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <memory>
#include <string>

#include "coordinator/store/sqlite.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class SqliteStore final : public Store {
 public:
  // Creates `stateDir` if needed; the database is `<stateDir>/coordinator.db`.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& stateDir);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::uint64_t epoch() const override { return epoch_; }

  Status saveHost(const HostInfo& host) override;
  Status saveLastContacts(
      const std::vector<std::pair<std::string, std::uint64_t>>& contacts) override;
  Status deleteHost(const std::string& name) override;
  Result<std::vector<HostInfo>> loadHosts() override;

  Status recordEvent(const EventRecord& event) override;
  Status saveRegistrations(const std::vector<HostInfo>& hosts,
                           const std::vector<EventRecord>& events) override;
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

  // sqlite_store_reverts.cpp
  Result<std::uint64_t> nextRevertSeq() override;
  Status saveRevert(const RevertRecord& revert) override;
  Result<std::optional<RevertRecord>> loadRevert(const std::string& id) override;
  Result<std::vector<RevertRecord>> unfinishedReverts() override;

  // sqlite_store_console.cpp
  Status saveConsoleToken(const ConsoleTokenRecord& token) override;
  Result<std::optional<ConsoleTokenRecord>> findConsoleToken(const std::string& sha256Hex) override;
  // sqlite_store_backtest.cpp
  Status appendJournal(const std::string& rolloutId,
                       const std::vector<std::string>& lines) override;
  Result<JournalUsage> pruneJournals(std::uint64_t capBytes) override;
  Status saveLabel(const RolloutLabelRecord& label) override;
  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) override;
  Result<std::vector<RevertRecord>> revertsOf(const std::string& service) override;

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

  Result<std::vector<std::string>> loadTrainStates() override;
  Status saveTrain(const std::string& service, const std::string& stateJson,
                   const std::vector<TrainCandidateRow>& candidates) override;
  Result<std::vector<TrainCandidateRow>> loadCandidates(const std::string& service) override;
  Status recordTrainEvent(const TrainEventRecord& event) override;
  Result<std::vector<TrainEventRecord>> trainEvents(const std::string& service,
                                                    std::size_t limit) override;

  Result<std::optional<ArtifactInfo>> findArtifact(const std::string& service,
                                                   const std::string& version) override;
  Result<std::optional<ArtifactInfo>> findArtifactBySha(const std::string& sha256) override;
  Result<std::vector<ArtifactInfo>> listArtifacts(const std::string& service) override;
  Status addArtifact(const ArtifactInfo& artifact) override;
  Status setArtifactSignature(const std::string& service, const std::string& version,
                              const std::string& signature) override;

 private:
  SqliteStore(std::unique_ptr<Database> db, int lockFd) : db_(std::move(db)), lockFd_(lockFd) {}
  Status migrate();
  Status migrateReverts();
  Status migrateTrain();  // sqlite_train_store.cpp
  Status migrateConsole();
  Status migrateBacktest();
  Result<std::vector<RolloutRecord>> queryRollouts(const std::string& where,
                                                   const std::string& arg);
  Result<std::vector<ArtifactInfo>> queryArtifacts(const std::string& where,
                                                   const std::vector<std::string>& args);

  std::unique_ptr<Database> db_;
  int lockFd_;
  std::uint64_t epoch_ = 0;
};

}  // namespace rollgate::coordinator
