#include "coordinator/rollouts.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/gate_json.h"
#include "common/version.h"
#include "coordinator/rollout/journal.h"
#include "coordinator/rollout/planner.h"
#include "coordinator/rollout/read_model.h"
#include "coordinator/rollout/rollout_config.h"
#include "coordinator/rollout_labels.h"

namespace rollgate::coordinator {
namespace {

using nlohmann::json;

std::string statusOf(const rollout::Rollout& r) { return std::string(rollout::statusName(r.status())); }

// A rollout going the way it should is logged at info; undoing, or ending other than succeeded, at
// warning.
spdlog::level::level_enum stateChangeLevel(rollout::RolloutStatus to) {
  using rollout::RolloutStatus;
  switch (to) {
    case RolloutStatus::kRollingBack:
    case RolloutStatus::kRolledBack:
    case RolloutStatus::kAborted:
    case RolloutStatus::kFailed:
    case RolloutStatus::kRolledBackIncomplete:
      return spdlog::level::warn;
    default:
      return spdlog::level::info;
  }
}

// Why `version` of `service` cannot be rolled out: a host runs a newer release (the agents would
// refuse it; going back is a revert). Nothing when no host does.
std::optional<std::string> newerActive(const std::vector<HostInfo>& fleet,
                                       const std::string& service, const std::string& version) {
  const HostInfo* newestHost = nullptr;
  std::string newest;
  for (const auto& host : fleet) {
    for (const auto& s : host.services) {
      if (s.service != service || s.activeRelease.empty()) continue;
      if (compareVersions(s.activeRelease, version) > 0 &&
          (newestHost == nullptr || compareVersions(s.activeRelease, newest) > 0)) {
        newestHost = &host;
        newest = s.activeRelease;
      }
    }
  }
  if (newestHost == nullptr) return std::nullopt;
  return "version " + version + " of service " + service + " is older than " + newest +
         ", active on host " + newestHost->name +
         " (docs/revert.md orders versions); to go back to it: rollgate revert --service " +
         service + " --to " + version;
}

}  // namespace

Rollouts::Rollouts(Store& store, TelemetryStore& telemetry, ArtifactStore& artifacts,
                   Registry& registry, CommandDispatcher& commands, const Clock& clock,
                   Logger logger, std::uint64_t windowSeconds)
    : store_(store),
      telemetry_(telemetry),
      artifacts_(artifacts),
      registry_(registry),
      commands_(commands),
      clock_(clock),
      logger_(std::move(logger)),
      windowSeconds_(windowSeconds) {}

Status Rollouts::open() {
  auto unfinished = store_.unfinishedRollouts();
  if (!unfinished) return unfinished.error();
  std::uint64_t now = clock_.nowMillis();
  for (const auto& record : *unfinished) {
    const std::string& id = record.id;
    auto state = rollout::stateFromJson(record.stateJson);
    if (!state) {
      endUnresumable(record, state.error().message, now);
      continue;
    }
    Entry& entry = rollouts_[id];
    entry.rollout = std::make_unique<rollout::Rollout>(std::move(*state));
    entry.refs = record.commandRefs;
    logger_->warn("rollout {} ({} {}): resuming in state {} after a coordinator restart", id,
                  entry.rollout->state().spec.service, entry.rollout->state().spec.version,
                  statusOf(*entry.rollout));
    rollout::RolloutInput resumed;
    resumed.kind = rollout::InputKind::kResumed;
    resumed.atMillis = now;
    apply(entry, *feed(entry, resumed));
    for (const auto& command : entry.rollout->pendingCommands()) send(entry, command);
    // The current step's telemetry, from the store (duplicates are ignored by the rollout).
    rollout::TelemetryWanted wanted = entry.rollout->telemetryWanted();
    if (!wanted.hosts.empty()) {
      auto windows = telemetry_.since(wanted.service, wanted.hosts, wanted.sinceMillis);
      if (!windows) {
        logger_->error("rollout {}: cannot replay the current step's telemetry: {}", id,
                       windows.error().message);
      } else {
        std::set<std::string> hosts(wanted.hosts.begin(), wanted.hosts.end());
        rollout::Actions actions;
        for (const auto& stored : *windows) {
          if (!hosts.count(stored.host)) continue;
          rollout::RolloutInput input;
          input.kind = rollout::InputKind::kTelemetry;
          input.atMillis = now;
          input.host = stored.host;
          input.window = stored.window;
          auto more = *feed(entry, input);
          actions.insert(actions.end(), more.begin(), more.end());
        }
        apply(entry, actions);
      }
    }
    save(entry);
  }
  resendTimedOutRollbacks();
  return {};
}

void Rollouts::resendTimedOutRollbacks() {
  auto ids = store_.recentRolloutIds(kTimedOutRollbacksScanned);
  if (!ids) {
    logger_->error("cannot list rollouts to re-send rollbacks that timed out: {}",
                   ids.error().message);
    return;
  }
  for (const auto& id : *ids) {
    if (rollouts_.count(id)) continue;
    auto record = store_.loadRollout(id);
    if (!record || !*record) continue;
    auto state = rollout::stateFromJson((*record)->stateJson);
    if (!state || state->outcome != rollout::RolloutStatus::kRolledBackIncomplete) continue;
    Entry entry;
    entry.rollout = std::make_unique<rollout::Rollout>(std::move(*state));
    entry.refs = (*record)->commandRefs;
    for (const auto& command : entry.rollout->pendingCommands()) {
      logger_->warn(
          "rollout {}: host {} has not taken its rollback yet; it gets it when it says "
          "hello",
          id, command.host);
      send(entry, command);  // under its saved ref; the result goes to onLateResult()
    }
  }
}

Result<std::unique_ptr<rollout::Rollout>> Rollouts::load(const std::string& id) {
  auto record = store_.loadRollout(id);
  if (!record) return record.error();
  if (!*record) return makeError("no rollout " + id);
  auto state = rollout::stateFromJson((*record)->stateJson);
  if (!state) return state.error();
  return std::make_unique<rollout::Rollout>(std::move(*state));
}

bool Rollouts::stored(const std::string& id) const {
  auto record = store_.loadRollout(id);
  if (!record) {
    logger_->error("rollout {}: cannot read it from the store: {}", id, record.error().message);
    return false;
  }
  return record->has_value();
}

void Rollouts::endUnresumable(const RolloutRecord& record, const std::string& error,
                              std::uint64_t now) {
  // Left unfinished, it would be listed as running for ever and hold up what follows it (a
  // release train waits for its end). Its stored state is kept as it was, for reading.
  std::string text = "failed: cannot resume after a coordinator restart (status was " +
                     record.status + "): " + error +
                     "; the hosts it reached keep the release they run (rollgate hosts)";
  logger_->error("rollout {} ({} {}): {}", record.id, record.service, record.version, text);
  RolloutRecord ended = record;
  ended.status = std::string(rollout::statusName(rollout::RolloutStatus::kFailed));
  ended.finished = true;
  ended.updatedMillis = now;
  if (auto s = store_.saveRollout(ended); !s) {
    logger_->error("rollout {}: cannot record that it ended: {}", record.id, s.error().message);
    return;
  }
  if (auto s = store_.recordEvent(EventRecord{now, "finished", "", record.id, text}); !s) {
    logger_->error("rollout {}: cannot record why it ended: {}", record.id, s.error().message);
  }
}

Result<std::string> Rollouts::nextId() {
  auto seq = store_.nextRolloutSeq();
  if (!seq) return seq.error();
  return "r" + std::to_string(*seq);
}

std::string Rollouts::runningStatus(const std::string& id) const {
  auto it = rollouts_.find(id);
  return it == rollouts_.end() ? std::string() : statusOf(*it->second.rollout);
}

std::vector<std::string> Rollouts::activeIds() const {
  std::vector<std::string> out;
  for (const auto& [id, entry] : rollouts_) out.push_back(id);
  return out;
}

std::string Rollouts::serviceOf(const std::string& id) const {
  auto it = rollouts_.find(id);
  return it == rollouts_.end() ? std::string() : it->second.rollout->state().spec.service;
}

Result<Rollouts::PreparedStart> Rollouts::prepareStart(const StartRollout& request, bool revert,
                                                       bool canaryOnly) {
  if (auto valid = validateVersion(request.version); !valid) return valid.error();
  for (const auto& [id, entry] : rollouts_) {
    if (entry.rollout->state().spec.service == request.service) {
      return makeError("rollout " + id + " of service " + request.service + " (version " +
                       entry.rollout->state().spec.version + ") is still " +
                       statusOf(*entry.rollout) + "; abort it or wait for it to end");
    }
  }
  if (auto newer = revert ? std::nullopt
                          : newerActive(registry_.list(clock_.nowMillis()), request.service,
                                        request.version)) {
    return makeError(*newer);
  }
  PreparedStart prepared;
  prepared.revert = revert;
  prepared.artifact = artifacts_.find(request.service, request.version);
  if (!prepared.artifact && !request.dryRun) {
    return makeError("no artifact for " + request.service + " " + request.version +
                     " (rollgate rollout start pushes it with --artifact FILE)");
  }
  auto plan = request.planToml.empty()
                  ? Result<rollout::PlanConfig>(rollout::defaultPlanConfig(windowSeconds_))
                  : rollout::parsePlanConfig(request.planToml, "plan", windowSeconds_);
  if (!plan) return plan.error();
  auto gates = request.gatesToml.empty() ? Result<rollout::GatesConfig>(rollout::defaultGatesConfig())
                                         : rollout::parseGatesConfig(request.gatesToml, "gates");
  if (!gates) return gates.error();
  auto dataNotes = rollout::checkPlanGivesData(*plan, *gates);
  if (!dataNotes) return dataNotes.error();
  auto planned = rollout::planRollout(
      rollout::PlanRequest{request.service, request.version, request.canaryHost},
      registry_.list(clock_.nowMillis()), *plan);
  if (!planned) return planned.error();
  prepared.plan = std::move(*plan);
  prepared.gates = std::move(*gates);
  prepared.planned = std::move(*planned);
  if (canaryOnly && prepared.planned.steps.size() > 1) {
    // The release train's bisection: the canary step alone; the canary stays on the version when
    // it passes (the train's next rollout replaces it).
    prepared.planned.steps.resize(1);
    prepared.planned.notes.push_back("canary only (release train bisection)");
  }
  prepared.dataNotes = std::move(*dataNotes);
  return prepared;
}

void Rollouts::start(const StartRollout& request, const std::string& operatorName,
                     StartDone done) {
  start(request, operatorName, std::move(done), false);
}

void Rollouts::startCanaryOnly(const StartRollout& request, const std::string& operatorName,
                               StartDone done) {
  start(request, operatorName, std::move(done), true);
}

void Rollouts::start(const StartRollout& request, const std::string& operatorName, StartDone done,
                     bool canaryOnly) {
  auto prepared = prepareStart(request, false, canaryOnly);
  if (!prepared) return done(prepared.error());
  auto probe = checkPrometheus(prepared->gates, request, prepared->planned);
  if (!probe) return done(probe.error());
  if (!probe->valid()) return done(finishStart(request, operatorName, *prepared, {}));
  // Its Prometheus queries run off the loop; tick() finishes the start when they are answered.
  pendingStarts_.push_back(
      PendingStart{request, operatorName, std::move(*probe), std::move(done), canaryOnly});
}

Result<std::string> Rollouts::startRevert(const StartRollout& request,
                                          const std::string& operatorName) {
  auto prepared = prepareStart(request, /*revert=*/true);
  if (!prepared) return prepared.error();
  return finishStart(request, operatorName, *prepared, {});
}

void Rollouts::finishPendingStarts() {
  for (auto it = pendingStarts_.begin(); it != pendingStarts_.end();) {
    if (it->probe.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    PendingStart pending = std::move(*it);
    it = pendingStarts_.erase(it);
    auto warnings = pending.probe.get();
    if (!warnings) {
      pending.done(warnings.error());
      continue;
    }
    // Checked again: the fleet, the artifacts and the other rollouts may have moved meanwhile.
    auto prepared = prepareStart(pending.request, false, pending.canaryOnly);
    if (!prepared) {
      pending.done(prepared.error());
      continue;
    }
    pending.done(finishStart(pending.request, pending.operatorName, *prepared, *warnings));
  }
}

Result<std::string> Rollouts::finishStart(const StartRollout& request,
                                          const std::string& operatorName,
                                          const PreparedStart& prepared,
                                          const std::vector<std::string>& prometheusWarnings) {
  const auto& plan = prepared.plan;
  const auto& gates = prepared.gates;
  const auto& planned = prepared.planned;
  const auto& artifact = prepared.artifact;
  std::uint64_t now = clock_.nowMillis();
  if (request.dryRun) {
    std::string text = request.service + " " + request.version +
                       " can start: " + std::to_string(planned.steps.size()) + " steps, canary " +
                       planned.canaryHost + ", baseline " + planned.baselineHost;
    for (const auto& warning : prometheusWarnings) text += "\nwarning: " + warning;
    return text;
  }
  auto nextRolloutId = nextId();
  if (!nextRolloutId) return makeError("cannot start a rollout: " + nextRolloutId.error().message);
  rollout::RolloutSpec spec;
  spec.rolloutId = *nextRolloutId;
  spec.service = request.service;
  spec.version = request.version;
  spec.artifact = rollout::ArtifactRef{artifact->sha256, artifact->sizeBytes, "", artifact->signature};
  spec.revert = prepared.revert;
  std::string id = spec.rolloutId;
  std::uint64_t seq = std::stoull(id.substr(1));
  RolloutRecord record;
  record.id = id;
  record.seq = seq;
  record.service = request.service;
  record.version = request.version;
  record.createdMillis = now;
  record.updatedMillis = now;
  record.startedBy = operatorName;
  // The rollout is created with its started state, before anything leaves: a coordinator killed
  // at any point after this resumes it (and re-sends what its hosts have not answered). Created
  // without it, a rollout killed before its first save could not be resumed and stayed unfinished.
  auto created = std::make_unique<rollout::Rollout>(spec, planned, plan, gates);
  std::string startJournalLine = rollout::startLine(created->state(), now);
  rollout::RolloutInput started;
  started.kind = rollout::InputKind::kStart;
  started.atMillis = now;
  auto startActions = rollout::applyInput(*created, started);
  if (!startActions) {
    return makeError("cannot start rollout " + id + ": " + startActions.error().message);
  }
  record.status = statusOf(*created);
  record.stateJson = rollout::stateToJson(created->state(), /*includeWindows=*/false);
  if (auto s = store_.createRollout(record); !s) {
    return makeError("cannot start rollout " + id + ": " + s.error().message);
  }
  Entry& entry = rollouts_[id];
  entry.rollout = std::move(created);
  logger_->info("operator {} started {} {}: {} {} over {} steps (canary {}, baseline {})",
                operatorName, prepared.revert ? "staged revert as rollout" : "rollout", id,
                request.service, request.version, planned.steps.size(), planned.canaryHost,
                planned.baselineHost);
  recordEvent(entry, EventRecord{now, "rollout_started", "", id,
                                  "started by " + operatorName + ": " + request.service + " " +
                                      request.version + ", canary " + planned.canaryHost +
                                      ", baseline " + planned.baselineHost});
  for (const auto& note : planned.notes) {
    recordEvent(entry, EventRecord{now, "plan_note", "", id, note});
  }
  for (const auto& warning : prometheusWarnings) {
    logger_->warn("rollout {}: {}", id, warning);
    recordEvent(entry, EventRecord{now, "plan_note", "", id, warning});
  }
  for (const auto& note : prepared.dataNotes) {
    logger_->warn("rollout {}: {}", id, note);
    recordEvent(entry, EventRecord{now, "plan_note", "", id, note});
  }
  if (!planned.smallFleetWarning.empty()) {
    logger_->warn("rollout {}: {}", id, planned.smallFleetWarning);
    recordEvent(entry, EventRecord{now, "plan_note", "", id, planned.smallFleetWarning});
  }
  entry.journal.push_back(std::move(startJournalLine));
  apply(entry, *startActions);
  save(entry);
  return rollout::summaryJson(*entry.rollout, now);
}

Result<std::string> Rollouts::act(const RolloutAction& request, const std::string& operatorName) {
  auto it = rollouts_.find(request.rolloutId);
  if (it == rollouts_.end()) {
    return makeError(stored(request.rolloutId) ? "rollout " + request.rolloutId + " has ended"
                                               : "no rollout " + request.rolloutId);
  }
  std::uint64_t now = clock_.nowMillis();
  rollout::Rollout& r = *it->second.rollout;
  rollout::RolloutInput input;
  input.kind = rollout::InputKind::kOperator;
  input.atMillis = now;
  input.who = operatorName;
  const char* verb = "";
  switch (request.action) {
    case RolloutAction::Action::kPause:
      input.verb = rollout::OperatorVerb::kPause;
      verb = "paused";
      break;
    case RolloutAction::Action::kResume:
      input.verb = rollout::OperatorVerb::kResume;
      verb = "resumed";
      break;
    case RolloutAction::Action::kPromote:
      input.verb = rollout::OperatorVerb::kPromote;
      verb = "promoted";
      break;
    case RolloutAction::Action::kRollback:
      input.verb = rollout::OperatorVerb::kRollback;
      input.reason = "rolled back by operator " + operatorName;
      verb = "rolling back";
      break;
  }
  Result<rollout::Actions> actions = feed(it->second, input);
  if (!actions) return actions.error();
  recordEvent(it->second, EventRecord{now, "operator", "", request.rolloutId,
                                      std::string(verb) + " by " + operatorName});
  apply(it->second, *actions);
  std::string message = "rollout " + request.rolloutId + " " + verb + " (now " + statusOf(r) + ")";
  save(it->second);
  if (rollout::isTerminal(r.status())) retire(it);
  return message;
}

Rollouts::AbortOutcome Rollouts::abort(const std::vector<std::string>& ids,
                                       const std::string& operatorName, const std::string& reason) {
  AbortOutcome outcome;
  auto& hosts = outcome.hosts;
  std::uint64_t now = clock_.nowMillis();
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), current->first) == ids.end()) continue;
    rollout::Rollout& r = *current->second.rollout;
    (r.state().abortRequested ? outcome.alreadyAborting : outcome.stopped)
        .push_back(current->first);
    for (const auto& host : r.state().hosts) {
      hosts[host.name].push_back(ServiceRelease{r.state().spec.service, host.fromRelease, {}});
    }
    rollout::RolloutInput input;
    input.kind = rollout::InputKind::kOperator;
    input.verb = rollout::OperatorVerb::kAbort;
    input.atMillis = now;
    input.who = operatorName;
    input.reason = reason;
    apply(current->second, *feed(current->second, input));
    save(current->second);
    if (rollout::isTerminal(r.status())) retire(current);
  }
  return outcome;
}

