#include "coordinator/recording_store.h"

#include <chrono>

#include "coordinator/rollout/read_model.h"

namespace rollgate::coordinator {

RecordingStore::MicrosClock RecordingStore::steadyMicros() {
  return [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
  };
}

RecordingStore::RecordingStore(std::unique_ptr<Store> inner, MicrosClock micros)
    : inner_(std::move(inner)), micros_(std::move(micros)) {}

template <typename Write>
auto RecordingStore::timed(const char* operation, Write&& write) -> decltype(write()) {
  std::uint64_t start = micros_();
  auto result = write();
  std::uint64_t end = micros_();
  observeWrite(operation, static_cast<double>(end >= start ? end - start : 0) / 1e6);
  return result;
}

void RecordingStore::observeWrite(const char* operation, double seconds) {
  auto it = writes_.find(operation);
  if (it == writes_.end()) {
    it = writes_.emplace(operation, metrics::Histogram(metrics::storeWriteBucketsSeconds())).first;
  }
  it->second.observe(seconds);
}

void RecordingStore::fill(metrics::MetricsSnapshot& snapshot) const {
  for (const auto& [id, seen] : rollouts_) {
    if (!seen.finished) ++snapshot.rolloutsByStatus[seen.status];
  }
  snapshot.rolloutsFinished = finished_;
  for (const auto& [key, check] : checks_) snapshot.checks.push_back(check);
  snapshot.abortAckSeconds = abortAcks_.value();
  for (const auto& [operation, histogram] : writes_) {
    snapshot.storeWriteSeconds[operation] = histogram.value();
  }
}

void RecordingStore::follow(const RolloutRecord& record, bool notifyFinish) {
  RolloutSeen& seen = rollouts_[record.id];
  if (!record.service.empty()) seen.service = record.service;
  if (!record.version.empty()) seen.version = record.version;
  if (!record.status.empty()) seen.status = record.status;
  bool finishing = record.finished && !seen.finished;
  seen.finished = seen.finished || record.finished;
  if (!finishing) return;
  for (auto it = checks_.begin(); it != checks_.end();) {
    it = it->first.first == record.id ? checks_.erase(it) : std::next(it);
  }
  if (!notifyFinish) return;
  ++finished_[seen.status];
  if (onDecision_) {
    notify::Notification n;
    n.kind = "rollout_" + seen.status;
    n.rolloutId = record.id;
    n.service = seen.service;
    n.version = seen.version;
    n.atMillis = record.updatedMillis;
    onDecision_(std::move(n));
  }
}

Status RecordingStore::saveHost(const HostInfo& host) {
  return timed("save_host", [&] { return inner_->saveHost(host); });
}

Status RecordingStore::saveEnrollments(const std::vector<EnrollmentRecord>& records) {
  return timed("save_enrollments", [&] { return inner_->saveEnrollments(records); });
}

Status RecordingStore::saveLastContacts(
    const std::vector<std::pair<std::string, std::uint64_t>>& contacts) {
  return timed("save_last_contacts", [&] { return inner_->saveLastContacts(contacts); });
}

Status RecordingStore::deleteHost(const std::string& name) {
  return timed("delete_host", [&] { return inner_->deleteHost(name); });
}

Status RecordingStore::recordEvent(const EventRecord& event) {
  Status status = timed("record_event", [&] { return inner_->recordEvent(event); });
  if (status) notifyEvent(event);
  return status;
}

Status RecordingStore::saveRegistrations(const std::vector<HostInfo>& hosts,
                                         const std::vector<EventRecord>& events) {
  Status status =
      timed("save_registrations", [&] { return inner_->saveRegistrations(hosts, events); });
  if (status) {
    for (const auto& event : events) notifyEvent(event);
  }
  return status;
}

void RecordingStore::notifyEvent(const EventRecord& event) {
  if (!onDecision_) return;
  notify::Notification n;
  n.kind = event.kind;
  n.rolloutId = event.rolloutId;
  n.host = event.host;
  n.atMillis = event.atMillis;
  if (!event.rolloutId.empty()) {
    // The engine's events keep their typed form (step, check, look, text) in the message.
    EventView view = rollout::storedEventView(event.atMillis, event.kind, event.host,
                                              event.message);
    n.step = view.step;
    n.check = view.check;
    n.look = view.look;
    n.text = view.text;
    if (auto it = rollouts_.find(event.rolloutId); it != rollouts_.end()) {
      n.service = it->second.service;
      n.version = it->second.version;
    }
  } else {
    n.text = event.message;
  }
  onDecision_(std::move(n));
}

Status RecordingStore::saveAbort(const AbortState& state) {
  Status status = timed("save_abort", [&] { return inner_->saveAbort(state); });
  if (!status) return status;
  auto& seen = acksSeen_[state.abort.abortId];
  for (const auto& [host, atMillis] : state.ackedAtMillis) {
    if (!seen.insert(host).second) continue;
    std::uint64_t latency = atMillis >= state.createdMillis ? atMillis - state.createdMillis : 0;
    abortAcks_.observe(static_cast<double>(latency) / 1000.0);
  }
  return status;
}

Result<std::vector<AbortState>> RecordingStore::loadAborts() {
  auto aborts = inner_->loadAborts();
  if (aborts) {
    for (const auto& state : *aborts) {
      for (const auto& [host, at] : state.ackedAtMillis) acksSeen_[state.abort.abortId].insert(host);
    }
  }
  return aborts;
}

Status RecordingStore::setFrozen(const std::optional<FreezeState>& freeze) {
  return timed("set_frozen", [&] { return inner_->setFrozen(freeze); });
}

Status RecordingStore::createRollout(const RolloutRecord& rollout) {
  Status status = timed("create_rollout", [&] { return inner_->createRollout(rollout); });
  if (status) follow(rollout, true);
  return status;
}

Status RecordingStore::saveRollout(const RolloutRecord& rollout) {
  Status status = timed("save_rollout", [&] { return inner_->saveRollout(rollout); });
  if (status) follow(rollout, true);
  return status;
}

Status RecordingStore::saveCommandRefs(const std::string& rolloutId,
                                       const std::map<std::uint64_t, CommandRef>& refs) {
  return timed("save_command_refs", [&] { return inner_->saveCommandRefs(rolloutId, refs); });
}

Result<std::vector<RolloutRecord>> RecordingStore::unfinishedRollouts() {
  auto records = inner_->unfinishedRollouts();
  if (records) {
    for (const auto& record : *records) follow(record, false);
  }
  return records;
}

Status RecordingStore::recordCheck(const CheckRecord& check) {
  Status status = timed("record_check", [&] { return inner_->recordCheck(check); });
  if (!status) return status;
  metrics::CheckGauge gauge;
  gauge.rolloutId = check.rolloutId;
  if (auto it = rollouts_.find(check.rolloutId); it != rollouts_.end()) {
    if (it->second.finished) return status;
    gauge.service = it->second.service;
  }
  gauge.check = check.result.name;
  gauge.step = check.step;
  gauge.look = check.result.look;
  gauge.pValue = check.result.pValue;
  gauge.alphaAtLook = check.result.alphaAtLook;
  gauge.verdict = std::string(stats::toString(check.result.verdict));
  checks_[{check.rolloutId, check.result.name}] = gauge;
  return status;
}

Status RecordingStore::saveRevert(const RevertRecord& revert) {
  return timed("save_revert", [&] { return inner_->saveRevert(revert); });
}

Status RecordingStore::appendWindows(const std::vector<WindowRow>& windows) {
  return timed("append_windows", [&] { return inner_->appendWindows(windows); });
}

Result<std::uint64_t> RecordingStore::pruneWindows(std::uint64_t beforeMillis) {
  return timed("prune_windows", [&] { return inner_->pruneWindows(beforeMillis); });
}

Status RecordingStore::addArtifact(const ArtifactInfo& artifact) {
  return timed("add_artifact", [&] { return inner_->addArtifact(artifact); });
}

Status RecordingStore::setArtifactSignature(const std::string& service, const std::string& version,
                                            const std::string& signature) {
  return timed("set_artifact_signature",
               [&] { return inner_->setArtifactSignature(service, version, signature); });
}

Status RecordingStore::saveTrain(const std::string& service, const std::string& stateJson,
                   const std::vector<TrainCandidateRow>& candidates) {
  return timed("save_train", [&] { return inner_->saveTrain(service, stateJson, candidates); });
}

Status RecordingStore::recordTrainEvent(const TrainEventRecord& event) {
  Status status = timed("record_train_event", [&] { return inner_->recordTrainEvent(event); });
  if (!status || !onDecision_) return status;
  // The release train's own kinds, prefixed: train_bad_commit, train_stopped, train_picked, ...
  notify::Notification n;
  n.kind = "train_" + event.kind;
  n.rolloutId = event.rolloutId;
  n.service = event.service;
  n.text = event.message;
  n.atMillis = event.atMillis;
  onDecision_(std::move(n));
  return status;
}

Status RecordingStore::saveConsoleToken(const ConsoleTokenRecord& token) {
  return timed("save_console_token", [&] { return inner_->saveConsoleToken(token); });
}

Result<std::uint64_t> RecordingStore::pruneEvents(std::uint64_t beforeMillis, std::uint64_t keepRows) {
  return timed("prune_events", [&] { return inner_->pruneEvents(beforeMillis, keepRows); });
}

Status RecordingStore::appendJournal(const std::string& rolloutId,
                                     const std::vector<std::string>& lines) {
  return timed("append_journal", [&] { return inner_->appendJournal(rolloutId, lines); });
}

Result<JournalUsage> RecordingStore::pruneJournals(std::uint64_t capBytes) {
  return timed("prune_journals", [&] { return inner_->pruneJournals(capBytes); });
}

Status RecordingStore::saveLabel(const RolloutLabelRecord& label) {
  return timed("save_label", [&] { return inner_->saveLabel(label); });
}

}  // namespace rollgate::coordinator
