// The typed read model of a rollout: what the coordinator knows about one rollout (its current
// step and hosts, the plan, every check at every look, the events), as plain structs with one
// JSON form. The coordinator builds it (coordinator/rollout/read_model.h) and sends it over the
// admin API; the CLI decodes it here and renders text from the structs; the console reads the
// same model. docs/rollout-read-model.md describes it and docs/rollout.schema.json is its JSON
// Schema.
//
// Decoding (rolloutViewFromJson and friends) fails, naming the key, when a key the schema
// requires is missing or has the wrong type; keys it marks optional take their defaults.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/stats/gate_model.h"

namespace rollgate {

// What a rollout event is about. The engine's events carry one of these; the coordinator adds
// its own (rollout_started, plan_note, operator, state, command_result, manual_command, abort),
// which the read model carries as names too.
enum class RolloutEventKind : std::uint8_t {
  kStarted,          // the engine started the plan
  kPlanNote,         // a note of the planner (a stage merged, a comparison group chosen)
  kResumed,          // the rollout resumed after a coordinator restart
  kStepStarted,      // a step's installs were sent
  kTargetsActive,    // every target of the step is on the new release; warm-up starts
  kAnalysisStarted,  // warm-up over; the analysis window starts
  kHostInstalled,    // one host reported the new release active
  kBaselineRestart,  // a baseline host was restarted (or its restart failed)
  kHostHealth,       // a host stopped or resumed reporting
  kHeld,             // the step waits for an operator (warn or not enough data)
  kStepPassed,
  kStepFailed,       // a critical check, a failed install or a silent host failed the step
  kHostRollingBack,  // a rollback command was sent to a host, or there was nothing to undo
  kHostRolledBack,   // a host's rollback finished (or failed)
  kOperator,         // pause, resume, promote, rollback or abort by an operator
  kFinished,         // the rollout reached its terminal status
  kIgnored,          // an input that no longer applies (a late command result)
};
std::string_view toString(RolloutEventKind kind);
Result<RolloutEventKind> parseRolloutEventKind(std::string_view text);

// A host of the current step.
struct HostView {
  std::string host;
  std::string region;
  std::string cluster;
  std::string fromRelease;  // what a rollback returns it to
  std::string release;      // the last release it reported
  bool healthy = true;
  std::uint64_t lastWindowMillis = 0;  // 0: no telemetry window yet
  std::string rollback = "none";       // none, pending, done, failed
  std::string pending;  // the command in flight: install, restart_baseline, rollback; "" = none
  bool operator==(const HostView&) const = default;
};

// The rollout and its current step (what `rollout status` and `watch` show).
struct RolloutSummaryView {
  std::string id;
  std::string service;
  std::string version;
  std::string status;  // pending, installing, warming_up, analyzing, waiting_for_operator, ...
  bool operatorPaused = false;
  std::string hold = "none";  // none, warn, not_enough_data
  std::string holdReason;
  std::uint32_t step = 0;  // 1-based; 0 unknown
  std::uint32_t steps = 0;
  std::string stage;  // canary, cluster, region, fleet
  std::uint32_t batch = 1;
  std::uint32_t batches = 1;
  std::string region;
  std::string phase;       // not_started, installing, warming_up, analyzing, passed, failed
  std::uint32_t look = 0;  // looks evaluated so far in this step
  std::uint32_t looks = 0;
  std::uint64_t millisLeft = 0;  // in the current phase
  std::vector<HostView> targets;
  std::vector<HostView> comparison;
  std::string comparisonNote;
  // baseline, old_release, held_control (one old-release host kept until the last batch is
  // judged), own_pre_switch (a host compared with its own windows before its switch), none.
  std::string comparisonKind;
  // Set when the fleet is too small for a comparison with other hosts after the canary step.
  std::string smallFleetWarning;
  std::vector<stats::CheckResult> checks;  // each check's latest result in this step
  std::uint64_t startedMillis = 0;
  std::uint64_t finishedMillis = 0;  // 0 while it runs
  std::string endReason;
  // Its label for the backtest (docs/backtest.md): good, bad or "" and where it comes from
  // ("operator alice", "auto: ..."). Optional keys: "label", "labelSource".
  std::string label;
  std::string labelSource;
  bool operator==(const RolloutSummaryView&) const = default;
};

// One step of the plan.
struct PlanStepView {
  std::uint32_t step = 0;  // 1-based
  std::string stage;
  std::uint32_t batch = 1;
  std::uint32_t batches = 1;
  std::string region;
  std::vector<std::string> targets;
  std::vector<std::string> comparison;
  std::string comparisonNote;
  std::string comparisonKind;  // as in RolloutSummaryView
  bool operator==(const PlanStepView&) const = default;
};

// One check at one look, with the step it belongs to.
struct CheckRecordView {
  std::uint64_t atMillis = 0;
  std::uint32_t step = 0;  // 1-based
  std::string stage;
  std::uint32_t batch = 1;
  std::uint32_t batches = 1;
  std::string region;
  std::vector<std::string> canaryHosts;
  std::vector<std::string> comparisonHosts;
  stats::CheckResult result;
  bool operator==(const CheckRecordView&) const = default;
};

// A check record of one rollout: what the rollout engine emits (rollout::RecordCheck) and the
// coordinator's store keeps, one type for both.
struct RolloutCheckRecord : CheckRecordView {
  std::string rolloutId;
  bool operator==(const RolloutCheckRecord&) const = default;
};

struct EventView {
  std::uint64_t atMillis = 0;
  std::string kind;        // a RolloutEventKind name, or one of the coordinator's kinds
  std::uint32_t step = 0;  // 1-based step it happened in; 0: not in a step (before the first)
  std::string host;        // "" = the rollout as a whole
  std::string check;       // the check that held or failed the step; "" otherwise
  std::uint32_t look = 0;  // that check's look; 0 otherwise
  std::string text;        // what happened, for people; never parsed
  bool operator==(const EventView&) const = default;
};

// `DescribeRollout`: everything about one rollout. Checks and events oldest first.
struct RolloutView {
  RolloutSummaryView rollout;
  std::vector<PlanStepView> plan;
  std::vector<CheckRecordView> checks;
  std::vector<EventView> events;
  bool operator==(const RolloutView&) const = default;
};

nlohmann::json toJson(const RolloutSummaryView& summary);
nlohmann::json toJson(const RolloutView& view);
nlohmann::json toJson(const EventView& event);
// {"rollouts": [<summary>, ...]}, with "freeze": <freeze> while rollouts are frozen.
nlohmann::json rolloutListToJson(const std::vector<RolloutSummaryView>& rollouts,
                                 const std::optional<FreezeState>& freeze = std::nullopt);
// The fleet-wide freeze: {"by": ..., "reason": ..., "sinceMillis": ...}.
nlohmann::json toJson(const FreezeState& freeze);
// The coordinator that leads, as `rollgate hosts --json` and a standby's console show it:
// {"id", "admin_endpoint", "epoch", "since_ms", "console_url"}.
nlohmann::json toJson(const LeaderInfo& leader);
// The "freeze" key of a document (a rollout list): nothing when absent or null.
Result<std::optional<FreezeState>> freezeFromJson(const nlohmann::json& document);

Result<RolloutSummaryView> rolloutSummaryFromJson(const nlohmann::json& j);
Result<RolloutView> rolloutViewFromJson(const nlohmann::json& j);
Result<std::vector<RolloutSummaryView>> rolloutListFromJson(const nlohmann::json& j);
Result<EventView> eventViewFromJson(const nlohmann::json& j);

}  // namespace rollgate
