#include "coordinator/rollout/rollout.h"

#include <algorithm>
#include <set>

#include "common/check.h"

namespace rollgate::rollout {

std::string_view statusName(RolloutStatus status) {
  switch (status) {
    case RolloutStatus::kPending:
      return "pending";
    case RolloutStatus::kInstalling:
      return "installing";
    case RolloutStatus::kWarmingUp:
      return "warming_up";
    case RolloutStatus::kAnalyzing:
      return "analyzing";
    case RolloutStatus::kWaitingForOperator:
      return "waiting_for_operator";
    case RolloutStatus::kRollingBack:
      return "rolling_back";
    case RolloutStatus::kSucceeded:
      return "succeeded";
    case RolloutStatus::kRolledBack:
      return "rolled_back";
    case RolloutStatus::kAborted:
      return "aborted";
    case RolloutStatus::kFailed:
      return "failed";
    case RolloutStatus::kRolledBackIncomplete:
      return "rolled_back_incomplete";
  }
  return "?";
}

bool isTerminal(RolloutStatus status) {
  return status == RolloutStatus::kSucceeded || status == RolloutStatus::kRolledBack ||
         status == RolloutStatus::kAborted || status == RolloutStatus::kFailed ||
         status == RolloutStatus::kRolledBackIncomplete;
}

std::string_view phaseName(StepPhase phase) {
  switch (phase) {
    case StepPhase::kNotStarted:
      return "not_started";
    case StepPhase::kInstalling:
      return "installing";
    case StepPhase::kWarmingUp:
      return "warming_up";
    case StepPhase::kAnalyzing:
      return "analyzing";
    case StepPhase::kPassed:
      return "passed";
    case StepPhase::kFailed:
      return "failed";
  }
  return "?";
}

namespace {

std::string outcomeText(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kRolledBack:
      return "rolled back";
    case Outcome::kStale:
      return "stale";
    case Outcome::kCancelled:
      return "cancelled";
    case Outcome::kInterrupted:
      return "interrupted";
    case Outcome::kInProgress:
      return "in progress";
  }
  return "unknown";
}

std::string joinHosts(const std::vector<PlannedHost>& hosts) {
  std::string out;
  for (const auto& h : hosts) out += (out.empty() ? "" : ", ") + h.name;
  return out.empty() ? "none" : out;
}

std::string seconds(std::uint64_t millis) {
  return std::to_string(millis / 1000) +
         (millis % 1000 ? "." + std::to_string(millis % 1000 / 100) : "") + " s";
}

}  // namespace

Rollout::Rollout(RolloutSpec spec, RolloutPlan plan, PlanConfig planConfig, GatesConfig gates) {
  ROLLGATE_CHECK(!plan.steps.empty());
  state_.spec = std::move(spec);
  state_.plan = std::move(plan);
  state_.planConfig = std::move(planConfig);
  state_.gates = std::move(gates);
  std::set<std::string> seen;
  for (const auto& step : state_.plan.steps) {
    for (const auto* group : {&step.targets, &step.comparison}) {
      for (const auto& host : *group) {
        if (!seen.insert(host.name).second) continue;
        HostProgress progress;
        progress.name = host.name;
        progress.fromRelease = host.fromRelease;
        progress.lastKnownRelease = host.fromRelease;
        state_.hosts.push_back(std::move(progress));
      }
    }
  }
}

Rollout::Rollout(RolloutState state) : state_(std::move(state)) {}

HostProgress* Rollout::findHost(const std::string& name) {
  for (auto& host : state_.hosts) {
    if (host.name == name) return &host;
  }
  return nullptr;
}

const PlanStep& Rollout::currentPlanStep() const {
  return state_.plan.steps.at(
      std::min<std::size_t>(state_.currentStep, state_.plan.steps.size() - 1));
}

bool Rollout::isTarget(const std::string& host) const {
  const auto& targets = currentPlanStep().targets;
  return std::any_of(targets.begin(), targets.end(),
                     [&](const PlannedHost& h) { return h.name == host; });
}

bool Rollout::isComparison(const std::string& host) const {
  const auto& comparison = currentPlanStep().comparison;
  return std::any_of(comparison.begin(), comparison.end(),
                     [&](const PlannedHost& h) { return h.name == host; });
}

