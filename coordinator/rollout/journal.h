// The journal of a rollout: every input the engine took (its start, command results, telemetry
// windows, host health, the ticks that acted, Prometheus answers, restarts and operator actions),
// each with the coordinator's time, as JSON lines. applyInput() is the one place an input reaches
// a Rollout: the coordinator's Rollouts feeds live inputs through it (and keeps the lines), and
// the backtest (backtest.h) feeds the kept lines through it again, so a replay runs the same
// engine code on the same inputs at the same times. The engine is deterministic, so a replay
// with the gates and plan a rollout ran with takes the same decisions at the same looks.
//
// The line format is the bring-your-own-history schema of docs/backtest.md (schema version
// kJournalSchemaVersion): every line is an object with "v" (the schema version), "rollout" (its
// id) and "type". A line of a version this build cannot read is skipped and counted, never
// guessed at.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

inline constexpr int kJournalSchemaVersion = 1;

enum class InputKind : std::uint8_t {
  kStart,
  kCommandResult,
  kTelemetry,
  kHostHealth,
  kTick,
  kPrometheus,
  kResumed,  // the coordinator restarted and resumed the rollout
  kOperator,
};

enum class OperatorVerb : std::uint8_t { kPause, kResume, kPromote, kRollback, kAbort };

// One input of a rollout at `atMillis` (the coordinator's clock). Only the fields of its kind are
// used.
struct RolloutInput {
  InputKind kind = InputKind::kTick;
  std::uint64_t atMillis = 0;
  std::string host;             // command result, telemetry, health
  std::uint64_t commandId = 0;  // command result (0: the host's pending command)
  CommandResult result;         // outcome, activeRelease, message
  TelemetryWindow window;
  bool healthy = true;
  PrometheusSample sample;
  OperatorVerb verb = OperatorVerb::kPause;
  std::string who;     // operator actions
  std::string reason;  // rollback and abort; resumed: why (empty: a coordinator restart)
  bool operator==(const RolloutInput&) const = default;
};

// Hands `input` to `rollout` (the matching Rollout method, with input.atMillis as now). An
// operator action the engine refuses in its state is the engine's error.
Result<Actions> applyInput(Rollout& rollout, const RolloutInput& input);

// Whether a live input is kept in the journal once applied (with the actions it gave): a window
// only from a host of the rollout and of its service (the engine uses no other), a tick only when
// it acted (a tick that did nothing changed nothing), every other input always.
bool worthKeeping(const Rollout& rollout, const RolloutInput& input, const Actions& actions);

// A labelled outcome of a rollout, as the backtest scores against.
enum class Label : std::uint8_t { kNone, kGood, kBad };
std::string_view labelName(Label label);  // "", "good", "bad"
std::optional<Label> parseLabel(std::string_view text);

// ---- lines

// The first line of a rollout's journal: the engine's state as constructed (spec, plan, plan
// config, gates), before start(), and when start() was called.
std::string startLine(const RolloutState& initial, std::uint64_t startedMillis);
// An input of rollout `rolloutId`.
std::string inputLine(const std::string& rolloutId, const RolloutInput& input);
// A label (bring-your-own history; the coordinator keeps labels in its store).
std::string labelLine(const std::string& rolloutId, Label label, const std::string& source,
                      const std::string& reason);

// One parsed line. A "start" line either carries the engine's state, or (bring-your-own history)
// the service, version and hosts for the planner (`fleet`, `canary`).
struct JournalLine {
  enum class Type : std::uint8_t { kStart, kInput, kLabel };
  Type type = Type::kInput;
  std::string rolloutId;
  std::optional<RolloutState> state;  // start with "state"
  std::string service, version;       // start with "hosts"
  std::string canary;
  std::vector<HostInfo> fleet;
  std::uint64_t startedMillis = 0;  // start: "at"
  RolloutInput input;
  Label label = Label::kNone;
  std::string labelSource, labelReason;
};

// Parses one line. Fails naming the line's key and value on anything malformed; a line whose "v"
// is not kJournalSchemaVersion fails with *unreadableVersion set true (the caller skips and
// counts it).
Result<JournalLine> parseLine(const std::string& text, bool* unreadableVersion);

}  // namespace rollgate::rollout
