#include "coordinator/rollout_labels.h"

#include "coordinator/revert_job.h"

namespace rollgate::coordinator {

RolloutLabel labelRollout(const rollout::RolloutState& state,
                          const std::optional<RolloutLabelRecord>& operatorLabel,
                          const std::vector<std::uint64_t>& revertStartsMillis,
                          std::uint64_t nextRolloutMillis, std::uint64_t nowMillis,
                          std::uint64_t goodAfterMillis) {
  if (operatorLabel) {
    return RolloutLabel{operatorLabel->label, "operator " + operatorLabel->by,
                        operatorLabel->reason};
  }
  if (!state.finished) return {};
  using rollout::RolloutStatus;
  if (state.outcome == RolloutStatus::kRolledBack ||
      state.outcome == RolloutStatus::kRolledBackIncomplete ||
      state.outcome == RolloutStatus::kFailed) {
    if (state.abortRequested) return {};
    for (const auto& result : state.step.latest) {
      if (result.tier == stats::Tier::kCritical && result.verdict == stats::Verdict::kFail) {
        return RolloutLabel{"bad", "auto: rolled back by critical check " + result.name, ""};
      }
    }
    return {};
  }
  if (state.outcome != RolloutStatus::kSucceeded) return {};
  for (std::uint64_t started : revertStartsMillis) {
    if (started >= state.finishedMillis && (nextRolloutMillis == 0 || started < nextRolloutMillis)) {
      return RolloutLabel{"bad", "auto: reverted after promotion", ""};
    }
  }
  if (nowMillis >= state.finishedMillis + goodAfterMillis) {
    return RolloutLabel{"good",
                        "auto: promoted, not reverted within " +
                            std::to_string(goodAfterMillis / 3'600'000) + " h",
                        ""};
  }
  return {};
}

std::uint64_t revertStartMillis(const RevertRecord& revert) {
  auto state = revertFromJson(revert.stateJson);
  return state ? state->createdMillis : 0;
}

}  // namespace rollgate::coordinator
