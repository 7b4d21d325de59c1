#include "coordinator/rollout/read_model.h"

#include <algorithm>

#include "coordinator/rollout/state_names.h"

namespace rollgate::rollout {

namespace {

template <typename E>
std::string nameOf(E value) {
  return nlohmann::json(value).get<std::string>();
}

}  // namespace

RolloutSummaryView summarize(const Rollout& rollout, std::uint64_t nowMillis) {
  const RolloutState& state = rollout.state();
  const PlanStep& plan =
      state.plan.steps.at(std::min<std::size_t>(state.currentStep, state.plan.steps.size() - 1));
  auto hostsOf = [&](const std::vector<PlannedHost>& group) {
    std::vector<HostView> hosts;
    for (const auto& planned : group) {
      for (const auto& h : state.hosts) {
        if (h.name != planned.name) continue;
        HostView view;
        view.host = h.name;
        view.region = planned.region;
        view.cluster = planned.cluster;
        view.fromRelease = h.fromRelease;
        view.release = h.lastKnownRelease;
        view.healthy = h.healthy;
        view.lastWindowMillis = h.lastWindowMillis;
        view.rollback = nameOf(h.rollback);
        view.pending = h.pending ? nameOf(h.pendingKind) : std::string();
        hosts.push_back(std::move(view));
      }
    }
    return hosts;
  };
  RolloutSummaryView s;
  s.id = state.spec.rolloutId;
  s.service = state.spec.service;
  s.version = state.spec.version;
  s.status = std::string(statusName(state.status));
  s.operatorPaused = state.operatorPause;
  s.hold = nameOf(state.step.hold);
  s.holdReason = state.step.holdReason;
  s.step = state.currentStep + 1;
  s.steps = static_cast<std::uint32_t>(state.plan.steps.size());
  s.stage = plan.stage;
  s.batch = plan.batch;
  s.batches = plan.batches;
  s.region = plan.region;
  s.phase = std::string(phaseName(state.step.phase));
  s.look = state.step.lastLook;
  s.looks = state.step.looks;
  s.millisLeft = rollout.millisLeftInPhase(nowMillis);
  s.targets = hostsOf(plan.targets);
  s.comparison = hostsOf(plan.comparison);
  s.comparisonNote = plan.comparisonNote;
  s.comparisonKind = std::string(comparisonKindName(plan.comparisonKind));
  s.smallFleetWarning = state.plan.smallFleetWarning;
  s.checks = state.step.latest;
  s.startedMillis = state.startedMillis;
  s.finishedMillis = state.finishedMillis;
  s.endReason = state.endReason;
  return s;
}

std::string summaryJson(const Rollout& rollout, std::uint64_t nowMillis) {
  // Texts from peers (command messages in reasons) may hold invalid UTF-8: replace it.
  return toJson(summarize(rollout, nowMillis))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<PlanStepView> planView(const RolloutState& state) {
  std::vector<PlanStepView> steps;
  std::uint32_t index = 0;
  for (const auto& step : state.plan.steps) {
    PlanStepView view;
    view.step = ++index;
    view.stage = step.stage;
    view.batch = step.batch;
    view.batches = step.batches;
    view.region = step.region;
    for (const auto& h : step.targets) view.targets.push_back(h.name);
    for (const auto& h : step.comparison) view.comparison.push_back(h.name);
    view.comparisonNote = step.comparisonNote;
    view.comparisonKind = std::string(comparisonKindName(step.comparisonKind));
    steps.push_back(std::move(view));
  }
  return steps;
}

EventView eventView(const RecordEvent& event) {
  return EventView{.atMillis = event.atMillis,
                   .kind = std::string(toString(event.kind)),
                   .step = event.step,
                   .host = event.host,
                   .check = event.check,
                   .look = event.look,
                   .text = event.text};
}

std::string storedEventMessage(const RecordEvent& event) {
  return toJson(eventView(event)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

EventView storedEventView(std::uint64_t atMillis, const std::string& kind, const std::string& host,
                          const std::string& message) {
  auto parsed = nlohmann::json::parse(message, nullptr, false);
  if (parsed.is_object()) {
    // The stored event's own copy of time, kind and host are those of the row.
    parsed["atMillis"] = atMillis;
    parsed["kind"] = kind;
    parsed["host"] = host;
    if (auto view = eventViewFromJson(parsed)) return *view;
  }
  return EventView{.atMillis = atMillis, .kind = kind, .host = host, .text = message};
}

RolloutView buildRolloutView(const Rollout& rollout, std::uint64_t nowMillis,
                             std::vector<CheckRecordView> checks, std::vector<EventView> events) {
  RolloutView view;
  view.rollout = summarize(rollout, nowMillis);
  view.plan = planView(rollout.state());
  view.checks = std::move(checks);
  std::uint32_t current = 0;
  for (auto& event : events) {
    if (event.step == 0) {
      event.step = current;
    } else {
      current = event.step;
    }
  }
  view.events = std::move(events);
  return view;
}

}  // namespace rollgate::rollout
