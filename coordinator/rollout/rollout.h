// Rollout: the state machine of one rollout, from its plan (planner.h) through each step's
// install, warm-up, analysis and decision, to success, rollback or abort. It is pure logic
// driven by an event loop: every input carries the time (`nowMillis`, Unix milliseconds from the
// coordinator's clock) and returns the actions the coordinator must carry out (send a command to
// a host, record a check result, record an event, note a state change). It does no I/O and reads
// no clock; call tick() about once a second so that timeouts, warm-ups and analysis looks happen.
//
// Rules it keeps:
//  - a failed step stops everything after it; a critical check failing at any look, a failed
//    install, an install timeout or a stage host going silent (unhealthy, or no telemetry for
//    `silence_seconds`) fails the step and rolls back at once every host the rollout changed, and
//    only those, each to the release it had before;
//  - a warn check failing pauses for an operator (analysis of the critical checks goes on);
//    promote overrides it; debug checks are only recorded;
//  - a step passes only after the final look of its full analysis window; not enough data is
//    never a pass: the step waits until the window ends, then pauses for an operator (resume
//    re-runs the analysis window, promote overrides);
//  - abort is accepted in every state and undoes only what the rollout changed;
//  - an operator's pause stops the current step's clock: no install timeout, silence, warm-up or
//    look falls due and no verdict is acted on until resume, which continues the step with the
//    looks it had (its deadlines move by the time paused); results that arrive meanwhile (an
//    install failing, a host reported unhealthy) still act, and a pause between steps holds the
//    next one;
//  - a rollback that does not reach every host within `rollback_timeout_seconds` ends the
//    rollout rolled_back_incomplete, naming the hosts still on the new release; their rollback
//    commands stay pending and switch them back when they return.
// Telemetry windows are placed in time by their own startMillis/endMillis (the agent's clock)
// against activation + warm-up (the coordinator's clock): keep clocks in sync (NTP); a skew of
// seconds only moves which window is the first one counted.
//
// Its whole state is the plain struct RolloutState, which converts to and from JSON: store it
// after each input and, after a crash, rebuild the Rollout from it. Decided things (looks
// evaluated, steps passed or failed, commands sent) are in the state and are not redone; commands
// still awaiting a result are listed by pendingCommands() for the coordinator to re-send.
// Thread-safety: one thread (an instance belongs to the coordinator's event loop).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/rollout_view.h"
#include "coordinator/rollout/gates.h"
#include "coordinator/rollout/planner.h"
#include "coordinator/rollout/prometheus_gate.h"
#include "coordinator/rollout/rollout_config.h"

