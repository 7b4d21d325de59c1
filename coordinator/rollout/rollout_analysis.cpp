// The analysis of one look of a step (part of Rollout, rollout.h): both groups' windows over the
// same span (or the targets' own windows from before their switch), every check evaluated at this
// look, and the step's decision from the verdicts and tiers.
#include <algorithm>

#include "common/check.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

std::uint64_t Rollout::preSwitchSpanMillis() const {
  return state_.planConfig.stage(currentPlanStep().stage).analysisSeconds * 1000;
}

std::vector<StoredWindow> Rollout::preSwitchWindows(std::vector<StoredWindow> previous,
                                                    std::uint64_t nowMillis) const {
  std::vector<StoredWindow> kept;
  const PlanStep& plan = currentPlanStep();
  if (plan.comparisonKind != ComparisonKind::kOwnPreSwitch) return kept;
  std::uint64_t since = nowMillis - std::min(nowMillis, preSwitchSpanMillis());
  for (auto& stored : previous) {
    if (stored.window.startMillis < since) continue;
    auto target = std::find_if(plan.targets.begin(), plan.targets.end(),
                               [&](const PlannedHost& h) { return h.name == stored.host; });
    if (stored.target || target == plan.targets.end() ||
        stored.window.release != target->fromRelease) {
      continue;
    }
    kept.push_back(std::move(stored));
  }
  return kept;
}

void Rollout::evaluateLook(std::uint32_t look, std::uint64_t nowMillis, Actions& out) {
  StepProgress& step = state_.step;
  const PlanStep& plan = currentPlanStep();
  step.lastLook = look;
  bool hasComparison = !plan.comparison.empty();

  // Both sides over the same span: up to the latest window end that both have reached.
  std::uint64_t endTarget = 0, endComparison = 0;
  for (const auto& stored : step.windows) {
    if (stored.window.startMillis < step.activatedMillis) continue;
    auto& end = stored.target ? endTarget : endComparison;
    end = std::max(end, stored.window.endMillis);
  }
  std::uint64_t cutoff = hasComparison && endComparison > 0 && endTarget > 0
                             ? std::min(endTarget, endComparison)
                             : std::max(endTarget, endComparison);
  GroupData canary, comparison, canaryStage, comparisonStage;
  canary.hostCount = canaryStage.hostCount = plan.targets.size();
  comparison.hostCount = comparisonStage.hostCount = plan.comparison.size();
  // Own pre-switch comparison: the targets' windows on their old release over the span just
  // before the switch; their time span is not aligned with the canary side's.
  bool preSwitch = plan.comparisonKind == ComparisonKind::kOwnPreSwitch;
  std::uint64_t preSwitchFrom =
      step.activatedMillis - std::min(step.activatedMillis, preSwitchSpanMillis());
  for (const auto& stored : step.windows) {
    const TelemetryWindow& w = stored.window;
    if (preSwitch && !stored.target) {
      if (w.startMillis < preSwitchFrom || w.startMillis >= step.activatedMillis) continue;
      comparisonStage.windows += 1;
      comparisonStage.restarts += w.restarts;
      addWindow(comparison, w);
      continue;
    }
    if (w.endMillis > cutoff || w.startMillis < step.activatedMillis) continue;
    GroupData& stage = stored.target ? canaryStage : comparisonStage;  // restarts only
    stage.windows += 1;
    stage.restarts += w.restarts;
    if (w.startMillis >= step.analysisStartMillis)
      addWindow(stored.target ? canary : comparison, w);
  }

  for (GroupData* group : {&canary, &comparison}) poolLatencySamples(*group, kMaxSamplesPerSide);

  std::vector<CheckResult> results;
  const CheckResult* criticalFail = nullptr;
  std::vector<const CheckResult*> warnFails, missing;
  for (const auto& check : state_.gates.checks) {
    bool wholeStage = check.metric == Metric::kRestarts;
    results.push_back(evaluateCheck(check, wholeStage ? canaryStage : canary,
                                    wholeStage ? comparisonStage : comparison, hasComparison, look,
                                    step.looks, plans_));
  }
  for (const auto& result : results) {
    RecordCheck record;
    record.rolloutId = state_.spec.rolloutId;
    record.step = state_.currentStep + 1;
    record.stage = plan.stage;
    record.batch = plan.batch;
    record.batches = plan.batches;
    record.region = plan.region;
    for (const auto& h : plan.targets) record.canaryHosts.push_back(h.name);
    for (const auto& h : plan.comparison) record.comparisonHosts.push_back(h.name);
    record.result = result;
    record.atMillis = nowMillis;
    out.push_back(std::move(record));
    if (result.tier == Tier::kDebug) continue;
    if (result.verdict == Verdict::kFail) {
      if (result.tier == Tier::kCritical && criticalFail == nullptr) criticalFail = &result;
      if (result.tier == Tier::kWarn) warnFails.push_back(&result);
    } else if (result.verdict == Verdict::kNotEnoughData) {
      missing.push_back(&result);
    }
  }
  step.latest = results;
  if (criticalFail != nullptr) {
    failStep("critical check " + criticalFail->name + " failed: " + criticalFail->explanation, "",
             nowMillis, out, criticalFail->name, look);
    return;
  }
  if (!warnFails.empty() && !step.overridden && step.hold == Hold::kNone) {
    step.hold = Hold::kWarn;
    step.holdReason =
        "warn check " + warnFails.front()->name + " failed: " + warnFails.front()->explanation;
    RecordEvent& held =
        event(RolloutEventKind::kHeld, "",
              describeStep() + ": waiting for an operator: " + step.holdReason, nowMillis, out);
    held.check = warnFails.front()->name;
    held.look = look;
  }
  if (look == step.looks) {
    step.analysisComplete = true;
    if (!missing.empty() && !step.overridden && step.hold == Hold::kNone) {
      step.hold = Hold::kNotEnoughData;
      step.holdReason =
          "not enough data at the end of the analysis window: " + missing.front()->explanation;
      RecordEvent& held =
          event(RolloutEventKind::kHeld, "",
                describeStep() + ": waiting for an operator: " + step.holdReason, nowMillis, out);
      held.check = missing.front()->name;
      held.look = look;
    }
  }
}

}  // namespace rollgate::rollout