void Rollouts::onTelemetry(const std::string& host, const TelemetryWindow& window) {
  if (rollouts_.empty()) return;  // every window passes here: no copy of it when nothing runs
  rollout::RolloutInput input;
  input.kind = rollout::InputKind::kTelemetry;
  input.atMillis = clock_.nowMillis();
  input.host = host;
  input.window = window;  // once, not once per rollout
  feedEach(input, window.service);
}

void Rollouts::feedEach(const rollout::RolloutInput& input, const std::string& service) {
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    if (!service.empty() && current->second.rollout->state().spec.service != service) continue;
    auto actions = *feed(current->second, input);
    if (actions.empty()) continue;
    apply(current->second, actions);
    save(current->second);
    if (rollout::isTerminal(current->second.rollout->status())) retire(current);
  }
}

void Rollouts::onHostHealth(const std::string& host, bool healthy) {
  rollout::RolloutInput input;
  input.kind = rollout::InputKind::kHostHealth;
  input.atMillis = clock_.nowMillis();
  input.host = host;
  input.healthy = healthy;
  feedEach(input);
}

void Rollouts::onCoordinatorStall(std::uint64_t stalledMillis) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(stalledMillis) / 1000.0);
  rollout::RolloutInput input;
  input.kind = rollout::InputKind::kResumed;
  input.atMillis = clock_.nowMillis();
  input.reason = std::string("the coordinator stalled for ") + seconds + " s";
  feedEach(input);
}

