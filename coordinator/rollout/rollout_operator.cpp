// An operator's actions on a rollout (part of Rollout, rollout.h): pause, resume, promote, roll
// back and abort, each refused with the reason when the rollout's state does not allow it; and
// how a pause inside a step moves that step's clock.
#include <algorithm>

#include "common/check.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

namespace {
Error notNow(const RolloutState& state, const std::string& what) {
  return makeError("rollout " + state.spec.rolloutId + " is " +
                   std::string(statusName(state.status)) + ": " + what);
}
}  // namespace

void Rollout::shiftStepClock(std::uint64_t nowMillis) {
  StepProgress& step = state_.step;
  std::uint64_t from = std::min(state_.pausedAtMillis, nowMillis);
  switch (step.phase) {
    case StepPhase::kInstalling:
      step.pausedMillis += nowMillis - from;
      break;
    case StepPhase::kWarmingUp: {
      // Activation may have come during the pause: the warm-up counts from the later of the two.
      std::uint64_t paused = nowMillis - std::min(nowMillis, std::max(from, step.activatedMillis));
      step.analysisStartMillis += paused;
      step.analysisEndMillis += paused;
      break;
    }
    case StepPhase::kAnalyzing:
      step.pausedMillis += nowMillis - from;
      step.analysisEndMillis += nowMillis - from;
      break;
    default:
      return;
  }
  step.pauseEndedMillis = nowMillis;
}

Result<Actions> Rollout::pause(const std::string& who, std::uint64_t nowMillis) {
  if (state_.finished || state_.rollingBack) return notNow(state_, "nothing to pause");
  if (state_.operatorPause) return notNow(state_, "it is already paused");
  Actions out;
  state_.operatorPause = true;
  state_.pausedAtMillis = nowMillis;
  const StepPhase phase = state_.step.phase;
  bool inStep =
      state_.started && (phase == StepPhase::kInstalling || phase == StepPhase::kWarmingUp ||
                         phase == StepPhase::kAnalyzing);
  event(RolloutEventKind::kOperator, "",
        "paused by " + who + ": " +
            (inStep ? describeStep() + " stops " +
                          (phase == StepPhase::kAnalyzing
                               ? "at look " + std::to_string(state_.step.lastLook) + "/" +
                                     std::to_string(state_.step.looks)
                               : "while " + std::string(phaseName(phase))) +
                          "; no look falls due and no verdict is acted on until it is resumed"
                    : std::string("no further step starts until it is resumed")),
        nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Result<Actions> Rollout::resume(const std::string& who, std::uint64_t nowMillis) {
  if (state_.finished || state_.rollingBack) return notNow(state_, "nothing to resume");
  Actions out;
  StepProgress& step = state_.step;
  if (state_.operatorPause) {
    state_.operatorPause = false;
    shiftStepClock(nowMillis);
    std::uint64_t pausedSeconds = (nowMillis - std::min(nowMillis, state_.pausedAtMillis)) / 1000;
    state_.pausedAtMillis = 0;
    event(RolloutEventKind::kOperator, "",
          "resumed by " + who + " after " + std::to_string(pausedSeconds) + " s" +
              (step.phase != StepPhase::kAnalyzing
                   ? std::string()
                   : ": " + describeStep() + " continues from look " +
                         std::to_string(step.lastLook) + "/" + std::to_string(step.looks)),
          nowMillis, out);
  } else if (step.hold == Hold::kNotEnoughData && step.analysisComplete) {
    const StageConfig& stage = state_.planConfig.stage(currentPlanStep().stage);
    step.hold = Hold::kNone;
    step.holdReason.clear();
    step.analysisComplete = false;
    step.lastLook = 0;
    step.lastQueriedLook = 0;
    step.prometheus.clear();  // the looks are numbered again from 1
    step.analysisStartMillis = nowMillis;
    step.analysisEndMillis = nowMillis + stage.analysisSeconds * 1000;
    event(RolloutEventKind::kOperator, "",
          "resumed by " + who + ": " + describeStep() + " analyses again for " +
              std::to_string(stage.analysisSeconds) + " s",
          nowMillis, out);
  } else if (step.hold == Hold::kWarn) {
    return notNow(state_, "it waits on a warn verdict (" + step.holdReason +
                              "): promote to override it, or roll back");
  } else {
    return notNow(state_, "it is not paused");
  }
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Result<Actions> Rollout::promote(const std::string& who, std::uint64_t nowMillis) {
  if (state_.finished || state_.rollingBack) return notNow(state_, "nothing to promote");
  StepProgress& step = state_.step;
  if (step.hold == Hold::kNone) {
    return notNow(state_,
                  "no warn or not-enough-data verdict to override; a step promotes by "
                  "itself after its analysis window");
  }
  Actions out;
  event(RolloutEventKind::kOperator, "",
        "promoted by " + who + ", overriding: " + step.holdReason +
            (step.analysisComplete ? "" : " (critical checks run to the end of the window)"),
        nowMillis, out);
  step.overridden = true;
  step.hold = Hold::kNone;
  step.holdReason.clear();
  advance(nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Result<Actions> Rollout::rollback(const std::string& who, const std::string& reason,
                                  std::uint64_t nowMillis) {
  if (state_.finished) return notNow(state_, "nothing to roll back");
  if (state_.rollingBack) return notNow(state_, "it is already rolling back");
  Actions out;
  std::string text = "rollback requested by " + who + (reason.empty() ? "" : ": " + reason);
  event(RolloutEventKind::kOperator, "", text, nowMillis, out);
  if (state_.step.phase != StepPhase::kNotStarted) state_.step.phase = StepPhase::kFailed;
  startRollback(text, nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

Actions Rollout::abort(const std::string& who, const std::string& reason, std::uint64_t nowMillis) {
  Actions out;
  std::string text = "aborted by " + who + (reason.empty() ? "" : ": " + reason);
  if (state_.finished) {
    event(RolloutEventKind::kOperator, "",
          "abort by " + who + " ignored: the rollout already ended " +
              std::string(statusName(state_.outcome)) + ", nothing to undo",
          nowMillis, out);
    return out;
  }
  state_.abortRequested = true;
  if (state_.rollingBack) {
    event(RolloutEventKind::kOperator, "", text + " (already rolling back; it ends aborted)",
          nowMillis, out);
    state_.endReason = text + "; " + state_.endReason;
    return out;
  }
  event(RolloutEventKind::kOperator, "", text, nowMillis, out);
  if (state_.step.phase != StepPhase::kNotStarted) state_.step.phase = StepPhase::kFailed;
  state_.endReason = text;
  startRollback(text, nowMillis, out);
  syncStatus("", nowMillis, out);
  return out;
}

}  // namespace rollgate::rollout
