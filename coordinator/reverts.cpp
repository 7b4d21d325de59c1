#include "coordinator/reverts.h"

#include <algorithm>

namespace rollgate::coordinator {

Reverts::Reverts(Store& store, Registry& registry, ArtifactStore& artifacts, Rollouts& rollouts,
                 CommandDispatcher& commands, const Clock& clock, Logger logger)
    : store_(store),
      registry_(registry),
      artifacts_(artifacts),
      rollouts_(rollouts),
      commands_(commands),
      clock_(clock),
      logger_(std::move(logger)) {}

Status Reverts::open() {
  auto unfinished = store_.unfinishedReverts();
  if (!unfinished) return unfinished.error();
  for (const auto& record : *unfinished) {
    auto state = revertFromJson(record.stateJson);
    if (!state) {
      logger_->error("revert {}: cannot resume: {}", record.id, state.error().message);
      continue;
    }
    RevertState& revert = running_[record.id] = std::move(*state);
    std::size_t inFlight = 0;
    for (std::size_t i = 0; i < revert.hosts.size(); ++i) {
      if (revert.hosts[i].status != RevertHostStatus::kSent) continue;
      send(revert, i);  // under its saved ref
      ++inFlight;
    }
    logger_->warn("revert {} ({} to {}): resuming after a coordinator restart, {} hosts in flight",
                  revert.id, revert.service, revert.toVersion, inFlight);
    sendDue(revert);
  }
  return {};
}

std::optional<std::string> Reverts::runningFor(const std::string& service) const {
  for (const auto& [id, state] : running_) {
    if (state.service == service && !state.finished()) return id;
  }
  return std::nullopt;
}

Result<std::string> Reverts::start(const RevertRequest& request, const std::string& operatorName) {
  if (auto running = runningFor(request.service)) {
    const RevertState& other = running_.at(*running);
    return makeError("revert " + *running + " of service " + request.service + " (to " +
                     other.toVersion + ") is still running; rollgate revert status " + *running);
  }
  std::uint64_t now = clock_.nowMillis();
  ArtifactLookup lookup = [this](const std::string& service, const std::string& version) {
    return artifacts_.find(service, version);
  };
  auto planned = planRevert(request, registry_.list(now), lookup, now);
  if (!planned) return planned.error();
  if (request.staged) return startStaged(request, *planned, operatorName);
  auto seq = store_.nextRevertSeq();
  if (!seq) return makeError("cannot record the revert: " + seq.error().message);
  RevertState state = std::move(*planned);
  state.seq = *seq;
  state.id = "v" + std::to_string(*seq);
  state.requestedBy = operatorName;
  finishIfDone(state, now);
  // Durable before anything is stopped or sent.
  RevertRecord record{state.id, state.seq, state.service, state.finished(), revertToJson(state)};
  if (auto saved = store_.saveRevert(record); !saved) {
    logger_->error("operator {}: revert of {} to {} NOT started: cannot record it: {}",
                   operatorName, state.service, state.toVersion, saved.error().message);
    return makeError("cannot record the revert: " + saved.error().message);
  }
  std::vector<std::string> running;
  for (const auto& id : rollouts_.activeIds()) {
    if (rollouts_.serviceOf(id) == state.service) running.push_back(id);
  }
  if (!running.empty()) {
    auto stopped =
        rollouts_.abort(running, operatorName,
                        "revert " + state.id + " of " + state.service + " to " + state.toVersion);
    state.abortedRollouts = stopped.stopped;
    state.abortedRollouts.insert(state.abortedRollouts.end(), stopped.alreadyAborting.begin(),
                                 stopped.alreadyAborting.end());
  }
  logger_->warn("operator {}: REVERT {} of {} to {} (newest active {}), {} hosts, {} at once{}{}",
                operatorName, state.id, state.service, state.toVersion, state.newestActive,
                state.hosts.size(), state.batchSize,
                state.abortedRollouts.empty() ? "" : "; stopped rollouts",
                state.abortedRollouts.empty() ? "" : " " + state.abortedRollouts.front());
  recordEvent(state, "",
              "revert " + state.id + " of " + state.service + " to " + state.toVersion + " by " +
                  operatorName + (state.reason.empty() ? "" : ": " + state.reason));
  RevertState& kept = running_[state.id] = std::move(state);
  save(kept);
  sendDue(kept);
  std::string report = revertReport(kept, now);
  if (kept.finished() && !unsaved_.count(kept.id)) {
    logEnd(kept);
    running_.erase(kept.id);
  }
  return report;
}

Result<std::string> Reverts::startStaged(const RevertRequest& request, const RevertState& planned,
                                         const std::string& operatorName) {
  const std::string what = "revert --staged of " + planned.service + " to " + planned.toVersion;
  if (!planned.artifact) {
    return makeError(what +
                     ": the artifact store has none (a staged revert installs it like a "
                     "rollout; push it with rollgate artifact push FILE --service " +
                     planned.service + " --version " + planned.toVersion +
                     ", or revert without --staged)");
  }
  for (const auto& id : rollouts_.activeIds()) {
    if (rollouts_.serviceOf(id) != planned.service) continue;
    return makeError(what + ": rollout " + id +
                     " of the service is still running; rollgate abort " + id +
                     " first, or revert without --staged (which stops it)");
  }
  auto summary = rollouts_.startRevert(StartRollout{planned.service, planned.toVersion,
                                                    request.planToml, request.gatesToml, "", false},
                                       operatorName);
  if (!summary) return makeError(what + ": " + summary.error().message);
  logger_->warn("operator {}: STAGED REVERT of {} to {} (newest active {}){}", operatorName,
                planned.service, planned.toVersion, planned.newestActive,
                request.reason.empty() ? "" : ": " + request.reason);
  return "{\"staged\": true, \"rollout\": " + *summary + "}";
}

Result<std::string> Reverts::describe(const std::string& id) {
  std::uint64_t now = clock_.nowMillis();
  if (auto it = running_.find(id); it != running_.end()) return revertReport(it->second, now);
  auto record = store_.loadRevert(id);
  if (!record) return makeError("cannot read revert " + id + ": " + record.error().message);
  if (!*record) return makeError("no revert " + id);
  auto state = revertFromJson((*record)->stateJson);
  if (!state) return makeError("revert " + id + ": " + state.error().message);
  return revertReport(*state, now);
}

void Reverts::sendDue(RevertState& state) {
  for (std::size_t index : dueHosts(state)) send(state, index);
}

void Reverts::send(RevertState& state, std::size_t index) {
  RevertHost& host = state.hosts[index];
  if (!host.ref) {
    // The ref is durable before the command leaves: after a restart it is re-sent under it.
    host.ref = commands_.reserve(host.name, state.id);
    host.status = RevertHostStatus::kSent;
    host.sentMillis = clock_.nowMillis();
    RevertRecord record{state.id, state.seq, state.service, false, revertToJson(state)};
    if (auto saved = store_.saveRevert(record); !saved) {
      logger_->error("revert {}: command for host {} NOT sent: cannot save its ref: {}", state.id,
                     host.name, saved.error().message);
      host.ref.reset();
      host.status = RevertHostStatus::kPending;
      host.sentMillis = 0;
      return;  // tried again by tick()
    }
  }
  std::string id = state.id;
  std::string name = host.name;
  auto sent = commands_.send(
      host.name, revertCommand(state, host),
      [this, id, name](const CommandResult& result) { onResult(id, name, result); }, {}, *host.ref);
  if (!sent) {
    // The host is no longer known (revoked): it cannot answer.
    host.status = RevertHostStatus::kFailed;
    host.message = sent.error().message;
    host.doneMillis = clock_.nowMillis();
    finishIfDone(state, host.doneMillis);
    save(state);
    return;
  }
  logger_->info("revert {}: host {} {} {} {} (was {})", id, name,
                host.method == RevertMethod::kInstall ? "installs" : "rolls back to", state.service,
                state.toVersion, host.fromRelease.empty() ? "none" : host.fromRelease);
}

void Reverts::onResult(const std::string& id, const std::string& host,
                       const CommandResult& result) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  RevertState& state = it->second;
  if (!applyRevertResult(state, host, result, clock_.nowMillis())) return;
  const RevertHost* answered = nullptr;
  for (const auto& h : state.hosts) {
    if (h.name == host) answered = &h;
  }
  if (answered->status == RevertHostStatus::kFailed) {
    logger_->warn("revert {}: host {} did not switch {} to {}: {}", id, host, state.service,
                  state.toVersion, answered->message);
    recordEvent(state, host, "revert " + id + " failed on " + host + ": " + answered->message);
  }
  sendDue(state);
  bool saved = save(state);
  if (state.finished() && saved) {
    logEnd(state);
    running_.erase(it);
  }
}

