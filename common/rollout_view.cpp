#include "common/rollout_view.h"

#include <stdexcept>

#include "common/gate_json.h"

namespace rollgate {

using nlohmann::json;

// Codecs found by nlohmann's ADL; HostView's "pending" is null when no command is in flight.
void to_json(json& j, const HostView& h) {
  j = json{{"host", h.host},
           {"region", h.region},
           {"cluster", h.cluster},
           {"fromRelease", h.fromRelease},
           {"release", h.release},
           {"healthy", h.healthy},
           {"lastWindowMillis", h.lastWindowMillis},
           {"rollback", h.rollback},
           {"pending", h.pending.empty() ? json(nullptr) : json(h.pending)}};
}

void from_json(const json& j, HostView& h) {
  j.at("host").get_to(h.host);
  j.at("region").get_to(h.region);
  j.at("cluster").get_to(h.cluster);
  j.at("fromRelease").get_to(h.fromRelease);
  j.at("release").get_to(h.release);
  j.at("healthy").get_to(h.healthy);
  j.at("lastWindowMillis").get_to(h.lastWindowMillis);
  j.at("rollback").get_to(h.rollback);
  const json& pending = j.at("pending");
  h.pending = pending.is_null() ? std::string() : pending.get<std::string>();
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CheckRecordView, atMillis, step, stage, batch, batches, region,
                                   canaryHosts, comparisonHosts, result)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RolloutSummaryView, id, service, version, status, operatorPaused,
                                   hold, holdReason, step, steps, stage, batch, batches, region,
                                   phase, look, looks, millisLeft, targets, comparison,
                                   comparisonNote, comparisonKind, smallFleetWarning, checks,
                                   startedMillis, finishedMillis, endReason)

namespace {

struct KindName {
  RolloutEventKind kind;
  std::string_view name;
};

constexpr KindName kEventKinds[] = {
    {RolloutEventKind::kStarted, "started"},
    {RolloutEventKind::kPlanNote, "plan_note"},
    {RolloutEventKind::kResumed, "resumed"},
    {RolloutEventKind::kStepStarted, "step_started"},
    {RolloutEventKind::kTargetsActive, "targets_active"},
    {RolloutEventKind::kAnalysisStarted, "analysis_started"},
    {RolloutEventKind::kHostInstalled, "host_installed"},
    {RolloutEventKind::kBaselineRestart, "baseline_restart"},
    {RolloutEventKind::kHostHealth, "host_health"},
    {RolloutEventKind::kHeld, "held"},
    {RolloutEventKind::kStepPassed, "step_passed"},
    {RolloutEventKind::kStepFailed, "step_failed"},
    {RolloutEventKind::kHostRollingBack, "host_rolling_back"},
    {RolloutEventKind::kHostRolledBack, "host_rolled_back"},
    {RolloutEventKind::kOperator, "operator_action"},
    {RolloutEventKind::kFinished, "finished"},
    {RolloutEventKind::kIgnored, "ignored"},
};

json planStepToJson(const PlanStepView& s) {
  return json{{"step", s.step},
              {"stage", s.stage},
              {"batch", s.batch},
              {"batches", s.batches},
              {"region", s.region},
              {"targets", s.targets},
              {"comparison", s.comparison},
              {"comparisonNote", s.comparisonNote},
              {"comparisonKind", s.comparisonKind}};
}

PlanStepView planStepFromJson(const json& j) {
  PlanStepView s;
  j.at("step").get_to(s.step);
  j.at("stage").get_to(s.stage);
  j.at("batch").get_to(s.batch);
  j.at("batches").get_to(s.batches);
  j.at("region").get_to(s.region);
  j.at("targets").get_to(s.targets);
  j.at("comparison").get_to(s.comparison);
  s.comparisonNote = j.value("comparisonNote", std::string());
  s.comparisonKind = j.value("comparisonKind", std::string());
  return s;
}

EventView eventFrom(const json& j) {
  EventView e;
  j.at("atMillis").get_to(e.atMillis);
  j.at("kind").get_to(e.kind);
  e.step = j.value("step", std::uint32_t{0});
  j.at("host").get_to(e.host);
  e.check = j.value("check", std::string());
  e.look = j.value("look", std::uint32_t{0});
  j.at("text").get_to(e.text);
  return e;
}

template <typename T, typename Decode>
Result<T> decode(const json& j, const char* what, Decode decodeFn) {
  try {
    if (!j.is_object()) {
      return makeError(std::string(what) + ": expected a JSON object, got " + j.type_name());
    }
    return decodeFn(j);
  } catch (const std::exception& error) {
    return makeError(std::string(what) + ": " + error.what());
  }
}

}  // namespace