void Rollouts::tick() {
  finishPendingStarts();
  takePrometheusAnswers();
  std::uint64_t now = clock_.nowMillis();
  for (auto& [id, entry] : rollouts_) flushJournal(entry);
  if (now >= nextJournalPruneMillis_) {
    nextJournalPruneMillis_ = now + 60'000;
    if (auto usage = store_.pruneJournals(journalCapBytes_); !usage) {
      logger_->error("cannot keep the rollouts' journals within {} bytes: {}", journalCapBytes_,
                     usage.error().message);
    }
  }
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    std::vector<rollout::SendCommand> unsent = std::move(current->second.unsent);
    current->second.unsent.clear();
    for (const auto& command : unsent) send(current->second, command);
    rollout::RolloutInput input;
    input.atMillis = now;  // a tick
    auto actions = *feed(current->second, input);
    if (actions.empty()) continue;
    apply(current->second, actions);
    save(current->second);
    if (rollout::isTerminal(current->second.rollout->status())) retire(current);
  }
}

Result<rollout::Actions> Rollouts::feed(Entry& entry, const rollout::RolloutInput& input) {
  auto actions = rollout::applyInput(*entry.rollout, input);
  if (!actions) return actions;
  if (input.kind != rollout::InputKind::kStart &&
      rollout::worthKeeping(*entry.rollout, input, *actions)) {
    entry.journal.push_back(rollout::inputLine(entry.rollout->id(), input));
  }
  return actions;
}

