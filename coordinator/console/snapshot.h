// What the console's pages show, as one immutable snapshot the coordinator's loop publishes and
// the console's HTTP threads read (ConsoleBoard). The loop never waits for an HTTP thread: it
// swaps a shared pointer under a mutex held for that swap only. HTTP threads that stream
// server-sent events wait on the board's condition variable for a newer version.
// Each part has its own version (the snapshot's version when that part last changed), so a page
// hears only of changes to what it shows.
// Thread-safety: ConsoleSnapshot is immutable once published; ConsoleBoard is safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/backtest_view.h"
#include "common/messages.h"
#include "common/rollout_view.h"
#include "common/stats/gate_model.h"

namespace rollgate::console {

// One fleet-wide abort: which hosts it targets and when each acknowledged.
struct AbortView {
  std::uint64_t id = 0;
  std::vector<std::string> rolloutIds;  // empty: every rollout
  std::string reason;
  std::string requestedBy;
  std::uint64_t createdMillis = 0;
  std::vector<std::string> targets;
  std::map<std::string, std::uint64_t> ackedAtMillis;
  bool operator==(const AbortView&) const = default;
};

struct ConsoleSnapshot {
  std::uint64_t version = 0;
  std::uint64_t fleetVersion = 0;
  std::uint64_t rolloutsVersion = 0;  // the list, the freeze and the aborts
  std::uint64_t backtestsVersion = 0;  // the backtest runs
  std::map<std::string, std::uint64_t> rolloutVersions;  // per rollout page

  std::vector<HostInfo> hosts;  // sorted by region, cluster, name
  std::vector<RolloutSummaryView> rollouts;  // newest first
  // Full read models of the rollouts running now and of those a page asked for.
  std::map<std::string, std::shared_ptr<const RolloutView>> details;
  // The checks each of those rollouts runs (for each check's floors: alpha, minimum effects).
  std::map<std::string, std::vector<stats::CheckSpec>> checkSpecs;
  std::optional<FreezeState> freeze;
  std::vector<AbortView> aborts;  // newest first
  // The kept backtest runs (the running one first, then newest first); reports are shared, never
  // copied.
  std::vector<BacktestRunView> backtests;
  std::uint64_t publishedMillis = 0;
};

class ConsoleBoard {
 public:
  ConsoleBoard() : latest_(std::make_shared<const ConsoleSnapshot>()) {}
  // Called by the loop.
  void publish(std::shared_ptr<const ConsoleSnapshot> snapshot);
  std::shared_ptr<const ConsoleSnapshot> latest() const;
  // Waits until a snapshot newer than `version` is published, `timeout` passes or stop();
  // returns the latest snapshot.
  std::shared_ptr<const ConsoleSnapshot> waitNewer(std::uint64_t version,
                                                   std::chrono::milliseconds timeout) const;
  // Wakes every waiter for good (the server is stopping).
  void stop();
  bool stopped() const;

  // A page asks for the read model of a rollout that is not running; the loop adds it to the
  // next snapshots while it is asked for (ids are kept for `keepMillis` of steady time).
  void want(const std::string& rolloutId, std::uint64_t steadyMillis);
  std::set<std::string> wanted(std::uint64_t steadyMillis, std::uint64_t keepMillis = 30'000);

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::shared_ptr<const ConsoleSnapshot> latest_;
  bool stopped_ = false;
  std::map<std::string, std::uint64_t> wanted_;  // rollout id -> last asked (steady ms)
};

}  // namespace rollgate::console
