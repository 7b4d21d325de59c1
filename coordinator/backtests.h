// Backtests: `rollgate backtest` in the coordinator (docs/backtest.md). A backtest replays kept
// rollouts (their journals, rollout/journal.h) through the rollout engine with the gates and plan
// given, and scores each check against the rollouts' labels (rollout_labels.h).
//
// Where it runs: the replay is the coordinator's own engine code (coordinator/rollout/), which the
// CLI does not link (cli/ shares only common/ with the daemons), so it runs in the coordinator:
// on a worker thread of its own with a read-only connection to the store (BacktestReader), never
// on the loop, which only starts it and, at its ticks, sends the finished report. One backtest
// at a time: another is refused while one runs. A --windows history travels in the request, up
// to kMaxBacktestWindowsBytes (what one admin request carries); a bigger one is replayed offline
// by `rollgate-coordinator backtest --windows FILE`, which runs the same runBacktest() in the
// process of the command, with no coordinator. Nothing here sends a command or writes to the
// store: the engine's actions are only read, and the store is opened read-only.
// Runs started through the admin API (the CLI or the console) are kept with an id for the
// console's pages: the last kKeptBacktestRuns (common/backtest_view.h), in memory.
// Thread-safety: Backtests belongs to the coordinator's loop; runBacktest is a plain function
// (its reader belongs to the calling thread).
#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "common/backtest_view.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/outbox.h"
#include "coordinator/store/backtest_reader.h"

namespace rollgate::coordinator {

struct BacktestSettings {
  std::string stateDir;             // the store's (read-only); empty: --windows only
  std::string storeUrl;             // [store] url: PostgreSQL instead of stateDir's SQLite
  std::uint64_t capBytes = 0;       // [backtest] max_bytes
  std::uint64_t goodAfterMillis = 24 * 3'600'000ULL;
  std::uint64_t windowSeconds = 10;  // [coordinator] window_seconds (for --plan)
};

// Runs one backtest over `reader` (the store) or, when request.windowsJsonl is set, that history
// (reader may then be null). Errors: a gates or plan file that does not parse (naming the file,
// key and value), a history line that does not (naming the line), the store unreadable.
Result<BacktestView> runBacktest(const BacktestRequest& request, BacktestReader* reader,
                                 const BacktestSettings& settings, std::uint64_t nowMillis);

class Backtests {
 public:
  // Requires: outbox and clock outlive this.
  Backtests(BacktestSettings settings, Outbox& outbox, const Clock& clock, Logger logger);
  // Waits for a running backtest.
  ~Backtests();

  // Starts `request` for `operatorName` on the worker; its reply (the report, with the id it is
  // kept under) goes to `to` from a later tick(). An error reply when one is already running.
  std::optional<AdminReply> start(const BacktestRequest& request, const ReplyTo& to,
                                  const std::string& operatorName);
  // Sends the report of a finished backtest and keeps it.
  void tick();

  // The kept runs, newest first, the running one (if any) first of all.
  std::vector<BacktestRunView> runs() const;
  // Changes whenever runs() does.
  std::uint64_t runsVersion() const { return runsVersion_; }

 private:
  BacktestSettings settings_;
  Outbox& outbox_;
  const Clock& clock_;
  Logger logger_;
  std::optional<ReplyTo> waiting_;
  std::future<Result<BacktestView>> running_;
  BacktestRunView current_;             // the running one (id empty when none runs)
  std::deque<BacktestRunView> kept_;    // finished, oldest first, at most kKeptBacktestRuns
  std::uint64_t nextRunNumber_ = 1;
  std::uint64_t runsVersion_ = 0;
};

}  // namespace rollgate::coordinator