void Rollouts::flushJournal(Entry& entry) {
  if (entry.journal.empty()) return;
  if (auto s = store_.appendJournal(entry.rollout->id(), entry.journal); !s) {
    logger_->error("rollout {}: {} inputs not kept for backtesting: {}", entry.rollout->id(),
                   entry.journal.size(), s.error().message);
  }
  entry.journal.clear();
}

void Rollouts::retire(std::map<std::string, Entry>::iterator it) {
  flushJournal(it->second);
  rollouts_.erase(it);
}

void Rollouts::send(Entry& entry, const rollout::SendCommand& action) {
  Command command;
  command.service = action.service;
  command.ref.rolloutId = entry.rollout->id();
  std::visit([&](const auto& body) { command.body = body; }, action.body);
  std::string id = entry.rollout->id();
  std::string host = action.host;
  std::uint64_t commandId = action.commandId;
  CommandRef ref;
  if (auto found = entry.refs.find(action.commandId); found != entry.refs.end()) {
    ref = found->second;
  } else {
    // The ref is durable before the command leaves: after a restart it is re-sent under the same
    // ref, which the agent recognizes.
    ref = commands_.reserve(host, id);
    auto refs = entry.refs;
    refs[commandId] = ref;
    if (auto s = store_.saveCommandRefs(id, refs); !s) {
      logger_->error("rollout {}: command for host {} NOT sent: cannot save its ref: {}", id, host,
                     s.error().message);
      entry.unsent.push_back(action);
      holdForStore(entry, "cannot save a command's ref", s.error().message);
      return;
    }
    entry.refs = std::move(refs);
  }
  auto sent = commands_.send(
      action.host, command,
      [this, id, host, commandId](const CommandResult& result) {
        auto it = rollouts_.find(id);
        if (it == rollouts_.end()) {
          onLateResult(id, host, commandId, result);
          return;
        }
        rollout::RolloutInput input;
        input.kind = rollout::InputKind::kCommandResult;
        input.atMillis = clock_.nowMillis();
        input.host = host;
        input.commandId = commandId;
        input.result = result;
        apply(it->second, *feed(it->second, input));
        save(it->second);
        if (rollout::isTerminal(it->second.rollout->status())) retire(it);
      },
      {}, ref);
  if (!sent) {
    logger_->warn("rollout {}: command for host {} not sent: {}", id, host, sent.error().message);
  }
}