std::string Rollout::describeStep() const {
  const PlanStep& step = currentPlanStep();
  std::string text = "step " + std::to_string(state_.currentStep + 1) + "/" +
                     std::to_string(state_.plan.steps.size()) + " (" + step.stage;
  if (step.batches > 1) {
    text += " batch " + std::to_string(step.batch) + "/" + std::to_string(step.batches);
  }
  return text + " in " + step.region + ")";
}

RecordEvent& Rollout::event(RolloutEventKind kind, const std::string& host, const std::string& text,
                            std::uint64_t nowMillis, Actions& out) const {
  const std::uint32_t step = state_.step.phase == StepPhase::kNotStarted && state_.currentStep == 0
                                 ? 0
                                 : state_.currentStep + 1;
  out.push_back(RecordEvent{.rolloutId = state_.spec.rolloutId,
                            .kind = kind,
                            .step = step,
                            .host = host,
                            .text = text,
                            .atMillis = nowMillis});
  return std::get<RecordEvent>(out.back());
}

RolloutStatus Rollout::computeStatus() const {
  if (state_.finished) return state_.outcome;
  if (state_.rollingBack) return RolloutStatus::kRollingBack;
  if (!state_.started) return RolloutStatus::kPending;
  if (state_.operatorPause || state_.step.hold != Hold::kNone) {
    return RolloutStatus::kWaitingForOperator;
  }
  switch (state_.step.phase) {
    case StepPhase::kInstalling:
      return RolloutStatus::kInstalling;
    case StepPhase::kWarmingUp:
      return RolloutStatus::kWarmingUp;
    case StepPhase::kAnalyzing:
    case StepPhase::kPassed:
      return RolloutStatus::kAnalyzing;
    case StepPhase::kFailed:
      return RolloutStatus::kRollingBack;
    case StepPhase::kNotStarted:
      break;
  }
  return RolloutStatus::kPending;
}

void Rollout::syncStatus(const std::string& reason, std::uint64_t nowMillis, Actions& out) {
  RolloutStatus now = computeStatus();
  if (now == state_.status) return;
  std::string why = reason;
  if (why.empty()) {
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      if (const auto* e = std::get_if<RecordEvent>(&*it)) {
        why = e->text;
        break;
      }
    }
  }
  out.push_back(StateChanged{state_.spec.rolloutId, state_.status, now, why, nowMillis});
  state_.status = now;
}

std::vector<SendCommand> Rollout::pendingCommands() const {
  std::vector<SendCommand> commands;
  for (const auto& host : state_.hosts) {
    if (host.pending) commands.push_back(*host.pending);
  }
  return commands;
}

TelemetryWanted Rollout::telemetryWanted() const {
  TelemetryWanted wanted;
  if (!state_.started || state_.finished || state_.rollingBack) return wanted;
  const PlanStep& plan = currentPlanStep();
  for (const auto& h : plan.targets) wanted.hosts.push_back(h.name);
  for (const auto& h : plan.comparison) wanted.hosts.push_back(h.name);
  wanted.service = state_.spec.service;
  wanted.sinceMillis = state_.step.startedMillis;
  if (plan.comparisonKind == ComparisonKind::kOwnPreSwitch) {
    wanted.sinceMillis -= std::min(wanted.sinceMillis, preSwitchSpanMillis());
  }
  return wanted;
}

std::uint64_t Rollout::millisLeftInPhase(std::uint64_t nowMillis) const {
  if (state_.operatorPause && state_.pausedAtMillis != 0) {
    nowMillis = std::min(nowMillis, state_.pausedAtMillis);  // the step's clock stopped there
  }
  auto left = [&](std::uint64_t until) { return until > nowMillis ? until - nowMillis : 0; };
  if (state_.finished || state_.rollingBack) return 0;
  const StepProgress& step = state_.step;
  const StageConfig& stage = state_.planConfig.stage(currentPlanStep().stage);
  switch (step.phase) {
    case StepPhase::kInstalling:
      return left(step.startedMillis + step.pausedMillis + stage.installTimeoutSeconds * 1000);
    case StepPhase::kWarmingUp:
      return left(step.analysisStartMillis);
    case StepPhase::kAnalyzing:
      return left(step.analysisEndMillis);
    default:
      return 0;
  }
}