namespace rollgate::rollout {

enum class RolloutStatus : std::uint8_t {
  kPending,  // created, not started (or started but held before its first step)
  kInstalling,
  kWarmingUp,
  kAnalyzing,
  kWaitingForOperator,  // paused by an operator, or a warn / not-enough-data verdict
  kRollingBack,
  kSucceeded,             // every step passed
  kRolledBack,            // a step failed or an operator rolled back; every changed host is back
  kAborted,               // aborted; every changed host is back
  kFailed,                // a rollback could not restore some host (see the events)
  kRolledBackIncomplete,  // the rollback timed out; endReason names the hosts not yet back
};
std::string_view statusName(RolloutStatus status);
bool isTerminal(RolloutStatus status);

enum class StepPhase : std::uint8_t {
  kNotStarted,
  kInstalling,
  kWarmingUp,
  kAnalyzing,
  kPassed,
  kFailed
};
std::string_view phaseName(StepPhase phase);

// Why a step waits for an operator (besides an operator's pause).
enum class Hold : std::uint8_t { kNone, kWarn, kNotEnoughData };

struct ArtifactRef {
  std::string sha256;
  std::uint64_t sizeBytes = 0;
  std::string source;     // empty: the coordinator's artifact store
  std::string signature;  // raw bytes
  bool operator==(const ArtifactRef&) const = default;
};

struct RolloutSpec {
  std::string rolloutId;
  std::string service;
  std::string version;
  ArtifactRef artifact;
  // A staged revert (`rollgate revert --staged`, docs/revert.md): `version` is older than the
  // hosts' release, and every install is flagged as a revert so that the agents take it.
  bool revert = false;
  bool operator==(const RolloutSpec&) const = default;
};

// ---- actions (outputs)

// Send `body` to `host` for `service`. The coordinator wraps it in a Command with its own per-host
// sequence and epoch and hands the result back with onCommandResult(host, commandId, ...).
struct SendCommand {
  std::uint64_t commandId = 0;  // unique within the rollout
  std::string host;
  std::string service;
  std::variant<InstallRelease, RollBackRelease, RestartBaseline> body;
  bool operator==(const SendCommand&) const = default;
};

// One check's result at one look, with the step it belongs to (`step` 1-based), as the read
// model shows it. Store it (explain shows it).
using RecordCheck = RolloutCheckRecord;

// An event of the rollout: what kind, in which step and about which host, as fields; `text` says
// what happened for people (without the rollout's name, which the reader knows) and is never
// parsed.
struct RecordEvent {
  std::string rolloutId;
  RolloutEventKind kind = RolloutEventKind::kStarted;
  std::uint32_t step = 0;  // 1-based step it happened in; 0 before the first step started
  std::string host;        // empty: the rollout as a whole
  std::string check;       // the check that held or failed the step; empty otherwise
  std::uint32_t look = 0;  // that check's look; 0 otherwise
  std::string text;
  std::uint64_t atMillis = 0;
  bool operator==(const RecordEvent&) const = default;
};

struct StateChanged {
  std::string rolloutId;
  RolloutStatus from = RolloutStatus::kPending;
  RolloutStatus to = RolloutStatus::kPending;
  std::string reason;
  std::uint64_t atMillis = 0;
  bool operator==(const StateChanged&) const = default;
};

// Query every Prometheus check of the rollout for these hosts, for look `look` of step `step`
// (1-based), and hand each answer back with onPrometheusSample() (prometheus_gate.h). Sent when
// the look falls due; the look is evaluated report_grace_seconds later, so a query should answer
// within that (a later answer counts from the next look on).
struct QueryPrometheus {
  std::string rolloutId;
  std::string service;
  std::uint32_t step = 0;
  std::uint32_t look = 0;
  std::vector<PrometheusHost> hosts;
  bool operator==(const QueryPrometheus&) const = default;
};

// Calls `ask` once for every Prometheus check of `gates` and host of `action`, with the sample
// that answers it (check, step, look and host set; the caller fills query, value or problem).
void forEachPrometheusSample(
    const QueryPrometheus& action, const GatesConfig& gates,
    const std::function<void(const CheckSpec&, const PrometheusHost&, PrometheusSample)>& ask);

using Action = std::variant<SendCommand, RecordCheck, RecordEvent, StateChanged, QueryPrometheus>;
using Actions = std::vector<Action>;

// ---- state

enum class CommandKind : std::uint8_t { kInstall, kRestartBaseline, kRollback };
// kTimedOut: no result within the rollback timeout; the command stays pending for its return.
enum class RollbackState : std::uint8_t { kNone, kPending, kDone, kFailed, kTimedOut };

// One host of the plan (a target of some step, a comparison host, or both).
struct HostProgress {
  std::string name;
  std::string fromRelease;       // what a rollback returns it to
  std::string lastKnownRelease;  // from the latest command result (fromRelease until then)
  bool installSent = false;      // the rollout may have changed this host
  bool healthy = true;
  std::uint64_t lastWindowMillis = 0;  // when its latest telemetry window arrived (our clock)
  std::optional<SendCommand> pending;  // the command awaiting a result
  CommandKind pendingKind = CommandKind::kInstall;
  std::uint64_t pendingSinceMillis = 0;
  RollbackState rollback = RollbackState::kNone;
  bool operator==(const HostProgress&) const = default;
};

struct StoredWindow {
  std::string host;
  bool target = false;  // canary side (new release) or comparison side (old release)
  TelemetryWindow window;
  bool operator==(const StoredWindow&) const = default;
};

struct StepProgress {
  StepPhase phase = StepPhase::kNotStarted;
  std::uint64_t startedMillis = 0;
  std::uint64_t activatedMillis = 0;      // every target on the new release
  std::uint64_t analysisStartMillis = 0;  // activation + warm-up
  std::uint64_t analysisEndMillis = 0;
  std::uint32_t looks = 0;        // K
  std::uint32_t lastLook = 0;     // looks evaluated so far
  bool analysisComplete = false;  // the final look was evaluated
  Hold hold = Hold::kNone;
  std::string holdReason;
  bool overridden = false;            // an operator promoted over warn / not enough data
  std::uint64_t pausedMillis = 0;     // operator pauses during install or analysis (the looks
                                      // and install timeout move by it)
  std::uint64_t pauseEndedMillis = 0;  // the last resume from such a pause (silence counts
                                       // from it)
  std::vector<CheckResult> latest;    // each check's latest result
  std::vector<StoredWindow> windows;  // this step's telemetry
  std::uint32_t lastQueriedLook = 0;  // the latest look Prometheus was queried for
  std::vector<PrometheusSample> prometheus;  // this step's Prometheus values, per check/host/look
  bool operator==(const StepProgress&) const = default;
};

struct RolloutState {
  RolloutSpec spec;
  RolloutPlan plan;
  PlanConfig planConfig;
  GatesConfig gates;
  RolloutStatus status = RolloutStatus::kPending;  // as last reported in a StateChanged
  bool started = false;
  bool finished = false;
  RolloutStatus outcome = RolloutStatus::kPending;  // the terminal status once finished
  bool rollingBack = false;
  bool abortRequested = false;
  bool operatorPause = false;
  std::uint64_t pausedAtMillis = 0;  // when the operator's pause began
  std::uint32_t currentStep = 0;
  StepProgress step;
  std::vector<HostProgress> hosts;
  std::uint64_t nextCommandId = 1;
  std::uint64_t startedMillis = 0;
  std::uint64_t finishedMillis = 0;
  std::uint64_t resumedMillis = 0;  // the last resume after a restart (timeouts count from it)
  std::uint64_t rollbackStartedMillis = 0;
  std::string endReason;            // why it rolled back, was aborted or failed
  bool operator==(const RolloutState&) const = default;
};

// JSON for storage: a versioned object; fromJson fails (naming the key) on anything malformed.
// The state holds the current step's telemetry windows (latency samples included), which can
// make it large in a big batch. `includeWindows` false leaves them out: store that on every input
// and the full state less often, or not at all, and after a restart replay the windows the
// telemetry store holds (see Rollout::telemetryWanted(); replayed duplicates are ignored).
std::string stateToJson(const RolloutState& state, bool includeWindows = true);
Result<RolloutState> stateFromJson(const std::string& text);

// What telemetry the current step uses: windows of `service` from these hosts that started at or
// after `sinceMillis` (for a step compared with its own pre-switch windows, reaching back
// preSwitchSpanMillis() before the step started). Empty hosts when the rollout collects nothing now.
struct TelemetryWanted {
  std::string service;
  std::vector<std::string> hosts;
  std::uint64_t sinceMillis = 0;
};

class Rollout {
 public:
  // A new rollout over a plan from planRollout(). Requires: plan has at least one step.
  Rollout(RolloutSpec spec, RolloutPlan plan, PlanConfig planConfig, GatesConfig gates);
  // Resumes from stored state.
  explicit Rollout(RolloutState state);