void Rollouts::onLateResult(const std::string& id, const std::string& host, std::uint64_t commandId,
                            const CommandResult& result) {
  auto record = store_.loadRollout(id);
  if (!record || !*record) return;
  auto state = rollout::stateFromJson((*record)->stateJson);
  if (!state) {
    logger_->error("rollout {}: host {} answered after it ended, but its state is unreadable: {}",
                   id, host, state.error().message);
    return;
  }
  if (state->outcome != rollout::RolloutStatus::kRolledBackIncomplete) return;
  Entry entry;
  entry.rollout = std::make_unique<rollout::Rollout>(std::move(*state));
  entry.refs = (*record)->commandRefs;
  auto actions = entry.rollout->onCommandResult(host, commandId, result, clock_.nowMillis());
  if (actions.empty()) return;
  apply(entry, actions);
  save(entry);
}

void Rollouts::recordEvent(Entry& entry, EventRecord event) {
  if (auto s = store_.recordEvent(event); !s) {
    holdForStore(entry, "cannot save an event (" + event.kind + ": " + event.message + ")",
                 s.error().message);
  }
}

void Rollouts::holdForStore(Entry& entry, const std::string& what, const std::string& error) {
  rollout::Rollout& r = *entry.rollout;
  logger_->error("rollout {}: {}: {}", r.id(), what, error);
  if (r.state().operatorPause) return;  // already held; the operator resumes it
  rollout::RolloutInput input;
  input.kind = rollout::InputKind::kOperator;
  input.verb = rollout::OperatorVerb::kPause;
  input.atMillis = clock_.nowMillis();
  input.who = "the coordinator (" + what + ")";
  auto paused = feed(entry, input);
  if (!paused) {
    logger_->error("rollout {}: goes on without that record: {}", r.id(), paused.error().message);
    return;
  }
  apply(entry, *paused);
}

