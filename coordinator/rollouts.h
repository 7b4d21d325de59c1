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
//
// Every input reaches a rollout through rollout::applyInput (rollout/journal.h), and the inputs
// worth keeping are kept with the rollout as its journal, for `rollgate backtest` to replay
// through the same function: buffered and written in one transaction per tick (and when the
// rollout ends); the oldest finished rollouts' journals go when they take more than
// keepJournals()' cap. A journal that cannot be written is logged as an error and the rollout
// goes on (its backtest replays what was kept; nothing about the rollout itself depends on it).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/artifact_store.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/prometheus_checks.h"
#include "coordinator/registry.h"
#include "coordinator/rollout/journal.h"
#include "coordinator/rollout/rollout.h"
#include "coordinator/rollout_labels.h"
#include "coordinator/store/store.h"
#include "coordinator/telemetry_store.h"

namespace rollgate::coordinator {

class Rollouts {
 public:
  // Requires: every argument outlives this. `windowSeconds` is the coordinator's telemetry window
  // ([coordinator] window_seconds, the agents' window): a plan follows it, and one that sets
  // another window_seconds is refused.
  Rollouts(Store& store, TelemetryStore& telemetry, ArtifactStore& artifacts, Registry& registry,
           CommandDispatcher& commands, const Clock& clock, Logger logger,
           std::uint64_t windowSeconds = rollout::kDefaultWindowSeconds);

  // Where Prometheus checks are queried (null: no Prometheus configured; a rollout with a
  // Prometheus check is then refused). Requires: outlives this.
  void usePrometheus(PrometheusChecks* prometheus) { prometheus_ = prometheus; }

  // The kept journals may take `capBytes` ([backtest] max_bytes); checked once a minute.
  void keepJournals(std::uint64_t capBytes) { journalCapBytes_ = capBytes; }

  // Resumes every rollout that had not finished; hosts of a rollout that ended
  // rolled_back_incomplete get their pending rollback when they say hello.
  Status open();

  // Starts a rollout; `done` gets its summary JSON or why it cannot start. With request.dryRun,
  // starts nothing (the artifact need not be stored yet) and gives what it would do, for people
  // (with a line "warning: ..." per warning). A version older than one active on a host of the
  // service is refused, pointing to `rollgate revert` (docs/revert.md). `done` is called before
  // start() returns, except for a rollout with Prometheus checks: their start-time queries run
  // off the loop and a later tick() calls it (after checking everything again).
  using StartDone = std::function<void(Result<std::string>)>;
  void start(const StartRollout& request, const std::string& operatorName, StartDone done);
  // The same, planned as usual but with its canary step alone (the release train's bisection,
  // docs/train.md): it succeeds when its canary passes, and the canary host stays on the version.
  void startCanaryOnly(const StartRollout& request, const std::string& operatorName,
                       StartDone done);
  // A staged revert (Reverts checked the version is older): the older version is let through and
  // every install is flagged as a revert. Started at once: its Prometheus queries are not tried
  // first (a query that fails holds the step at its looks instead).
  Result<std::string> startRevert(const StartRollout& request, const std::string& operatorName);
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
  // The status of unfinished rollout `id` as it is now (ahead of the store when a save failed);
  // "" when it is not running.
  std::string runningStatus(const std::string& id) const;

  void onTelemetry(const std::string& host, const TelemetryWindow& window);
  void onHostHealth(const std::string& host, bool healthy);
  // The coordinator's loop did not run for `stalledMillis`: each rollout is resumed as after a
  // restart (what its hosts sent meanwhile is still queued), saying so in its events.
  void onCoordinatorStall(std::uint64_t stalledMillis);
  void tick();

  // Both show each rollout's label and its source (rollout_labels.h).
  Result<std::string> listJson();
  // One rollout's typed read model (running, or loaded from the store), without its label (the
  // label reads later rollouts of the service); describeJson is its JSON with the label.
  Result<RolloutView> describe(const std::string& id);
  Result<std::string> describeJson(const std::string& id);
  // Rollout `id`'s label, with the service's later rollouts as peers (empty when it is unknown).
  RolloutLabel labelOf(const std::string& id);
  // `rollgate rollout label`: an operator's label, which overrides the automatic one.
  Result<std::string> label(const LabelRollout& request, const std::string& operatorName);
  // A promoted rollout not reverted within this long is labelled good ([backtest]
  // good_after_hours).
  void labelGoodAfter(std::uint64_t millis) { goodAfterMillis_ = millis; }
  // One rollout's summary JSON (as in listJson) and the checks it runs, for the console.
  Result<std::string> summaryJsonOf(const std::string& id);
  Result<std::vector<stats::CheckSpec>> checkSpecsOf(const std::string& id);

