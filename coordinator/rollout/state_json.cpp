// RolloutState <-> JSON. Messages types (TelemetryWindow, InstallRelease...) are converted by
// explicit functions here rather than by ADL to_json overloads in namespace rollgate, so that no
// other component's JSON for the same types can clash with these.
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/gate_json.h"
#include "common/hex.h"
#include "coordinator/rollout/rollout.h"
#include "coordinator/rollout/state_names.h"

namespace rollgate::rollout {

using nlohmann::json;

NLOHMANN_JSON_SERIALIZE_ENUM(BatchSize::Kind, {{BatchSize::Kind::kHosts, "hosts"},
                                               {BatchSize::Kind::kPercent, "percent"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BatchSize, kind, value)
// With defaults: states saved before `weight` existed still load.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StageConfig, name, installTimeoutSeconds,
                                                warmupSeconds, analysisSeconds, batch,
                                                baselineRestart, weight)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlanConfig, windowSeconds, silenceSeconds, reportGraceSeconds,
                                   rollbackTimeoutSeconds, canary, cluster, region, fleet)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(GatesConfig, checks)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlannedHost, name, region, cluster, fromRelease)
NLOHMANN_JSON_SERIALIZE_ENUM(ComparisonKind, {{ComparisonKind::kOldRelease, "old_release"},
                                              {ComparisonKind::kBaseline, "baseline"},
                                              {ComparisonKind::kHeldControl, "held_control"},
                                              {ComparisonKind::kOwnPreSwitch, "own_pre_switch"},
                                              {ComparisonKind::kNone, "none"}})
// With defaults: states stored before comparisonKind and smallFleetWarning existed still load.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlanStep, stage, region, batch, batches, targets,
                                                comparison, restartComparison, comparisonNote,
                                                comparisonKind)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RolloutPlan, service, version, canaryHost,
                                                baselineHost, steps, notes, smallFleetWarning)

namespace {

std::string signatureFromHex(const std::string& hex) {
  auto bytes = fromHex(hex);
  if (!bytes) throw std::runtime_error("signatureHex: not an even number of hex digits");
  return *std::move(bytes);
}

json windowToJson(const TelemetryWindow& w) {
  json codes = json::array();
  for (const auto& c : w.statusCodes) codes.push_back({c.code, c.count});
  return json{{"service", w.service},
              {"release", w.release},
              {"startMillis", w.startMillis},
              {"endMillis", w.endMillis},
              {"requests", w.requests},
              {"status", {w.status1xx, w.status2xx, w.status3xx, w.status4xx, w.status5xx}},
              {"statusCodes", codes},
              {"latencyBucketUpperMicros", w.latencyBucketUpperMicros},
              {"latencyBucketCounts", w.latencyBucketCounts},
              {"latencySampleMicros", w.latencySampleMicros},
              {"errorLogLines", w.errorLogLines},
              {"unparsedLines", w.unparsedLines},
              {"cpuMillis", w.cpuMillis},
              {"cpuMicros", w.cpuMicros},
              {"memoryBytes", w.memoryBytes},
              {"restarts", w.restarts},
              {"unitActive", w.unitActive},
              {"mainPid", w.mainPid},
              {"droppedBefore", w.droppedBefore}};
}

TelemetryWindow windowFromJson(const json& j) {
  TelemetryWindow w;
  j.at("service").get_to(w.service);
  j.at("release").get_to(w.release);
  j.at("startMillis").get_to(w.startMillis);
  j.at("endMillis").get_to(w.endMillis);
  j.at("requests").get_to(w.requests);
  const json& status = j.at("status");
  w.status1xx = status.at(0).get<std::uint64_t>();
  w.status2xx = status.at(1).get<std::uint64_t>();
  w.status3xx = status.at(2).get<std::uint64_t>();
  w.status4xx = status.at(3).get<std::uint64_t>();
  w.status5xx = status.at(4).get<std::uint64_t>();
  for (const auto& c : j.at("statusCodes")) {
    w.statusCodes.push_back(
        StatusCount{c.at(0).get<std::uint16_t>(), c.at(1).get<std::uint64_t>()});
  }
  j.at("latencyBucketUpperMicros").get_to(w.latencyBucketUpperMicros);
  j.at("latencyBucketCounts").get_to(w.latencyBucketCounts);
  j.at("latencySampleMicros").get_to(w.latencySampleMicros);
  j.at("errorLogLines").get_to(w.errorLogLines);
  j.at("unparsedLines").get_to(w.unparsedLines);
  j.at("cpuMillis").get_to(w.cpuMillis);
  w.cpuMicros = j.value("cpuMicros", std::uint64_t{0});
  j.at("memoryBytes").get_to(w.memoryBytes);
  j.at("restarts").get_to(w.restarts);
  j.at("unitActive").get_to(w.unitActive);
  j.at("mainPid").get_to(w.mainPid);
  j.at("droppedBefore").get_to(w.droppedBefore);
  return w;
}

}  // namespace