std::string_view toString(RolloutEventKind kind) {
  for (const auto& entry : kEventKinds) {
    if (entry.kind == kind) return entry.name;
  }
  return "?";
}

Result<RolloutEventKind> parseRolloutEventKind(std::string_view text) {
  for (const auto& entry : kEventKinds) {
    if (entry.name == text) return entry.kind;
  }
  return makeError("expected a rollout event kind, got \"" + std::string(text) + "\"");
}

namespace {

// The label keys are optional (documents from before labels have none).
RolloutSummaryView summaryFrom(const json& doc) {
  RolloutSummaryView view = doc.get<RolloutSummaryView>();
  view.label = doc.value("label", std::string());
  view.labelSource = doc.value("labelSource", std::string());
  return view;
}

}  // namespace

json toJson(const RolloutSummaryView& s) {
  json j = s;
  if (!s.label.empty()) {
    j["label"] = s.label;
    j["labelSource"] = s.labelSource;
  }
  return j;
}

json toJson(const EventView& e) {
  json j{{"atMillis", e.atMillis},
         {"kind", e.kind},
         {"step", e.step},
         {"host", e.host},
         {"text", e.text}};
  if (!e.check.empty()) {
    j["check"] = e.check;
    j["look"] = e.look;
  }
  return j;
}

json toJson(const RolloutView& view) {
  json plan = json::array();
  json checks = json::array();
  json events = json::array();
  for (const auto& s : view.plan) plan.push_back(planStepToJson(s));
  for (const auto& c : view.checks) checks.push_back(c);
  for (const auto& e : view.events) events.push_back(toJson(e));
  return json{
      {"rollout", toJson(view.rollout)}, {"plan", plan}, {"checks", checks}, {"events", events}};
}

json rolloutListToJson(const std::vector<RolloutSummaryView>& rollouts,
                       const std::optional<FreezeState>& freeze) {
  json list = json::array();
  for (const auto& r : rollouts) list.push_back(toJson(r));
  json out{{"rollouts", list}};
  if (freeze) out["freeze"] = toJson(*freeze);
  return out;
}

json toJson(const FreezeState& freeze) {
  return json{{"by", freeze.by}, {"reason", freeze.reason}, {"sinceMillis", freeze.sinceMillis}};
}

json toJson(const LeaderInfo& leader) {
  return json{{"id", leader.id},
              {"admin_endpoint", leader.adminEndpoint},
              {"epoch", leader.epoch},
              {"since_ms", leader.sinceMillis},
              {"console_url", leader.consoleUrl}};
}

Result<std::optional<FreezeState>> freezeFromJson(const json& document) {
  return decode<std::optional<FreezeState>>(document, "freeze", [](const json& doc) {
    std::optional<FreezeState> out;
    if (!doc.contains("freeze") || doc.at("freeze").is_null()) return out;
    const json& j = doc.at("freeze");
    out = FreezeState{};
    j.at("by").get_to(out->by);
    j.at("reason").get_to(out->reason);
    j.at("sinceMillis").get_to(out->sinceMillis);
    return out;
  });
}

Result<RolloutSummaryView> rolloutSummaryFromJson(const json& j) {
  return decode<RolloutSummaryView>(j, "rollout summary",
                                    [](const json& doc) { return summaryFrom(doc); });
}

Result<RolloutView> rolloutViewFromJson(const json& j) {
  return decode<RolloutView>(j, "rollout", [](const json& doc) {
    RolloutView view;
    view.rollout = summaryFrom(doc.at("rollout"));
    for (const auto& s : doc.at("plan")) view.plan.push_back(planStepFromJson(s));
    for (const auto& c : doc.at("checks")) view.checks.push_back(c.get<CheckRecordView>());
    for (const auto& e : doc.at("events")) view.events.push_back(eventFrom(e));
    return view;
  });
}

Result<EventView> eventViewFromJson(const json& j) {
  return decode<EventView>(j, "rollout event", eventFrom);
}

Result<std::vector<RolloutSummaryView>> rolloutListFromJson(const json& j) {
  return decode<std::vector<RolloutSummaryView>>(j, "rollout list", [](const json& doc) {
    std::vector<RolloutSummaryView> list;
    for (const auto& r : doc.at("rollouts")) list.push_back(summaryFrom(r));
    return list;
  });
}

}  // namespace rollgate
