// RecordingStore: the coordinator's Store with what passes through it observed, for /metrics and
// notifications. It forwards every call to the real store (SqliteStore) and
//  - times each write (a histogram per operation: rollgate_store_write_duration_seconds);
//  - follows each rollout's status (created, saved, resumed), each running check's last result,
//    and the latency of each abort acknowledgement;
//  - turns the decisions recorded in the event log into typed notifications: the event's own kind
//    (and, for the rollout engine's events, the step, check and look of their typed form), plus
//    rollout_<status> when a saved rollout has reached a terminal status.
// Events are handed to the notification callback only once the store has accepted them.
// Thread-safety: like Store, one thread (the coordinator's loop).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "coordinator/metrics/coordinator_metrics.h"
#include "coordinator/notify/notification.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class RecordingStore final : public Store {
 public:
  using OnDecision = std::function<void(notify::Notification)>;
  // Monotonic microseconds (the write timer).
  using MicrosClock = std::function<std::uint64_t()>;
  static MicrosClock steadyMicros();

  RecordingStore(std::unique_ptr<Store> inner, MicrosClock micros = steadyMicros());

  // Where decisions go (none: nowhere).
  void onDecision(OnDecision callback) { onDecision_ = std::move(callback); }
  // Copies what it observed into `snapshot` (rollouts, checks, abort acks, store writes).
  void fill(metrics::MetricsSnapshot& snapshot) const;
  // A write made elsewhere (the telemetry ingest thread's), timed by the caller.
  void observeWrite(const char* operation, double seconds);

  std::uint64_t epoch() const override { return inner_->epoch(); }
  Status saveHost(const HostInfo& host) override;
  Status saveLastContacts(
      const std::vector<std::pair<std::string, std::uint64_t>>& contacts) override;
  Status deleteHost(const std::string& name) override;
  Result<std::vector<HostInfo>> loadHosts() override { return inner_->loadHosts(); }
  Status recordEvent(const EventRecord& event) override;
  Status saveRegistrations(const std::vector<HostInfo>& hosts,
                           const std::vector<EventRecord>& events) override;
  bool sharesEnrollments() const override { return inner_->sharesEnrollments(); }
  Status saveEnrollments(const std::vector<EnrollmentRecord>& records) override;
  Result<std::vector<EnrollmentRecord>> loadEnrollments() override {
    return inner_->loadEnrollments();
  }
  Result<std::vector<EventRecord>> eventsOf(const std::string& rolloutId) override {
    return inner_->eventsOf(rolloutId);
  }
  Status saveAbort(const AbortState& state) override;
  Result<std::vector<AbortState>> loadAborts() override;
  Status setFrozen(const std::optional<FreezeState>& freeze) override;
  Result<std::optional<FreezeState>> frozen() override { return inner_->frozen(); }
  Result<std::uint64_t> nextRolloutSeq() override { return inner_->nextRolloutSeq(); }
  Status createRollout(const RolloutRecord& rollout) override;
  Status saveRollout(const RolloutRecord& rollout) override;
  Status saveCommandRefs(const std::string& rolloutId,
                         const std::map<std::uint64_t, CommandRef>& refs) override;
  Result<std::optional<RolloutRecord>> loadRollout(const std::string& id) override {
    return inner_->loadRollout(id);
  }
  Result<std::vector<RolloutRecord>> unfinishedRollouts() override;
  Result<std::vector<std::string>> recentRolloutIds(std::size_t limit) override {
    return inner_->recentRolloutIds(limit);
  }
  Status recordCheck(const CheckRecord& check) override;
  Result<std::vector<CheckRecord>> checksOf(const std::string& rolloutId) override {
    return inner_->checksOf(rolloutId);
  }
  Result<std::uint64_t> nextRevertSeq() override { return inner_->nextRevertSeq(); }
  Status saveRevert(const RevertRecord& revert) override;
  Result<std::optional<RevertRecord>> loadRevert(const std::string& id) override {
    return inner_->loadRevert(id);
  }
  Result<std::vector<RevertRecord>> unfinishedReverts() override {
    return inner_->unfinishedReverts();
  }
  Result<std::vector<std::string>> loadTrainStates() override { return inner_->loadTrainStates(); }
  Status saveTrain(const std::string& service, const std::string& stateJson,
                   const std::vector<TrainCandidateRow>& candidates) override;
  Result<std::vector<TrainCandidateRow>> loadCandidates(const std::string& service) override {
    return inner_->loadCandidates(service);
  }
  Status recordTrainEvent(const TrainEventRecord& event) override;
  Result<std::vector<TrainEventRecord>> trainEvents(const std::string& service,
                                                    std::size_t limit) override {
    return inner_->trainEvents(service, limit);
  }
  Status saveConsoleToken(const ConsoleTokenRecord& token) override;
  Result<std::optional<ConsoleTokenRecord>> findConsoleToken(const std::string& sha256Hex) override {
    return inner_->findConsoleToken(sha256Hex);
  }
  Result<std::uint64_t> pruneEvents(std::uint64_t beforeMillis, std::uint64_t keepRows) override;
  Status appendJournal(const std::string& rolloutId,
                       const std::vector<std::string>& lines) override;
  Result<JournalUsage> pruneJournals(std::uint64_t capBytes) override;
  Status saveLabel(const RolloutLabelRecord& label) override;
  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) override {
    return inner_->labelOf(rolloutId);
  }
  Result<std::vector<RevertRecord>> revertsOf(const std::string& service) override {
    return inner_->revertsOf(service);
  }
  Status appendWindows(const std::vector<WindowRow>& windows) override;
  Result<std::unique_ptr<Store>> openIngestConnection() override {
    return inner_->openIngestConnection();
  }
  Result<std::vector<TelemetryWindow>> latestWindows(const std::string& host,
                                                     const std::string& service,
                                                     std::uint32_t last) override {
    return inner_->latestWindows(host, service, last);
  }
  Result<std::vector<StoredWindow>> windowsSince(const std::string& service,
                                                 const std::vector<std::string>& hosts,
                                                 std::uint64_t sinceMillis) override {
    return inner_->windowsSince(service, hosts, sinceMillis);
  }
  Result<std::uint64_t> pruneWindows(std::uint64_t beforeMillis) override;
  Result<std::optional<ArtifactInfo>> findArtifact(const std::string& service,
                                                   const std::string& version) override {
    return inner_->findArtifact(service, version);
  }
  Result<std::optional<ArtifactInfo>> findArtifactBySha(const std::string& sha256) override {
    return inner_->findArtifactBySha(sha256);
  }
  Result<std::vector<ArtifactInfo>> listArtifacts(const std::string& service) override {
    return inner_->listArtifacts(service);
  }
  Status addArtifact(const ArtifactInfo& artifact) override;
  Status setArtifactSignature(const std::string& service, const std::string& version,
                              const std::string& signature) override;
  Status saveArtifactContent(const std::string& sha256, const std::string& path) override {
    return inner_->saveArtifactContent(sha256, path);
  }
  Result<bool> restoreArtifactContent(const std::string& sha256, const std::string& path) override {
    return inner_->restoreArtifactContent(sha256, path);
  }

 private:
  // Hands a stored event to the notification callback (when there is one).
  void notifyEvent(const EventRecord& event);
  struct RolloutSeen {
    std::string service;
    std::string version;
    std::string status;
    bool finished = false;
  };
  // Runs `write`, timing it as `operation`.
  template <typename Write>
  auto timed(const char* operation, Write&& write) -> decltype(write());
  void follow(const RolloutRecord& record, bool notifyFinish);

  std::unique_ptr<Store> inner_;
  MicrosClock micros_;
  OnDecision onDecision_;
  std::map<std::string, RolloutSeen> rollouts_;  // every rollout seen since start
  std::map<std::string, std::uint64_t> finished_;  // terminal status -> count since start
  std::map<std::pair<std::string, std::string>, metrics::CheckGauge> checks_;  // (rollout, check)
  std::map<std::uint64_t, std::set<std::string>> acksSeen_;  // abort id -> hosts counted
  metrics::Histogram abortAcks_{metrics::abortAckBucketsSeconds()};
  std::map<std::string, metrics::Histogram> writes_;
};

}  // namespace rollgate::coordinator