 private:
  struct Entry {
    std::unique_ptr<rollout::Rollout> rollout;
    std::map<std::uint64_t, CommandRef> refs;  // commandId -> the ref it was sent with
    std::vector<rollout::SendCommand> unsent;  // their ref could not be saved; retried by tick()
    std::vector<std::string> journal;          // lines not yet written
  };
  // Hands `input` to the entry's rollout (rollout::applyInput) and keeps it in its journal.
  Result<rollout::Actions> feed(Entry& entry, const rollout::RolloutInput& input);
  void flushJournal(Entry& entry);
  // The rollout's label; `peers` are other rollouts (later reverts of the service among them).
  RolloutLabel labelFor(const rollout::RolloutState& state,
                        const std::vector<const rollout::Rollout*>& peers);
  // Writes the journal of a rollout that has ended and forgets it.
  void retire(std::map<std::string, Entry>::iterator it);
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
  // What a start checks before anything else: no rollout of the service running, the artifact,
  // the plan, the gates and the planner's plan.
  struct PreparedStart {
    std::optional<ArtifactInfo> artifact;
    rollout::PlanConfig plan;
    rollout::GatesConfig gates;
    rollout::RolloutPlan planned;
    std::vector<std::string> dataNotes;  // plan notes from checkPlanGivesData
    bool revert = false;                 // a staged revert: installs flagged as reverts
  };
  Result<PreparedStart> prepareStart(const StartRollout& request, bool revert = false,
                                     bool canaryOnly = false);
  void start(const StartRollout& request, const std::string& operatorName, StartDone done,
             bool canaryOnly);
  Result<std::string> finishStart(const StartRollout& request, const std::string& operatorName,
                                  const PreparedStart& prepared,
                                  const std::vector<std::string>& prometheusWarnings);
  // The Prometheus checks of a starting rollout, run once off the loop (an invalid future when it
  // has none): an error refuses the start; warnings are said (and recorded as plan notes).
  using PrometheusProbe = std::future<Result<std::vector<std::string>>>;
  Result<PrometheusProbe> checkPrometheus(const rollout::GatesConfig& gates,
                                          const StartRollout& request,
                                          const rollout::RolloutPlan& plan) const;
  struct PendingStart {
    StartRollout request;
    std::string operatorName;
    PrometheusProbe probe;
    StartDone done;
    bool canaryOnly = false;
  };
  void finishPendingStarts();
  // Sends a look's Prometheus queries; feeds the answers that arrived to their rollouts.
  void queryPrometheus(Entry& entry, const rollout::QueryPrometheus& action);
  void takePrometheusAnswers();
  Result<std::unique_ptr<rollout::Rollout>> load(const std::string& id);
  Result<std::string> nextId();
  // Feeds `input` to every running rollout (of `service` only, when given), acting on and saving
  // what it changed.
  void feedEach(const rollout::RolloutInput& input, const std::string& service = "");
  // A stored unfinished rollout whose state cannot be read: ended as failed, with an event that
  // says why (open()).
  void endUnresumable(const RolloutRecord& record, const std::string& error, std::uint64_t now);

  Store& store_;
  TelemetryStore& telemetry_;
  ArtifactStore& artifacts_;
  Registry& registry_;
  CommandDispatcher& commands_;
  const Clock& clock_;
  Logger logger_;
  std::uint64_t windowSeconds_;
  std::map<std::string, Entry> rollouts_;  // unfinished rollouts only
  PrometheusChecks* prometheus_ = nullptr;
  std::vector<PendingStart> pendingStarts_;  // waiting for their Prometheus queries
  std::uint64_t journalCapBytes_ = 256ULL << 20;
  std::uint64_t goodAfterMillis_ = 24 * 3'600'000ULL;
  std::uint64_t nextJournalPruneMillis_ = 0;
};

}  // namespace rollgate::coordinator