void Rollouts::apply(Entry& entry, const rollout::Actions& actions) {
  for (const auto& action : actions) {
    if (const auto* command = std::get_if<rollout::SendCommand>(&action)) {
      send(entry, *command);
    } else if (const auto* check = std::get_if<rollout::RecordCheck>(&action)) {
      if (auto s = store_.recordCheck(*check); !s) {
        holdForStore(entry, "cannot save the result of check " + check->result.name,
                     s.error().message);
      }
      if (check->result.verdict == rollout::Verdict::kFail) {
        logger_->warn("rollout {}: check {} failed: {}", check->rolloutId, check->result.name,
                      check->result.explanation);
      }
    } else if (const auto* event = std::get_if<rollout::RecordEvent>(&action)) {
      logger_->info("rollout {}{}: {}", event->rolloutId, event->host.empty() ? "" : " host " + event->host,
                    event->text);
      recordEvent(entry, EventRecord{event->atMillis, std::string(toString(event->kind)),
                                     event->host, event->rolloutId,
                                     rollout::storedEventMessage(*event)});
    } else if (const auto* query = std::get_if<rollout::QueryPrometheus>(&action)) {
      queryPrometheus(entry, *query);
    } else if (const auto* changed = std::get_if<rollout::StateChanged>(&action)) {
      logger_->log(stateChangeLevel(changed->to), "rollout {}: {} -> {}{}", changed->rolloutId,
                   rollout::statusName(changed->from), rollout::statusName(changed->to),
                   changed->reason.empty() ? "" : " (" + changed->reason + ")");
      recordEvent(entry, EventRecord{changed->atMillis, "state", "", changed->rolloutId,
                                     std::string(rollout::statusName(changed->from)) + " -> " +
                                         std::string(rollout::statusName(changed->to)) +
                                         (changed->reason.empty() ? "" : ": " + changed->reason)});
    }
  }
}