void Rollout::send(HostProgress& host, CommandKind kind,
                   std::variant<InstallRelease, RollBackRelease, RestartBaseline> body,
                   std::uint64_t nowMillis, Actions& out) {
  SendCommand command{state_.nextCommandId++, host.name, state_.spec.service, std::move(body)};
  host.pending = command;
  host.pendingKind = kind;
  host.pendingSinceMillis = nowMillis;
  out.push_back(std::move(command));
}

// ---- inputs

Actions Rollout::start(std::uint64_t nowMillis) {
  Actions out;
  if (state_.started || state_.finished) return out;
  state_.started = true;
  state_.startedMillis = nowMillis;
  event(RolloutEventKind::kStarted, "",
        "started: " + std::to_string(state_.plan.steps.size()) + " steps, canary " +
            state_.plan.canaryHost + ", baseline " + state_.plan.baselineHost,
        nowMillis, out);
  for (const auto& note : state_.plan.notes)
    event(RolloutEventKind::kPlanNote, "", "plan: " + note, nowMillis, out);
  if (!state_.plan.smallFleetWarning.empty()) {
    event(RolloutEventKind::kPlanNote, "", "plan: " + state_.plan.smallFleetWarning, nowMillis, out);
  }
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Actions Rollout::resumed(std::uint64_t nowMillis, const std::string& why) {
  Actions out;
  if (!state_.started || state_.finished) return out;
  state_.resumedMillis = nowMillis;
  event(RolloutEventKind::kResumed, "",
        "resumed after " + (why.empty() ? std::string("a coordinator restart") : why) + " in " +
            describeStep() + " (" +
            std::string(phaseName(state_.step.phase)) + "); hosts have " +
            std::to_string(state_.planConfig.silenceSeconds) +
            " s to report and installs a full timeout to finish",
        nowMillis, out);
  return out;
}

void Rollout::startStep(std::uint64_t nowMillis, Actions& out) {
  const PlanStep& plan = currentPlanStep();
  const StageConfig& stage = state_.planConfig.stage(plan.stage);
  std::vector<StoredWindow> carried = std::move(state_.step.windows);
  state_.step = StepProgress{};
  state_.step.windows = std::move(carried);
  state_.step.phase = StepPhase::kInstalling;
  state_.step.startedMillis = nowMillis;
  event(RolloutEventKind::kStepStarted, "",
        describeStep() + ": installing " + state_.spec.version + " on " + joinHosts(plan.targets) +
            (stage.weight >= 0 ? " at load balancer weight " + std::to_string(stage.weight) : "") +
            "; comparing with " + joinHosts(plan.comparison) + " (" + plan.comparisonNote + ")",
        nowMillis, out);
  for (const auto& target : plan.targets) {
    HostProgress* host = findHost(target.name);
    ROLLGATE_CHECK(host != nullptr, "no progress entry for target ", target.name);
    host->installSent = true;
    InstallRelease install;
    install.version = state_.spec.version;
    install.sha256 = state_.spec.artifact.sha256;
    install.sizeBytes = state_.spec.artifact.sizeBytes;
    install.source = state_.spec.artifact.source;
    install.signature = state_.spec.artifact.signature;
    install.activate = true;
    install.revert = state_.spec.revert;
    if (stage.weight >= 0) {
      install.trafficWeight = static_cast<std::int32_t>(stage.weight);
      install.trafficWeightSeconds =
          static_cast<std::uint32_t>(stage.warmupSeconds + stage.analysisSeconds);
    }
    send(*host, CommandKind::kInstall, std::move(install), nowMillis, out);
  }
}

void Rollout::advance(std::uint64_t nowMillis, Actions& out) {
  for (int guard = 0; guard < 4; ++guard) {
    if (state_.rollingBack && !state_.finished) timeOutRollback(nowMillis, out);
    if (!state_.started || state_.finished || state_.rollingBack) return;
    // An operator's pause stops the step's clock: nothing falls due and nothing is decided.
    if (state_.operatorPause) return;
    StepProgress& step = state_.step;
    const PlanStep& plan = currentPlanStep();
    const StageConfig& stage = state_.planConfig.stage(plan.stage);
    switch (step.phase) {
      case StepPhase::kNotStarted:
        startStep(nowMillis, out);
        return;
      case StepPhase::kInstalling: {
        std::uint64_t installFrom =
            std::max({step.startedMillis + step.pausedMillis, state_.resumedMillis});
        if (nowMillis > installFrom + stage.installTimeoutSeconds * 1000) {
          std::string waiting;
          for (const auto& target : plan.targets) {
            const HostProgress* host = findHost(target.name);
            if (host->lastKnownRelease != state_.spec.version || host->pending) {
              waiting += (waiting.empty() ? "" : ", ") + target.name;
            }
          }
          failStep("install of " + state_.spec.version + " did not finish within " +
                       std::to_string(stage.installTimeoutSeconds) + " s on " + waiting,
                   "", nowMillis, out);
        }
        return;
      }
      case StepPhase::kWarmingUp:
      case StepPhase::kAnalyzing: {
        std::uint64_t silenceMillis = state_.planConfig.silenceSeconds * 1000;
        for (const auto& target : plan.targets) {
          const HostProgress* host = findHost(target.name);
          std::uint64_t since = std::max({host->lastWindowMillis, step.activatedMillis,
                                          state_.resumedMillis, step.pauseEndedMillis});
          if (nowMillis > since + silenceMillis) {
            failStep("host " + target.name + " sent no telemetry for " +
                         seconds(nowMillis - since) + " (its agent is silent)",
                     target.name, nowMillis, out);
            return;
          }
        }
        if (step.phase == StepPhase::kWarmingUp) {
          if (nowMillis < step.analysisStartMillis) return;
          step.phase = StepPhase::kAnalyzing;
          event(RolloutEventKind::kAnalysisStarted, "",
                describeStep() + ": warm-up over, analysing for " +
                    std::to_string(stage.analysisSeconds) + " s in " + std::to_string(step.looks) +
                    " looks",
                nowMillis, out);
        }
        // Looks fall due over the analysis window without the time an operator paused it.
        std::uint64_t firstLookFrom = step.analysisStartMillis + step.pausedMillis;
        std::uint64_t lookMillis =
            (step.analysisEndMillis - std::min(step.analysisEndMillis, firstLookFrom)) / step.looks;
        std::uint64_t graceMillis = state_.planConfig.reportGraceSeconds * 1000;
        std::uint32_t due = step.lastLook;
        std::uint32_t queryLook = 0;
        for (std::uint32_t k = step.lastLook + 1; k <= step.looks; ++k) {
          std::uint64_t at =
              k == step.looks ? step.analysisEndMillis : firstLookFrom + k * lookMillis;
          // After a restart, looks that fell due while the coordinator was down wait until the
          // agents have had time to reconnect and deliver their backlog of windows.
          std::uint64_t ready =
              std::max(at + graceMillis,
                       state_.resumedMillis == 0 ? 0 : state_.resumedMillis + silenceMillis);
          if (nowMillis >= ready) due = k;
          if (nowMillis >= at) queryLook = k;
        }
        // Prometheus is asked once per look, when it falls due (only the latest one after a
        // restart or a pause); the look is evaluated report_grace_seconds later.
        if (queryLook > step.lastQueriedLook && queryLook > step.lastLook) {
          queryPrometheus(queryLook, out);
        }
        if (due > step.lastLook) {
          evaluateLook(due, nowMillis, out);
          if (state_.rollingBack || state_.finished) return;
        }
        if (!step.analysisComplete || step.hold != Hold::kNone) return;
        step.phase = StepPhase::kPassed;
        event(RolloutEventKind::kStepPassed, "",
              describeStep() + ": passed" +
                  (step.overridden ? " (an operator overrode a verdict)" : ""),
              nowMillis, out);
        if (state_.currentStep + 1 >= state_.plan.steps.size()) {
          finish(RolloutStatus::kSucceeded, nowMillis, out);
          return;
        }
        state_.currentStep += 1;
        std::vector<StoredWindow> carried = preSwitchWindows(std::move(step.windows), nowMillis);
        state_.step = StepProgress{};
        state_.step.windows = std::move(carried);
        continue;  // start the next step unless paused
      }
      case StepPhase::kPassed:
      case StepPhase::kFailed:
        return;
    }
  }
}

void Rollout::failStep(const std::string& reason, const std::string& host, std::uint64_t nowMillis,
                       Actions& out, const std::string& check, std::uint32_t look) {
  state_.step.phase = StepPhase::kFailed;
  std::string text = describeStep() + " failed: " + reason;
  RecordEvent& failed = event(RolloutEventKind::kStepFailed, host, text, nowMillis, out);
  failed.check = check;
  failed.look = look;
  startRollback(text, nowMillis, out);
}

void Rollout::finish(RolloutStatus status, std::uint64_t nowMillis, Actions& out) {
  state_.finished = true;
  state_.outcome = status;
  state_.rollingBack = false;
  state_.finishedMillis = nowMillis;
  std::string text = std::string(statusName(status));
  if (status == RolloutStatus::kSucceeded) {
    text += ": every step passed";
  } else if (status == RolloutStatus::kFailed) {
    std::string left;
    for (const auto& host : state_.hosts) {
      if (host.rollback == RollbackState::kFailed) {
        left += (left.empty() ? "" : ", ") + host.name + " (on " + host.lastKnownRelease + ")";
      }
    }
    text += ": the rollback did not restore " + left + "; " + state_.endReason;
  } else if (status == RolloutStatus::kRolledBackIncomplete) {
    text += ": " + state_.endReason;
  } else {
    text += ": every host it changed is back on its old release; " + state_.endReason;
  }
  event(RolloutEventKind::kFinished, "", text, nowMillis, out);
}

Actions Rollout::onCommandResult(const std::string& hostName, std::uint64_t commandId,
                                 const CommandResult& result, std::uint64_t nowMillis) {
  Actions out;
  if (result.progress || result.outcome == Outcome::kInProgress) return out;
  HostProgress* host = findHost(hostName);
  if (host == nullptr) return out;
  if (!host->pending || (commandId != 0 && commandId != host->pending->commandId)) {
    event(RolloutEventKind::kIgnored, hostName,
          "ignored a result for an earlier command on host " + hostName + " (" +
              outcomeText(result.outcome) + ")",
          nowMillis, out);
    return out;
  }
  CommandKind kind = host->pendingKind;
  // Without a command id, an install's late result must not be taken for the rollback's.
  if (commandId == 0 && kind == CommandKind::kRollback && result.outcome == Outcome::kSucceeded &&
      result.activeRelease == state_.spec.version && host->fromRelease != state_.spec.version) {
    return out;
  }
  host->pending.reset();
  if (!result.activeRelease.empty()) host->lastKnownRelease = result.activeRelease;
  std::string detail = outcomeText(result.outcome) +
                       (result.message.empty() ? std::string() : ": " + result.message);
  switch (kind) {
    case CommandKind::kInstall: {
      if (state_.finished || state_.rollingBack || !isTarget(hostName) ||
          state_.step.phase != StepPhase::kInstalling) {
        break;
      }
      if (result.outcome != Outcome::kSucceeded || result.activeRelease != state_.spec.version) {
        failStep(
            "install of " + state_.spec.version + " on host " + hostName + " " + detail +
                " (active release " +
                (result.activeRelease.empty() ? std::string("unknown") : result.activeRelease) +
                ")",
            hostName, nowMillis, out);
        break;
      }
      event(
          RolloutEventKind::kHostInstalled, hostName,
          "host " + hostName + " is on " + state_.spec.version + " (was " + host->fromRelease + ")",
          nowMillis, out);
      const PlanStep& plan = currentPlanStep();
      bool all = std::all_of(plan.targets.begin(), plan.targets.end(), [&](const PlannedHost& t) {
        const HostProgress* h = findHost(t.name);
        return !h->pending && h->lastKnownRelease == state_.spec.version;
      });
      if (!all) break;
      StepProgress& step = state_.step;
      const StageConfig& stage = state_.planConfig.stage(plan.stage);
      step.phase = StepPhase::kWarmingUp;
      step.activatedMillis = nowMillis;
      step.analysisStartMillis = nowMillis + stage.warmupSeconds * 1000;
      step.analysisEndMillis = step.analysisStartMillis + stage.analysisSeconds * 1000;
      step.looks = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(
          stage.analysisSeconds / state_.planConfig.windowSeconds, 1, kMaxLooks));
      event(RolloutEventKind::kTargetsActive, "",
            describeStep() + ": every target is on " + state_.spec.version + "; warming up " +
                std::to_string(stage.warmupSeconds) + " s",
            nowMillis, out);
      if (plan.restartComparison) {
        for (const auto& comparison : plan.comparison) {
          HostProgress* baseline = findHost(comparison.name);
          if (baseline->pending) continue;
          event(RolloutEventKind::kBaselineRestart, comparison.name,
                "restarting baseline host " + comparison.name + " on " + baseline->fromRelease +
                    " so both have the same uptime",
                nowMillis, out);
          send(*baseline, CommandKind::kRestartBaseline, RestartBaseline{}, nowMillis, out);
        }
      }
      break;
    }
    case CommandKind::kRestartBaseline:
      event(RolloutEventKind::kBaselineRestart, hostName,
            "baseline host " + hostName + " restart " + detail, nowMillis, out);
      break;
    case CommandKind::kRollback: {
      bool restored =
          (result.outcome == Outcome::kSucceeded || result.outcome == Outcome::kRolledBack) &&
          result.activeRelease == host->fromRelease;
      host->rollback = restored ? RollbackState::kDone : RollbackState::kFailed;
      event(RolloutEventKind::kHostRolledBack, hostName,
            restored ? "host " + hostName + " is back on " + host->fromRelease +
                           (state_.finished ? " (it returned after the rollout ended " +
                                                  std::string(statusName(state_.outcome)) + ")"
                                            : "")
                     : "rollback of host " + hostName + " to " + host->fromRelease + " " + detail +
                           " (active release " + host->lastKnownRelease + ")",
            nowMillis, out);
      finishRollbackIfDone(nowMillis, out);
      break;
    }
  }
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Actions Rollout::onTelemetry(const std::string& hostName, const TelemetryWindow& window,
                             std::uint64_t nowMillis) {
  Actions out;
  if (!state_.started || state_.finished) return out;
  HostProgress* host = findHost(hostName);
  if (host == nullptr || window.service != state_.spec.service) return out;
  bool target = isTarget(hostName);
  bool comparison = isComparison(hostName);
  if (!target && !comparison) return out;
  host->lastWindowMillis = nowMillis;
  StepPhase phase = state_.step.phase;
  // A step compared with its own pre-switch windows collects them while it waits to start, too.
  bool collecting =
      !state_.rollingBack && (phase == StepPhase::kInstalling || phase == StepPhase::kWarmingUp ||
                              phase == StepPhase::kAnalyzing ||
                              (phase == StepPhase::kNotStarted &&
                               currentPlanStep().comparisonKind == ComparisonKind::kOwnPreSwitch));
  bool duplicate = std::any_of(
      state_.step.windows.begin(), state_.step.windows.end(), [&](const StoredWindow& stored) {
        return stored.host == hostName && stored.window.startMillis == window.startMillis &&
               stored.window.release == window.release;
      });
  if (collecting && !duplicate) {
    if (target && window.release == state_.spec.version) {
      state_.step.windows.push_back(StoredWindow{hostName, true, window});
    } else if (comparison && window.release == host->fromRelease) {
      state_.step.windows.push_back(StoredWindow{hostName, false, window});
    }
  }
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Actions Rollout::onHostHealth(const std::string& hostName, bool healthy, std::uint64_t nowMillis) {
  Actions out;
  HostProgress* host = findHost(hostName);
  if (host == nullptr || host->healthy == healthy) return out;
  host->healthy = healthy;
  if (state_.finished) return out;
  event(RolloutEventKind::kHostHealth, hostName,
        "host " + hostName + (healthy ? " is reporting again" : " stopped reporting"), nowMillis,
        out);
  StepPhase phase = state_.step.phase;
  if (!healthy && state_.started && !state_.rollingBack && isTarget(hostName) &&
      (phase == StepPhase::kWarmingUp || phase == StepPhase::kAnalyzing)) {
    failStep("host " + hostName + " stopped reporting during " + std::string(phaseName(phase)) +
                 " (a silent canary fails its stage)",
             hostName, nowMillis, out);
  }
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Actions Rollout::tick(std::uint64_t nowMillis) {
  Actions out;
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

// Operator actions are in rollout_operator.cpp, the analysis of a look in rollout_analysis.cpp,
// the rollback of changed hosts in rollout_rollback.cpp.

}  // namespace rollgate::rollout
