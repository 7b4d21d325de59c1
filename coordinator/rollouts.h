// Rollouts: drives every rollout's state machine (coordinator/rollout) from the coordinator's
// loop and makes it durable. Inputs (command results, telemetry windows, host health, time,
// operator actions) go to the rollouts they concern; their actions are carried out here: commands
// to agents, check results and events into the Store, state changes logged. Each rollout's state
// is saved after every input, so a coordinator killed at any moment resumes every rollout where it
// was, re-sending unanswered commands with their original sequence numbers (agents apply each at
// most once) and replaying the current step's telemetry from the telemetry store.
//
// Failure policy (a rollout never goes on as if the store had what it does not have):
//  - a command's ref is saved before the command is sent; when it cannot be saved the command is
//    NOT sent (it is retried at every tick until its ref is saved) and the rollout is paused;
//  - a check result, an event or the rollout's state that cannot be saved pauses the rollout
//    ("paused by the coordinator (cannot save ...)"): no further step starts until an operator
//    resumes it, once the store works again (a failure while it is paused pauses it again);
//  - a rollout that is rolling back or finished cannot be paused: rolling back goes on (it only
//    undoes), and the failure is logged as an error;
//  - every such failure is logged as an error naming the rollout and what was not saved.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/artifact_store.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/registry.h"
#include "coordinator/rollout/rollout.h"
#include "coordinator/store/store.h"
#include "coordinator/telemetry_store.h"

namespace rollgate::coordinator {

class Rollouts {
 public:
  // Requires: every argument outlives this.
  Rollouts(Store& store, TelemetryStore& telemetry, ArtifactStore& artifacts, Registry& registry,
           CommandDispatcher& commands, const Clock& clock, Logger logger);

  // Resumes every rollout that had not finished; hosts of a rollout that ended
  // rolled_back_incomplete get their pending rollback when they say hello.
  Status open();

  // Returns the rollout's summary JSON; with request.dryRun, starts nothing (the artifact need not
  // be stored yet) and returns what it would do, for people. A version older than one active on
  // a host of the service is refused, pointing to `rollgate revert` (docs/revert.md).
  // With `revert` (a staged revert: Reverts checked the version is older), the older version is
  // let through and every install is flagged as a revert.
  Result<std::string> start(const StartRollout& request, const std::string& operatorName,
                            bool revert = false);
  Result<std::string> act(const RolloutAction& request, const std::string& operatorName);
  struct AbortOutcome {
    // The hosts each aborted rollout involves, with the release each goes back to.
    std::map<std::string, std::vector<ServiceRelease>> hosts;
    std::vector<std::string> stopped;          // rollouts this abort stopped
    std::vector<std::string> alreadyAborting;  // rollouts an earlier abort is still undoing
  };
  // Aborts the given rollouts (every unfinished one when `ids` is empty).
  AbortOutcome abort(const std::vector<std::string>& ids, const std::string& operatorName,
                     const std::string& reason);
  bool exists(const std::string& id) const { return rollouts_.count(id) > 0 || stored(id); }
  std::vector<std::string> activeIds() const;
  // The service of unfinished rollout `id`; "" when it is not running.
  std::string serviceOf(const std::string& id) const;

  void onTelemetry(const std::string& host, const TelemetryWindow& window);
  void onHostHealth(const std::string& host, bool healthy);
  void tick();

  Result<std::string> listJson();
  Result<std::string> describeJson(const std::string& id);

 private:
  struct Entry {
    std::unique_ptr<rollout::Rollout> rollout;
    std::map<std::uint64_t, CommandRef> refs;  // commandId -> the ref it was sent with
    std::vector<rollout::SendCommand> unsent;  // their ref could not be saved; retried by tick()
  };
  void apply(Entry& entry, const rollout::Actions& actions);
  void send(Entry& entry, const rollout::SendCommand& command);
  void save(Entry& entry);
  // After a restart: the rollbacks of rollouts that ended rolled_back_incomplete go out again to
  // their hosts when they say hello (among the most recent kTimedOutRollbacksScanned rollouts).
  void resendTimedOutRollbacks();
  static constexpr std::size_t kTimedOutRollbacksScanned = 200;
  // A result for a command of a rollout that has ended: a rollback that timed out
  // (rolled_back_incomplete) records its host's return; other rollouts ignore it.
  void onLateResult(const std::string& id, const std::string& host, std::uint64_t commandId,
                    const CommandResult& result);
  // Records an event of `entry`'s rollout; a failure holds the rollout (see the policy above).
  void recordEvent(Entry& entry, EventRecord event);
  // Pauses `entry`'s rollout because `what` could not be saved (see the policy above).
  void holdForStore(Entry& entry, const std::string& what, const std::string& error);
  bool stored(const std::string& id) const;
  Result<std::unique_ptr<rollout::Rollout>> load(const std::string& id);
  Result<std::string> nextId();

  Store& store_;
  TelemetryStore& telemetry_;
  ArtifactStore& artifacts_;
  Registry& registry_;
  CommandDispatcher& commands_;
  const Clock& clock_;
  Logger logger_;
  std::map<std::string, Entry> rollouts_;  // unfinished rollouts only
};

}  // namespace rollgate::coordinator