  const RolloutState& state() const { return state_; }
  RolloutStatus status() const { return state_.status; }
  const std::string& id() const { return state_.spec.rolloutId; }
  // Commands sent and not yet answered: re-send them (same commandId) after a restart or when
  // their host reconnects.
  std::vector<SendCommand> pendingCommands() const;
  // Telemetry to replay into onTelemetry() after resuming from a state stored without windows.
  TelemetryWanted telemetryWanted() const;
  // Milliseconds left of the current step's install timeout, warm-up or analysis (0 if none).
  std::uint64_t millisLeftInPhase(std::uint64_t nowMillis) const;

  // ---- inputs
  Actions start(std::uint64_t nowMillis);
  // Call once after rebuilding from stored state: the time the coordinator was down does not
  // count against hosts (silence) or installs (timeout); both count again from now, and looks
  // that fell due meanwhile wait silence_seconds for the agents' backlog of windows. Re-send
  // pendingCommands() too. `why`: empty after a restart; otherwise what kept the coordinator from
  // running (a stall of its own loop), said in the event.
  Actions resumed(std::uint64_t nowMillis, const std::string& why = "");
  // A result for a command this rollout sent. commandId 0 means "the host's pending command".
  // Progress reports (result.progress, Outcome::kInProgress) are ignored.
  Actions onCommandResult(const std::string& host, std::uint64_t commandId,
                          const CommandResult& result, std::uint64_t nowMillis);
  // A window from `host`. Windows of other services, hosts outside the current step, releases
  // other than the new one (targets) or the host's old one (comparison), and a window already
  // received (same host, release and start) are not used. Any window proves the host alive.
  Actions onTelemetry(const std::string& host, const TelemetryWindow& window,
                      std::uint64_t nowMillis);
  Actions onHostHealth(const std::string& host, bool healthy, std::uint64_t nowMillis);
  // A Prometheus check's answer for a host at a look (see QueryPrometheus). Answers for another
  // step, a host outside the current step, an unknown check or a look not yet queried are not
  // used; a second answer for the same check, host and look replaces the first. Acts on nothing
  // by itself: the look's evaluation uses it.
  Actions onPrometheusSample(const PrometheusSample& sample, std::uint64_t nowMillis);
  // Whether any check of this rollout is a Prometheus check.
  bool hasPrometheusChecks() const;
  Actions tick(std::uint64_t nowMillis);