void Rollouts::save(Entry& entry) {
  const rollout::Rollout& r = *entry.rollout;
  RolloutRecord record;
  record.id = r.id();
  record.status = statusOf(r);
  record.finished = rollout::isTerminal(r.status());
  record.updatedMillis = clock_.nowMillis();
  record.stateJson = rollout::stateToJson(r.state(), /*includeWindows=*/false);
  record.commandRefs = entry.refs;
  if (auto s = store_.saveRollout(record); !s) {
    holdForStore(entry, "cannot save its state", s.error().message);
  }
}

Result<std::string> Rollouts::listJson() {
  auto ids = store_.recentRolloutIds(200);
  if (!ids) return ids.error();
  std::uint64_t now = clock_.nowMillis();
  std::vector<std::unique_ptr<rollout::Rollout>> owned;
  std::vector<const rollout::Rollout*> shown;
  for (const auto& id : *ids) {
    if (auto it = rollouts_.find(id); it != rollouts_.end()) {
      shown.push_back(it->second.rollout.get());
    } else if (auto loaded = load(id)) {
      owned.push_back(std::move(*loaded));
      shown.push_back(owned.back().get());
    }
  }
  json list = json::array();
  for (const auto* r : shown) {
    json summary = json::parse(rollout::summaryJson(*r, now));
    RolloutLabel label = labelFor(r->state(), shown);
    if (!label.label.empty()) {
      summary["label"] = label.label;
      summary["labelSource"] = label.source;
    }
    list.push_back(std::move(summary));
  }
  return json{{"rollouts", list}}.dump();
}

RolloutLabel Rollouts::labelFor(const rollout::RolloutState& state,
                                const std::vector<const rollout::Rollout*>& peers) {
  auto stored = store_.labelOf(state.spec.rolloutId);
  if (!stored) {
    logger_->error("rollout {}: cannot read its label: {}", state.spec.rolloutId,
                   stored.error().message);
  }
  std::optional<RolloutLabelRecord> operatorLabel = stored ? *stored : std::nullopt;
  std::vector<std::uint64_t> reverts;
  std::uint64_t next = 0;
  if (!operatorLabel && state.finished && state.outcome == rollout::RolloutStatus::kSucceeded) {
    if (auto fleet = store_.revertsOf(state.spec.service)) {
      for (const auto& r : *fleet) reverts.push_back(revertStartMillis(r));
    }
    for (const auto* peer : peers) {
      const auto& other = peer->state();
      if (other.spec.service != state.spec.service || other.startedMillis <= state.startedMillis) {
        continue;
      }
      if (other.spec.revert) {
        reverts.push_back(other.startedMillis);
      } else if (next == 0 || other.startedMillis < next) {
        next = other.startedMillis;
      }
    }
  }
  return labelRollout(state, operatorLabel, reverts, next, clock_.nowMillis(), goodAfterMillis_);
}

