// Labels of rollouts for the backtest (docs/backtest.md): an operator's label (`rollgate rollout
// label`) wins; otherwise an automatic one from what happened: rolled back by a critical check ->
// bad; promoted and not reverted within [backtest] good_after_hours -> good; reverted after
// promotion (a fleet-wide or staged revert of the service before its next rollout) -> bad;
// aborted, still running, or promoted too recently -> unlabelled.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/rollout/rollout.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

struct RolloutLabel {
  std::string label;   // good, bad, or "" (unlabelled)
  std::string source;  // "operator alice", "auto: ...", or "" when unlabelled
  std::string reason;  // the operator's reason
};

// `revertStartsMillis`: when reverts of the rollout's service started; `nextRolloutMillis`: when
// the service's next (not revert) rollout started, 0 if none.
RolloutLabel labelRollout(const rollout::RolloutState& state,
                          const std::optional<RolloutLabelRecord>& operatorLabel,
                          const std::vector<std::uint64_t>& revertStartsMillis,
                          std::uint64_t nextRolloutMillis, std::uint64_t nowMillis,
                          std::uint64_t goodAfterMillis);

// When a fleet-wide revert started (its state's createdMillis), 0 when the state is unreadable.
std::uint64_t revertStartMillis(const RevertRecord& revert);

}  // namespace rollgate::coordinator
