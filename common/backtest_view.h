// The typed report of a backtest (`rollgate backtest`, docs/backtest.md): per check, the counts
// against the labels with precision, recall and the time from the start of analysis to a
// decision; per rollout whose outcome would change, what was decided then and what would be
// decided now; what was replayed and the space the kept windows take. The coordinator builds it
// (coordinator/backtests.h) and sends it as JSON; the CLI decodes it here and renders the tables.
// Decoding fails, naming the key, when a key is missing or has the wrong type.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate {

inline constexpr int kBacktestReportSchema = 1;

struct BacktestCheckView {
  std::string name;  // a check's name; "(gates)" for the gates as a whole
  std::string tier;  // critical, warn, debug; "" for the gates as a whole
  std::uint64_t truePositives = 0;   // flagged and labelled bad
  std::uint64_t falsePositives = 0;  // flagged and labelled good
  std::uint64_t falseNegatives = 0;  // not flagged and labelled bad
  std::uint64_t trueNegatives = 0;   // not flagged and labelled good
  std::optional<double> precision;   // none when nothing was flagged
  std::optional<double> recall;      // none when nothing is labelled bad
  // From the start of the deciding step's analysis to the look that flagged it (flagged rollouts).
  std::optional<std::uint64_t> medianMillisToDecision;
  std::optional<std::uint64_t> p90MillisToDecision;
  bool operator==(const BacktestCheckView&) const = default;
};

// One rollout's decision: promote (every step passed), roll_back (a step failed), hold (a step
// waits for an operator) or undecided (its kept inputs end first: the live run stopped or an
// operator acted before the gates decided).
struct BacktestDecisionView {
  std::string decision;
  std::uint32_t step = 0;  // 1-based; 0 when no step decided
  std::string stage;
  std::uint32_t look = 0;  // 0 when not decided at a look
  std::string check;       // the check that decided, if one did
  std::string reason;
  // Every look evaluated up to the decision, as "step:look" ("1:1", "1:2", ...).
  std::vector<std::string> looks;
  bool operator==(const BacktestDecisionView&) const = default;
};

struct BacktestRolloutView {
  std::string id;
  std::string service;
  std::string version;
  std::string label;  // good, bad or "" (unlabelled)
  std::string labelSource;
  BacktestDecisionView then;  // with the gates and plan it ran with
  BacktestDecisionView now;   // with the gates and plan given
  bool operator==(const BacktestRolloutView&) const = default;
};

struct BacktestStorageView {
  std::string source;  // "store" or the --windows file's name
  std::uint64_t capBytes = 0;   // [backtest] max_bytes (0 for a file)
  std::uint64_t usedBytes = 0;  // what the kept inputs take now
  std::uint64_t keptRollouts = 0;
  std::uint64_t droppedRollouts = 0;  // whose windows went to stay within the cap
  bool operator==(const BacktestStorageView&) const = default;
};

struct BacktestView {
  int schema = kBacktestReportSchema;
  BacktestStorageView storage;
  std::string range;       // what was selected, in words ("service web, since ...")
  std::string emptyRange;  // set when nothing was selected: why, in words
  std::uint64_t selected = 0;
  std::uint64_t replayed = 0;
  std::uint64_t skippedUnreadable = 0;  // lines of a schema version this build cannot read
  std::uint64_t withoutJournal = 0;     // selected rollouts with no kept inputs
  std::uint64_t good = 0, bad = 0, unlabelled = 0;
  std::uint64_t windows = 0;  // telemetry windows replayed (both runs)
  std::uint64_t inputs = 0;   // inputs replayed (both runs)
  double replayMillis = 0;
  std::string gatesSource;  // the --gates file, or "as each rollout ran"
  std::string planSource;
  std::vector<BacktestCheckView> checks;  // with the given gates, plus "(gates)" last
  bool compare = false;
  std::vector<BacktestCheckView> currentChecks;  // with --compare: as the rollouts ran
  std::vector<BacktestRolloutView> changed;      // rollouts whose decision would change
  std::vector<BacktestRolloutView> rollouts;     // every replayed rollout, oldest first
  // The run the coordinator keeps it as, for the console (BacktestRunView::id); "" when it is not
  // kept (an offline replay). Optional key "run".
  std::string runId;
  bool operator==(const BacktestView&) const = default;
};

nlohmann::json toJson(const BacktestView& view);
Result<BacktestView> backtestViewFromJson(const nlohmann::json& j);

// A backtest the coordinator ran for an operator (from the CLI or the console), kept for the
// console's pages: the last kKeptBacktestRuns, in memory (a restarted coordinator starts a new
// list). The kept report has the per-check tables and the changed rollouts, not every replayed
// rollout's looks (`rollouts` is emptied), so that twenty runs stay small.
inline constexpr std::size_t kKeptBacktestRuns = 20;

struct BacktestRunView {
  std::string id;           // "b1", "b2", ...: in the order this coordinator started them
  std::string requestedBy;  // the operator
  std::uint64_t startedMillis = 0;
  std::uint64_t finishedMillis = 0;  // 0 while it runs
  std::string request;  // what was asked, in words (service, range, gates and plan files)
  std::string error;    // why it failed; "" when it did not
  std::shared_ptr<const BacktestView> report;  // null while it runs and when it failed
};

// The run without its report's tables: id, requestedBy, times, request, error, status (running,
// failed, done) and, once done, the report's source, range, gates, plan, counts, the number of
// changed rollouts and the "(gates)" rows ("gates", and "gatesAsRan" with --compare).
nlohmann::json summaryJson(const BacktestRunView& run);

}  // namespace rollgate
