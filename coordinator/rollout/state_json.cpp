// RolloutState <-> JSON. Messages types (TelemetryWindow, InstallRelease...) are converted by
// explicit functions here rather than by ADL to_json overloads in namespace rollgate, so that no
// other component's JSON for the same types can clash with these.
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

using nlohmann::json;

NLOHMANN_JSON_SERIALIZE_ENUM(BatchSize::Kind, {{BatchSize::Kind::kHosts, "hosts"},
                                               {BatchSize::Kind::kPercent, "percent"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Metric, {{Metric::kHttp5xxRatio, "http_5xx_ratio"},
                                      {Metric::kHttp2xxRatio, "http_2xx_ratio"},
                                      {Metric::kErrorLogPerRequest, "error_log_per_request"},
                                      {Metric::kLatency, "latency"},
                                      {Metric::kCpu, "cpu"},
                                      {Metric::kMemory, "memory"},
                                      {Metric::kRestarts, "restarts"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Test, {{Test::kFisher, "fisher"},
                                    {Test::kMannWhitney, "mann_whitney"},
                                    {Test::kThresholdMax, "threshold_max"},
                                    {Test::kThresholdMin, "threshold_min"},
                                    {Test::kRestarts, "restarts"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Alternative, {{Alternative::kGreater, "greater"},
                                           {Alternative::kLess, "less"},
                                           {Alternative::kTwoSided, "two-sided"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Tier, {{Tier::kCritical, "critical"},
                                    {Tier::kWarn, "warn"},
                                    {Tier::kDebug, "debug"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Verdict, {{Verdict::kPass, "pass"},
                                       {Verdict::kFail, "fail"},
                                       {Verdict::kNotEnoughData, "not_enough_data"},
                                       {Verdict::kSkipped, "skipped"}})
NLOHMANN_JSON_SERIALIZE_ENUM(RolloutStatus,
                             {{RolloutStatus::kPending, "pending"},
                              {RolloutStatus::kInstalling, "installing"},
                              {RolloutStatus::kWarmingUp, "warming_up"},
                              {RolloutStatus::kAnalyzing, "analyzing"},
                              {RolloutStatus::kWaitingForOperator, "waiting_for_operator"},
                              {RolloutStatus::kRollingBack, "rolling_back"},
                              {RolloutStatus::kSucceeded, "succeeded"},
                              {RolloutStatus::kRolledBack, "rolled_back"},
                              {RolloutStatus::kAborted, "aborted"},
                              {RolloutStatus::kFailed, "failed"}})
NLOHMANN_JSON_SERIALIZE_ENUM(StepPhase, {{StepPhase::kNotStarted, "not_started"},
                                         {StepPhase::kInstalling, "installing"},
                                         {StepPhase::kWarmingUp, "warming_up"},
                                         {StepPhase::kAnalyzing, "analyzing"},
                                         {StepPhase::kPassed, "passed"},
                                         {StepPhase::kFailed, "failed"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Hold, {{Hold::kNone, "none"},
                                    {Hold::kWarn, "warn"},
                                    {Hold::kNotEnoughData, "not_enough_data"}})
NLOHMANN_JSON_SERIALIZE_ENUM(CommandKind, {{CommandKind::kInstall, "install"},
                                           {CommandKind::kRestartBaseline, "restart_baseline"},
                                           {CommandKind::kRollback, "rollback"}})
NLOHMANN_JSON_SERIALIZE_ENUM(RollbackState, {{RollbackState::kNone, "none"},
                                             {RollbackState::kPending, "pending"},
                                             {RollbackState::kDone, "done"},
                                             {RollbackState::kFailed, "failed"}})

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BatchSize, kind, value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StageConfig, name, installTimeoutSeconds, warmupSeconds,
                                   analysisSeconds, batch, baselineRestart)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlanConfig, windowSeconds, silenceSeconds, reportGraceSeconds,
                                   canary, cluster, region, fleet)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CheckConfig, name, metric, test, alternative, alpha, minEffect,
                                   minRatio, minData, threshold, tier)
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

// Doubles that may be infinite or NaN (an effect against a zero baseline).
json number(double value) {
  if (std::isfinite(value)) return value;
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}
double numberFrom(const json& j) {
  if (j.is_string()) {
    auto text = j.get<std::string>();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    throw std::runtime_error("expected a number, got \"" + text + "\"");
  }
  return j.get<double>();
}

std::string toHex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 15]);
  }
  return out;
}

std::string fromHex(const std::string& hex) {
  auto digit = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error("signatureHex: not a hex digit: '" + std::string(1, c) + "'");
  };
  if (hex.size() % 2 != 0) throw std::runtime_error("signatureHex: odd length");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  }
  return out;
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
  a.signature = fromHex(j.at("signatureHex").get<std::string>());
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RolloutSpec, rolloutId, service, version, artifact)

void to_json(json& j, const CheckResult& r) {
  j = json{{"name", r.name},
           {"metric", r.metric},
           {"test", r.test},
           {"alternative", r.alternative},
           {"tier", r.tier},
           {"verdict", r.verdict},
           {"look", r.look},
           {"looks", r.looks},
           {"statistic", number(r.statistic)},
           {"pValue", number(r.pValue)},
           {"alphaAtLook", number(r.alphaAtLook)},
           {"significant", r.significant},
           {"effectLargeEnough", r.effectLargeEnough},
           {"canaryValue", number(r.canaryValue)},
           {"baselineValue", number(r.baselineValue)},
           {"effectName", r.effectName},
           {"effect", {number(r.effect), number(r.effectLow), number(r.effectHigh)}},
           {"ratioName", r.ratioName},
           {"ratio", {number(r.ratio), number(r.ratioLow), number(r.ratioHigh)}},
           {"canaryCount", r.canaryCount},
           {"baselineCount", r.baselineCount},
           {"canaryEvents", r.canaryEvents},
           {"baselineEvents", r.baselineEvents},
           {"explanation", r.explanation}};
}

void from_json(const json& j, CheckResult& r) {
  j.at("name").get_to(r.name);
  j.at("metric").get_to(r.metric);
  j.at("test").get_to(r.test);
  j.at("alternative").get_to(r.alternative);
  j.at("tier").get_to(r.tier);
  j.at("verdict").get_to(r.verdict);
  j.at("look").get_to(r.look);
  j.at("looks").get_to(r.looks);
  r.statistic = numberFrom(j.at("statistic"));
  r.pValue = numberFrom(j.at("pValue"));
  r.alphaAtLook = numberFrom(j.at("alphaAtLook"));
  j.at("significant").get_to(r.significant);
  j.at("effectLargeEnough").get_to(r.effectLargeEnough);
  r.canaryValue = numberFrom(j.at("canaryValue"));
  r.baselineValue = numberFrom(j.at("baselineValue"));
  j.at("effectName").get_to(r.effectName);
  r.effect = numberFrom(j.at("effect").at(0));
  r.effectLow = numberFrom(j.at("effect").at(1));
  r.effectHigh = numberFrom(j.at("effect").at(2));
  j.at("ratioName").get_to(r.ratioName);
  r.ratio = numberFrom(j.at("ratio").at(0));
  r.ratioLow = numberFrom(j.at("ratio").at(1));
  r.ratioHigh = numberFrom(j.at("ratio").at(2));
  j.at("canaryCount").get_to(r.canaryCount);
  j.at("baselineCount").get_to(r.baselineCount);
  j.at("canaryEvents").get_to(r.canaryEvents);
  j.at("baselineEvents").get_to(r.baselineEvents);
  j.at("explanation").get_to(r.explanation);
}

void to_json(json& j, const SendCommand& c) {
  j = json{{"commandId", c.commandId}, {"host", c.host}, {"service", c.service}};
  if (const auto* install = std::get_if<InstallRelease>(&c.body)) {
    j["install"] = json{{"version", install->version},
                        {"sha256", install->sha256},
                        {"sizeBytes", install->sizeBytes},
                        {"source", install->source},
                        {"signatureHex", toHex(install->signature)},
                        {"activate", install->activate}};
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
    install.signature = fromHex(i.at("signatureHex").get<std::string>());
    i.at("activate").get_to(install.activate);
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

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StepProgress, phase, startedMillis, activatedMillis,
                                   analysisStartMillis, analysisEndMillis, looks, lastLook,
                                   analysisComplete, hold, holdReason, overridden, latest, windows)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RolloutState, spec, plan, planConfig, gates, status, started,
                                   finished, outcome, rollingBack, abortRequested, operatorPause,
                                   currentStep, step, hosts, nextCommandId, startedMillis,
                                   finishedMillis, resumedMillis, endReason)

namespace {
constexpr int kStateFormat = 1;
}

std::string summaryJson(const Rollout& rollout, std::uint64_t nowMillis) {
  const RolloutState& state = rollout.state();
  const PlanStep& plan =
      state.plan.steps.at(std::min<std::size_t>(state.currentStep, state.plan.steps.size() - 1));
  auto hostsOf = [&](const std::vector<PlannedHost>& group) {
    json hosts = json::array();
    for (const auto& planned : group) {
      for (const auto& h : state.hosts) {
        if (h.name != planned.name) continue;
        json entry{{"host", h.name},
                   {"region", planned.region},
                   {"cluster", planned.cluster},
                   {"fromRelease", h.fromRelease},
                   {"release", h.lastKnownRelease},
                   {"healthy", h.healthy},
                   {"lastWindowMillis", h.lastWindowMillis},
                   {"rollback", h.rollback}};
        entry["pending"] = h.pending ? json(h.pendingKind) : json(nullptr);
        hosts.push_back(std::move(entry));
      }
    }
    return hosts;
  };
  json j{{"id", state.spec.rolloutId},
         {"service", state.spec.service},
         {"version", state.spec.version},
         {"status", state.status},
         {"operatorPaused", state.operatorPause},
         {"hold", state.step.hold},
         {"holdReason", state.step.holdReason},
         {"step", state.currentStep + 1},
         {"steps", state.plan.steps.size()},
         {"stage", plan.stage},
         {"batch", plan.batch},
         {"batches", plan.batches},
         {"region", plan.region},
         {"phase", state.step.phase},
         {"look", state.step.lastLook},
         {"looks", state.step.looks},
         {"millisLeft", rollout.millisLeftInPhase(nowMillis)},
         {"targets", hostsOf(plan.targets)},
         {"comparison", hostsOf(plan.comparison)},
         {"comparisonNote", plan.comparisonNote},
         {"comparisonKind", plan.comparisonKind},
         {"smallFleetWarning", state.plan.smallFleetWarning},
         {"checks", state.step.latest},
         {"startedMillis", state.startedMillis},
         {"finishedMillis", state.finishedMillis},
         {"endReason", state.endReason}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
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