void to_json(json& j, const ArtifactRef& a) {
  j = json{{"sha256", a.sha256},
           {"sizeBytes", a.sizeBytes},
           {"source", a.source},
           {"signatureHex", toHex(a.signature)}};
}

void from_json(const json& j, ArtifactRef& a) {
  j.at("sha256").get_to(a.sha256);
  j.at("sizeBytes").get_to(a.sizeBytes);
  j.at("source").get_to(a.source);
  a.signature = signatureFromHex(j.at("signatureHex").get<std::string>());
}

void to_json(json& j, const RolloutSpec& s) {
  j = json{{"rolloutId", s.rolloutId},
           {"service", s.service},
           {"version", s.version},
           {"artifact", s.artifact}};
  if (s.revert) j["revert"] = true;
}

// States saved before staged reverts have no "revert".
void from_json(const json& j, RolloutSpec& s) {
  j.at("rolloutId").get_to(s.rolloutId);
  j.at("service").get_to(s.service);
  j.at("version").get_to(s.version);
  j.at("artifact").get_to(s.artifact);
  s.revert = j.value("revert", false);
}

void to_json(json& j, const SendCommand& c) {
  j = json{{"commandId", c.commandId}, {"host", c.host}, {"service", c.service}};
  if (const auto* install = std::get_if<InstallRelease>(&c.body)) {
    j["install"] = json{{"version", install->version},
                        {"sha256", install->sha256},
                        {"sizeBytes", install->sizeBytes},
                        {"source", install->source},
                        {"signatureHex", toHex(install->signature)},
                        {"activate", install->activate},
                        {"trafficWeight", install->trafficWeight},
                        {"trafficWeightSeconds", install->trafficWeightSeconds}};
    if (install->revert) j["install"]["revert"] = true;
  } else if (const auto* rollback = std::get_if<RollBackRelease>(&c.body)) {
    j["rollback"] = json{{"toVersion", rollback->toVersion}, {"isExplicit", rollback->isExplicit}};
  } else {
    j["restartBaseline"] = true;
  }
}

void from_json(const json& j, SendCommand& c) {
  j.at("commandId").get_to(c.commandId);
  j.at("host").get_to(c.host);
  j.at("service").get_to(c.service);
  if (j.contains("install")) {
    const json& i = j.at("install");
    InstallRelease install;
    i.at("version").get_to(install.version);
    i.at("sha256").get_to(install.sha256);
    i.at("sizeBytes").get_to(install.sizeBytes);
    i.at("source").get_to(install.source);
    install.signature = signatureFromHex(i.at("signatureHex").get<std::string>());
    i.at("activate").get_to(install.activate);
    install.revert = i.value("revert", false);
    install.trafficWeight = i.value("trafficWeight", -1);
    install.trafficWeightSeconds = i.value("trafficWeightSeconds", 0U);
    c.body = std::move(install);
  } else if (j.contains("rollback")) {
    const json& r = j.at("rollback");
    c.body = RollBackRelease{r.at("toVersion").get<std::string>(), r.at("isExplicit").get<bool>()};
  } else if (j.contains("restartBaseline")) {
    c.body = RestartBaseline{};
  } else {
    throw std::runtime_error("command " + std::to_string(c.commandId) + " has no body");
  }
}

void to_json(json& j, const HostProgress& h) {
  j = json{{"name", h.name},
           {"fromRelease", h.fromRelease},
           {"lastKnownRelease", h.lastKnownRelease},
           {"installSent", h.installSent},
           {"healthy", h.healthy},
           {"lastWindowMillis", h.lastWindowMillis},
           {"pendingKind", h.pendingKind},
           {"pendingSinceMillis", h.pendingSinceMillis},
           {"rollback", h.rollback}};
  j["pending"] = h.pending ? json(*h.pending) : json(nullptr);
}

void from_json(const json& j, HostProgress& h) {
  j.at("name").get_to(h.name);
  j.at("fromRelease").get_to(h.fromRelease);
  j.at("lastKnownRelease").get_to(h.lastKnownRelease);
  j.at("installSent").get_to(h.installSent);
  j.at("healthy").get_to(h.healthy);
  j.at("lastWindowMillis").get_to(h.lastWindowMillis);
  j.at("pendingKind").get_to(h.pendingKind);
  j.at("pendingSinceMillis").get_to(h.pendingSinceMillis);
  j.at("rollback").get_to(h.rollback);
  if (j.at("pending").is_null()) {
    h.pending.reset();
  } else {
    h.pending = j.at("pending").get<SendCommand>();
  }
}

void to_json(json& j, const StoredWindow& w) {
  j = json{{"host", w.host}, {"target", w.target}, {"window", windowToJson(w.window)}};
}