bool Reverts::save(const RevertState& state) {
  RevertRecord record{state.id, state.seq, state.service, state.finished(), revertToJson(state)};
  if (auto saved = store_.saveRevert(record); !saved) {
    if (unsaved_.insert(state.id).second) {
      logger_->error(
          "revert {}: cannot save its progress (kept in memory, saved again at every "
          "tick): {}",
          state.id, saved.error().message);
    }
    return false;
  }
  if (unsaved_.erase(state.id) > 0)
    logger_->warn("revert {}: its progress is saved again", state.id);
  return true;
}

void Reverts::tick() {
  std::uint64_t now = clock_.nowMillis();
  for (auto it = running_.begin(); it != running_.end();) {
    RevertState& state = it->second;
    auto silent = expireSilentHosts(state, now);
    for (const auto& host : silent) {
      logger_->warn(
          "revert {}: host {} did not answer within {} s: counted as failed (it gets "
          "the command when it comes back)",
          state.id, host, kRevertAnswerMillis / 1000);
    }
    if (!silent.empty() || unsaved_.count(state.id)) save(state);
    if (!state.finished()) sendDue(state);
    if (state.finished() && !unsaved_.count(state.id)) {
      logEnd(state);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

void Reverts::recordEvent(const RevertState& state, const std::string& host,
                          const std::string& message) {
  EventRecord event{clock_.nowMillis(), "revert", host, state.id, message};
  if (auto status = store_.recordEvent(event); !status) {
    logger_->error("revert {}: cannot record '{}' in the event log: {}", state.id, message,
                   status.error().message);
  }
}

void Reverts::logEnd(const RevertState& state) {
  std::size_t failed = std::count_if(state.hosts.begin(), state.hosts.end(), [](const auto& h) {
    return h.status == RevertHostStatus::kFailed;
  });
  std::string status = revertStatus(state);
  auto level = failed > 0 ? spdlog::level::warn : spdlog::level::info;
  logger_->log(level, "revert {} of {} to {} {}: {} of {} hosts on it, {} failed, in {} ms",
               state.id, state.service, state.toVersion, status, state.hosts.size() - failed,
               state.hosts.size(), failed, state.finishedMillis - state.createdMillis);
  recordEvent(state, "", "revert " + state.id + " " + status);
}

}  // namespace rollgate::coordinator