  // ---- operator actions; an action that makes no sense in the current state is an error
  // naming the rollout and the state.
  Result<Actions> pause(const std::string& who, std::uint64_t nowMillis);
  Result<Actions> resume(const std::string& who, std::uint64_t nowMillis);
  Result<Actions> promote(const std::string& who, std::uint64_t nowMillis);
  Result<Actions> rollback(const std::string& who, const std::string& reason,
                           std::uint64_t nowMillis);
  // Accepted in every state; in a finished rollout it changes nothing.
  Actions abort(const std::string& who, const std::string& reason, std::uint64_t nowMillis);

 private:
  HostProgress* findHost(const std::string& name);
  const PlanStep& currentPlanStep() const;
  bool isTarget(const std::string& host) const;
  bool isComparison(const std::string& host) const;
  std::string describeStep() const;
  // kOwnPreSwitch steps: how far before the switch their own old-release windows count (the
  // stage's analysis window), and the windows of the step before that they carry over (the
  // targets' old-release windows of that span before `nowMillis`).
  std::uint64_t preSwitchSpanMillis() const;
  std::vector<StoredWindow> preSwitchWindows(std::vector<StoredWindow> previous,
                                             std::uint64_t nowMillis) const;

  void advance(std::uint64_t nowMillis, Actions& out);
  void startStep(std::uint64_t nowMillis, Actions& out);
  void evaluateLook(std::uint32_t look, std::uint64_t nowMillis, Actions& out);
  // Asks for the Prometheus values of look `look` (once per look).
  void queryPrometheus(std::uint32_t look, Actions& out);
  std::vector<PrometheusHost> prometheusHosts() const;
  // `check` and `look` name the check that failed the step, when one did.
  void failStep(const std::string& reason, const std::string& host, std::uint64_t nowMillis,
                Actions& out, const std::string& check = "", std::uint32_t look = 0);
  void startRollback(const std::string& reason, std::uint64_t nowMillis, Actions& out);
  void finishRollbackIfDone(std::uint64_t nowMillis, Actions& out);
  // Ends a rollback that did not reach every host within the plan's rollback timeout.
  void timeOutRollback(std::uint64_t nowMillis, Actions& out);
  // Moves the current step's clock on by the operator's pause that ends at `nowMillis`.
  void shiftStepClock(std::uint64_t nowMillis);
  void finish(RolloutStatus status, std::uint64_t nowMillis, Actions& out);
  void send(HostProgress& host, CommandKind kind,
            std::variant<InstallRelease, RollBackRelease, RestartBaseline> body,
            std::uint64_t nowMillis, Actions& out);
  // Appends an event of the current step and returns it (to add the fields its kind has).
  RecordEvent& event(RolloutEventKind kind, const std::string& host, const std::string& text,
                     std::uint64_t nowMillis, Actions& out) const;
  void syncStatus(const std::string& reason, std::uint64_t nowMillis, Actions& out);
  RolloutStatus computeStatus() const;

  RolloutState state_;
  PlanCache plans_;  // derived from state_.gates; not part of the state
};

// At most this many latency samples per side go into a look (a uniform sample of the group's
// requests, poolLatencySamples in gates.h); beyond it the tests gain nothing but time.
inline constexpr std::size_t kMaxSamplesPerSide = 20'000;

// At most this many looks per analysis window (longer windows look less often than every
// telemetry window).
inline constexpr std::uint64_t kMaxLooks = 240;

}  // namespace rollgate::rollout
