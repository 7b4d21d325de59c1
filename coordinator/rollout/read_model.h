// Builds the typed read model of a rollout (common/rollout_view.h) from the engine's state and
// what the coordinator stored of it (every check at every look, the events). The coordinator's
// admin API sends it as JSON; the CLI and the console render it. Nothing here parses text.
// Thread-safety: pure functions on values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rollout_view.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

// The rollout and its current step: status, hold, phase, time left, its hosts and each check's
// latest result.
RolloutSummaryView summarize(const Rollout& rollout, std::uint64_t nowMillis);
// summarize() as JSON text (the admin API's <summary>).
std::string summaryJson(const Rollout& rollout, std::uint64_t nowMillis);

// Every step of the plan, 1-based.
std::vector<PlanStepView> planView(const RolloutState& state);

// An engine event as stored: its kind's name, step and host are fields.
EventView eventView(const RecordEvent& event);

// How an engine event is kept in the event log: its kind and host in their columns and the
// event's JSON form (common/rollout_view.h) in the message column. storedEventView reads a row
// back; a message that is not such an object (an event the coordinator itself recorded, or one
// stored before this form) is its text, with no step.
std::string storedEventMessage(const RecordEvent& event);
EventView storedEventView(std::uint64_t atMillis, const std::string& kind, const std::string& host,
                          const std::string& message);

// The whole read model. `events` are oldest first; an event the coordinator recorded without a
// step (a state change, a command result, an operator's action) belongs to the step of the event
// before it.
RolloutView buildRolloutView(const Rollout& rollout, std::uint64_t nowMillis,
                             std::vector<CheckRecordView> checks, std::vector<EventView> events);

}  // namespace rollgate::rollout
