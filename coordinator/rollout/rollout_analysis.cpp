// The analysis of one look of a step (part of Rollout, rollout.h): both groups' windows over the
// same span (or the targets' own windows from before their switch), every check evaluated at this
// look, and the step's decision from the verdicts and tiers.
#include <algorithm>
#include <map>

#include "common/check.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

// How far back a held host's old-release windows are kept (and replayed after a restart): twice
// the stage's warm-up and analysis, so that as many windows as its new-release side will have can
// be taken (evaluateLook picks them).
std::uint64_t Rollout::preSwitchSpanMillis() const {
  const StageConfig& stage = state_.planConfig.stage(currentPlanStep().stage);
  return 2 * (stage.warmupSeconds + stage.analysisSeconds) * 1000;
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
  // Own pre-switch comparison: each target's latest windows on its old release before the
  // switch, as many as its new-release side has in the analysis (at least the planned looks), so
  // both sides have the same amount of data; their time spans are not aligned.
  const bool preSwitch = plan.comparisonKind == ComparisonKind::kOwnPreSwitch;
  std::map<std::string, std::uint32_t> analysisWindows;  // per target host
  std::vector<const StoredWindow*> preSwitchCandidates;   // newest first, below
  for (const auto& stored : step.windows) {
    const TelemetryWindow& w = stored.window;
    if (preSwitch && !stored.target) {
      if (w.startMillis < step.activatedMillis) preSwitchCandidates.push_back(&stored);
      continue;
    }
    if (w.endMillis > cutoff || w.startMillis < step.activatedMillis) continue;
    GroupData& stage = stored.target ? canaryStage : comparisonStage;  // restarts only
    stage.windows += 1;
    stage.restarts += w.restarts;
    if (w.startMillis >= step.analysisStartMillis) {
      addWindow(stored.target ? canary : comparison, w);
      if (stored.target) analysisWindows[stored.host] += 1;
    }
  }
  std::sort(preSwitchCandidates.begin(), preSwitchCandidates.end(),
            [](const StoredWindow* a, const StoredWindow* b) {
              return a->window.startMillis > b->window.startMillis;
            });
  std::map<std::string, std::uint32_t> taken;
  for (const StoredWindow* stored : preSwitchCandidates) {
    if (taken[stored->host] >= std::max(analysisWindows[stored->host], step.looks)) continue;
    taken[stored->host] += 1;
    comparisonStage.windows += 1;
    comparisonStage.restarts += stored->window.restarts;
    addWindow(comparison, stored->window);
  }

  for (GroupData* group : {&canary, &comparison}) poolLatencySamples(*group, kMaxSamplesPerSide);

  std::vector<CheckResult> results;
  const CheckResult* criticalFail = nullptr;
  std::vector<const CheckResult*> warnFails, missing;
  const std::vector<PrometheusHost> prometheusHosts = this->prometheusHosts();
  for (const auto& check : state_.gates.checks) {
    if (check.metric == Metric::kPrometheus) {
      results.push_back(evaluatePrometheusCheck(check, step.prometheus, prometheusHosts,
                                                hasComparison && !preSwitch, look, step.looks,
                                                plans_));
      continue;
    }
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