void from_json(const json& j, StoredWindow& w) {
  j.at("host").get_to(w.host);
  j.at("target").get_to(w.target);
  w.window = windowFromJson(j.at("window"));
}

void to_json(json& j, const PrometheusSample& s) {
  j = json{{"check", s.check}, {"step", s.step},   {"look", s.look},      {"host", s.host},
           {"query", s.query}, {"value", jsonNumber(s.value)}, {"problem", s.problem}};
}

void from_json(const json& j, PrometheusSample& s) {
  j.at("check").get_to(s.check);
  j.at("step").get_to(s.step);
  j.at("look").get_to(s.look);
  j.at("host").get_to(s.host);
  j.at("query").get_to(s.query);
  s.value = numberFromJson(j.at("value"));
  j.at("problem").get_to(s.problem);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StepProgress, phase, startedMillis, activatedMillis,
                                   analysisStartMillis, analysisEndMillis, looks, lastLook,
                                   analysisComplete, hold, holdReason, overridden, pausedMillis,
                                   pauseEndedMillis, latest, windows, lastQueriedLook, prometheus)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RolloutState, spec, plan, planConfig, gates, status, started,
                                   finished, outcome, rollingBack, abortRequested, operatorPause,
                                   pausedAtMillis, currentStep, step, hosts, nextCommandId,
                                   startedMillis, finishedMillis, resumedMillis,
                                   rollbackStartedMillis, endReason)

namespace {

// Keys added after the first stored states, with the value an older state means.
void addMissingKeys(json& rollout) {
  if (!rollout.is_object()) return;
  auto fill = [](json& object, const char* key, const json& value) {
    if (object.is_object() && !object.contains(key)) object[key] = value;
  };
  fill(rollout, "pausedAtMillis", 0);
  fill(rollout, "rollbackStartedMillis", 0);
  if (rollout.contains("planConfig")) {
    fill(rollout["planConfig"], "rollbackTimeoutSeconds", PlanConfig{}.rollbackTimeoutSeconds);
  }
  if (rollout.contains("step")) {
    fill(rollout["step"], "pausedMillis", 0);
    fill(rollout["step"], "pauseEndedMillis", 0);
    fill(rollout["step"], "lastQueriedLook", 0);
    fill(rollout["step"], "prometheus", json::array());
  }
}

}  // namespace

namespace {
constexpr int kStateFormat = 1;
}

std::string stateToJson(const RolloutState& state, bool includeWindows) {
  json j{{"format", kStateFormat}, {"rollout", state}};
  if (!includeWindows) j["rollout"]["step"]["windows"] = json::array();
  // Texts from peers (command messages in events and reasons) may hold invalid UTF-8: replace
  // it rather than throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<RolloutState> stateFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    int format = j.at("format").get<int>();
    if (format != kStateFormat) {
      return makeError("rollout state: format " + std::to_string(format) +
                       " is not supported (expected " + std::to_string(kStateFormat) + ")");
    }
    addMissingKeys(j.at("rollout"));
    RolloutState state = j.at("rollout").get<RolloutState>();
    if (state.planConfig.windowSeconds == 0) {
      return makeError("rollout state " + state.spec.rolloutId + ": window_seconds is 0");
    }
    if (state.plan.steps.empty() || state.currentStep >= state.plan.steps.size()) {
      return makeError("rollout state " + state.spec.rolloutId + ": step " +
                       std::to_string(state.currentStep) + " is not in its plan of " +
                       std::to_string(state.plan.steps.size()) + " steps");
    }
    for (const auto& step : state.plan.steps) {
      if (step.stage != "canary" && step.stage != "cluster" && step.stage != "region" &&
          step.stage != "fleet") {
        return makeError("rollout state " + state.spec.rolloutId + ": unknown stage \"" +
                         step.stage + "\"");
      }
      if (step.targets.empty()) {
        return makeError("rollout state " + state.spec.rolloutId + ": a " + step.stage +
                         " step has no target host");
      }
      for (const auto* group : {&step.targets, &step.comparison}) {
        for (const auto& host : *group) {
          bool known = std::any_of(state.hosts.begin(), state.hosts.end(),
                                   [&](const HostProgress& h) { return h.name == host.name; });
          if (!known) {
            return makeError("rollout state " + state.spec.rolloutId + ": plan host " + host.name +
                             " has no progress record");
          }
        }
      }
    }
    if (state.step.phase == StepPhase::kWarmingUp || state.step.phase == StepPhase::kAnalyzing) {
      if (state.step.looks == 0 || state.step.analysisEndMillis < state.step.analysisStartMillis) {
        return makeError("rollout state " + state.spec.rolloutId +
                         ": analysis window is inconsistent");
      }
    }
    return state;
  } catch (const std::exception& error) {
    return makeError(std::string("rollout state: ") + error.what());
  }
}

}  // namespace rollgate::rollout
