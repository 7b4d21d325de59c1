// Backtest: replays rollouts' journals (journal.h) through the rollout engine with other gates or
// another look schedule, and scores each check's verdicts against the rollouts' labels.
//
// A replay builds the Rollout as it was constructed, with the gates (and the plan's durations)
// replaced when given, and feeds it the kept inputs through applyInput(), the same function live
// inputs go through, at their recorded times. It stops at the first decision: a step failed (roll
// back), a step held for an operator (hold), every step passed (promote); when the inputs end
// first (the live run stopped earlier, or an operator acted before the gates decided) it is
// undecided. With the gates and plan the rollout ran with, the replay takes the live run's
// decisions at the live run's looks (the engine is deterministic). Sends nothing: the engine's
// actions are only read.
// A changed plan keeps the plan's hosts and steps (the planner's batches are not redone) and
// changes warm-up, analysis and the looks; between kept inputs the replay then ticks once a
// second, as the coordinator does.
// Prometheus checks replay from the answers kept with the rollout.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/backtest_view.h"
#include "coordinator/rollout/journal.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

struct RecordedRollout {
  std::string id;
  RolloutState initial;              // as constructed, before start()
  std::vector<RolloutInput> inputs;  // oldest first, the start first
  Label label = Label::kNone;
  std::string labelSource;
};

// Reads journal lines (a --windows file, or the lines the coordinator kept) into rollouts in the
// order their start lines come. A bring-your-own start line (service, version and hosts) is
// planned with planRollout() under `byoPlan` and `byoGates`. Lines of an unreadable schema
// version are skipped and counted; any other bad line fails, naming `source`, the line number,
// the key and the value.
struct JournalRead {
  std::vector<RecordedRollout> rollouts;
  std::uint64_t unreadableLines = 0;
};
Result<JournalRead> readJournal(const std::vector<std::string>& lines, const std::string& source,
                                const PlanConfig& byoPlan, const GatesConfig& byoGates);
// Splits a text into lines (empty lines dropped).
std::vector<std::string> splitLines(const std::string& text);

// What a replay decided, and each check's verdicts on the way.
struct ReplayResult {
  BacktestDecisionView decision;
  std::uint64_t decidedAtMillis = 0;
  struct CheckSeen {
    std::string tier;
    bool flagged = false;                // failed at some look
    std::uint64_t millisToFlag = 0;      // from the step's analysis start to the first failing look
  };
  std::map<std::string, CheckSeen> checks;
  std::vector<std::string> checkOrder;  // as first seen
  std::uint64_t inputs = 0;
  std::uint64_t windows = 0;
  // Every look evaluated: (step, look) in order, for comparing with a live run.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> looks;
};

// Replays `rollout` with `gates` and `plan` when given (its own otherwise).
ReplayResult replay(const RecordedRollout& rollout, const GatesConfig* gates,
                    const PlanConfig* plan);

// Scores replays against their rollouts' labels (unlabelled rollouts are not counted): one row
// per check, in the order of `order`, then "(gates)": the gates as a whole flag a rollout they
// roll back or hold.
std::vector<BacktestCheckView> scoreReplays(const std::vector<const RecordedRollout*>& rollouts,
                                            const std::vector<ReplayResult>& results);

}  // namespace rollgate::rollout