Result<std::string> Rollouts::label(const LabelRollout& request, const std::string& operatorName) {
  if (!exists(request.rolloutId)) return makeError("no rollout " + request.rolloutId);
  if (request.label != "good" && request.label != "bad") {
    return makeError("label \"" + request.label + "\" is not good or bad");
  }
  RolloutLabelRecord record{request.rolloutId, request.label, request.reason, operatorName,
                            clock_.nowMillis()};
  if (auto s = store_.saveLabel(record); !s) {
    return makeError("cannot label rollout " + request.rolloutId + ": " + s.error().message);
  }
  logger_->info("operator {} labelled rollout {} {}{}", operatorName, request.rolloutId,
                request.label, request.reason.empty() ? "" : " (" + request.reason + ")");
  return "rollout " + request.rolloutId + " labelled " + request.label + " by " + operatorName;
}

Result<std::string> Rollouts::describeJson(const std::string& id) {
  auto view = describe(id);
  if (!view) return view.error();
  if (auto label = labelOf(id); !label.label.empty()) {
    view->rollout.label = label.label;
    view->rollout.labelSource = label.source;
  }
  return toJson(*view).dump(-1, ' ', false, json::error_handler_t::replace);
}

RolloutLabel Rollouts::labelOf(const std::string& id) {
  std::unique_ptr<rollout::Rollout> owned;
  const rollout::Rollout* r = nullptr;
  if (auto it = rollouts_.find(id); it != rollouts_.end()) {
    r = it->second.rollout.get();
  } else if (auto loaded = load(id)) {
    owned = std::move(*loaded);
    r = owned.get();
  } else {
    return {};
  }
  std::vector<std::unique_ptr<rollout::Rollout>> peersOwned;
  std::vector<const rollout::Rollout*> peers;
  if (r->state().finished && r->state().outcome == rollout::RolloutStatus::kSucceeded) {
    // Later rollouts of the service: a revert among them labels a promotion bad.
    if (auto ids = store_.recentRolloutIds(200)) {
      for (const auto& other : *ids) {
        if (other == id) continue;
        if (auto it = rollouts_.find(other); it != rollouts_.end()) {
          peers.push_back(it->second.rollout.get());
        } else if (auto loaded = load(other)) {
          peersOwned.push_back(std::move(*loaded));
          peers.push_back(peersOwned.back().get());
        }
      }
    }
  }
  return labelFor(r->state(), peers);
}

Result<RolloutView> Rollouts::describe(const std::string& id) {
  std::unique_ptr<rollout::Rollout> owned;
  const rollout::Rollout* r = nullptr;
  if (auto it = rollouts_.find(id); it != rollouts_.end()) {
    r = it->second.rollout.get();
  } else {
    auto loaded = load(id);
    if (!loaded) return loaded.error();
    owned = std::move(*loaded);
    r = owned.get();
  }
  std::uint64_t now = clock_.nowMillis();
  auto stored = store_.checksOf(id);
  if (!stored) return stored.error();
  std::vector<CheckRecordView> checks(stored->begin(), stored->end());
  std::vector<EventView> events;
  auto ev = store_.eventsOf(id);
  if (!ev) return ev.error();
  for (const auto& e : *ev) {
    events.push_back(rollout::storedEventView(e.atMillis, e.kind, e.host, e.message));
  }
  return rollout::buildRolloutView(*r, now, std::move(checks), std::move(events));
}

Result<std::string> Rollouts::summaryJsonOf(const std::string& id) {
  std::uint64_t now = clock_.nowMillis();
  if (auto it = rollouts_.find(id); it != rollouts_.end()) {
    return rollout::summaryJson(*it->second.rollout, now);
  }
  auto loaded = load(id);
  if (!loaded) return loaded.error();
  return rollout::summaryJson(**loaded, now);
}

Result<std::vector<stats::CheckSpec>> Rollouts::checkSpecsOf(const std::string& id) {
  if (auto it = rollouts_.find(id); it != rollouts_.end()) {
    return it->second.rollout->state().gates.checks;
  }
  auto loaded = load(id);
  if (!loaded) return loaded.error();
  return (*loaded)->state().gates.checks;
}

}  // namespace rollgate::coordinator
