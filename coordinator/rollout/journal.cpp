#include "coordinator/rollout/journal.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace rollgate::rollout {
namespace {

using nlohmann::json;

const char* kindName(InputKind kind) {
  switch (kind) {
    case InputKind::kStart: return "start";
    case InputKind::kCommandResult: return "result";
    case InputKind::kTelemetry: return "window";
    case InputKind::kHostHealth: return "health";
    case InputKind::kTick: return "tick";
    case InputKind::kPrometheus: return "prometheus";
    case InputKind::kResumed: return "resumed";
    case InputKind::kOperator: return "operator";
  }
  return "?";
}

const char* verbName(OperatorVerb verb) {
  switch (verb) {
    case OperatorVerb::kPause: return "pause";
    case OperatorVerb::kResume: return "resume";
    case OperatorVerb::kPromote: return "promote";
    case OperatorVerb::kRollback: return "rollback";
    case OperatorVerb::kAbort: return "abort";
  }
  return "?";
}

json windowJson(const TelemetryWindow& w) {
  json codes = json::array();
  for (const auto& c : w.statusCodes) codes.push_back({c.code, c.count});
  json j{{"service", w.service},
         {"release", w.release},
         {"start_ms", w.startMillis},
         {"end_ms", w.endMillis},
         {"requests", w.requests},
         {"status", {w.status1xx, w.status2xx, w.status3xx, w.status4xx, w.status5xx}},
         {"latency_samples_us", w.latencySampleMicros},
         {"error_log_lines", w.errorLogLines},
         {"cpu_us", w.cpuMicros != 0 ? w.cpuMicros : w.cpuMillis * 1000},
         {"memory_bytes", w.memoryBytes},
         {"restarts", w.restarts}};
  if (!codes.empty()) j["status_codes"] = codes;
  if (!w.latencyBucketUpperMicros.empty()) {
    j["latency_bucket_upper_us"] = w.latencyBucketUpperMicros;
    j["latency_bucket_counts"] = w.latencyBucketCounts;
  }
  if (w.unparsedLines) j["unparsed_lines"] = w.unparsedLines;
  if (w.unitActive) j["unit_active"] = true;
  if (w.mainPid) j["main_pid"] = w.mainPid;
  if (w.droppedBefore) j["dropped_before"] = w.droppedBefore;
  if (w.sentry.enabled) {
    const SentryWindow& s = w.sentry;
    json prints = json::array();
    for (const auto& f : s.fingerprints) {
      prints.push_back({{"type", f.type},
                        {"frame", f.frame},
                        {"count", f.count},
                        {"unhandled", f.unhandled},
                        {"message", f.sampleMessage}});
    }
    j["sentry"] = {{"errors", s.errors},
                   {"unhandled", s.unhandled},
                   {"sessions", s.sessions},
                   {"sessions_errored", s.sessionsErrored},
                   {"sessions_crashed", s.sessionsCrashed},
                   {"sessions_abnormal", s.sessionsAbnormal},
                   {"fingerprints", prints},
                   {"fingerprints_dropped", s.fingerprintsDropped}};
  }
  return j;
}

template <typename T>
void optional(const json& j, const char* key, T& out) {
  if (j.contains(key)) j.at(key).get_to(out);
}

TelemetryWindow windowFrom(const json& j) {
  TelemetryWindow w;
  j.at("service").get_to(w.service);
  j.at("release").get_to(w.release);
  j.at("start_ms").get_to(w.startMillis);
  j.at("end_ms").get_to(w.endMillis);
  j.at("requests").get_to(w.requests);
  if (j.contains("status")) {
    const json& s = j.at("status");
    if (!s.is_array() || s.size() != 5) throw std::runtime_error("status: expected 5 counts");
    w.status1xx = s.at(0).get<std::uint64_t>();
    w.status2xx = s.at(1).get<std::uint64_t>();
    w.status3xx = s.at(2).get<std::uint64_t>();
    w.status4xx = s.at(3).get<std::uint64_t>();
    w.status5xx = s.at(4).get<std::uint64_t>();
  }
  if (j.contains("status_codes")) {
    for (const auto& c : j.at("status_codes")) {
      w.statusCodes.push_back(StatusCount{c.at(0).get<std::uint16_t>(), c.at(1).get<std::uint64_t>()});
    }
  }
  optional(j, "latency_samples_us", w.latencySampleMicros);
  optional(j, "latency_bucket_upper_us", w.latencyBucketUpperMicros);
  optional(j, "latency_bucket_counts", w.latencyBucketCounts);
  optional(j, "error_log_lines", w.errorLogLines);
  optional(j, "unparsed_lines", w.unparsedLines);
  optional(j, "cpu_us", w.cpuMicros);
  w.cpuMillis = w.cpuMicros / 1000;
  optional(j, "memory_bytes", w.memoryBytes);
  optional(j, "restarts", w.restarts);
  optional(j, "unit_active", w.unitActive);
  optional(j, "main_pid", w.mainPid);
  optional(j, "dropped_before", w.droppedBefore);
  if (j.contains("sentry")) {
    const json& s = j.at("sentry");
    SentryWindow& out = w.sentry;
    out.enabled = true;
    optional(s, "errors", out.errors);
    optional(s, "unhandled", out.unhandled);
    optional(s, "sessions", out.sessions);
    optional(s, "sessions_errored", out.sessionsErrored);
    optional(s, "sessions_crashed", out.sessionsCrashed);
    optional(s, "sessions_abnormal", out.sessionsAbnormal);
    optional(s, "fingerprints_dropped", out.fingerprintsDropped);
    if (s.contains("fingerprints")) {
      for (const auto& f : s.at("fingerprints")) {
        SentryFingerprint print;
        optional(f, "type", print.type);
        optional(f, "frame", print.frame);
        optional(f, "count", print.count);
        optional(f, "unhandled", print.unhandled);
        optional(f, "message", print.sampleMessage);
        out.fingerprints.push_back(std::move(print));
      }
    }
  }
  return w;
}

Outcome outcomeFrom(const std::string& text) {
  for (Outcome o : {Outcome::kSucceeded, Outcome::kFailed, Outcome::kRolledBack, Outcome::kStale,
                    Outcome::kCancelled, Outcome::kInterrupted, Outcome::kInProgress}) {
    if (text == outcomeName(o)) return o;
  }
  throw std::runtime_error("outcome: unknown value \"" + text + "\"");
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Result<Actions> applyInput(Rollout& rollout, const RolloutInput& input) {
  const std::uint64_t now = input.atMillis;
  switch (input.kind) {
    case InputKind::kStart:
      return rollout.start(now);
    case InputKind::kCommandResult:
      return rollout.onCommandResult(input.host, input.commandId, input.result, now);
    case InputKind::kTelemetry:
      return rollout.onTelemetry(input.host, input.window, now);
    case InputKind::kHostHealth:
      return rollout.onHostHealth(input.host, input.healthy, now);
    case InputKind::kTick:
      return rollout.tick(now);
    case InputKind::kPrometheus:
      return rollout.onPrometheusSample(input.sample, now);
    case InputKind::kResumed:
      return rollout.resumed(now, input.reason);
    case InputKind::kOperator:
      switch (input.verb) {
        case OperatorVerb::kPause: return rollout.pause(input.who, now);
        case OperatorVerb::kResume: return rollout.resume(input.who, now);
        case OperatorVerb::kPromote: return rollout.promote(input.who, now);
        case OperatorVerb::kRollback: return rollout.rollback(input.who, input.reason, now);
        case OperatorVerb::kAbort: return rollout.abort(input.who, input.reason, now);
      }
  }
  return makeError("unknown input kind");
}

bool worthKeeping(const Rollout& rollout, const RolloutInput& input, const Actions& actions) {
  switch (input.kind) {
    case InputKind::kTick:
      return !actions.empty();
    case InputKind::kTelemetry: {
      if (input.window.service != rollout.state().spec.service) return false;
      const auto& hosts = rollout.state().hosts;
      return std::any_of(hosts.begin(), hosts.end(),
                         [&](const HostProgress& h) { return h.name == input.host; });
    }
    default:
      return true;
  }
}

std::string_view labelName(Label label) {
  switch (label) {
    case Label::kNone: return "";
    case Label::kGood: return "good";
    case Label::kBad: return "bad";
  }
  return "";
}

std::optional<Label> parseLabel(std::string_view text) {
  if (text == "good") return Label::kGood;
  if (text == "bad") return Label::kBad;
  return std::nullopt;
}

std::string startLine(const RolloutState& initial, std::uint64_t startedMillis) {
  return dump(json{{"v", kJournalSchemaVersion},
                   {"rollout", initial.spec.rolloutId},
                   {"type", "start"},
                   {"at", startedMillis},
                   {"state", json::parse(stateToJson(initial, /*includeWindows=*/false))}});
}

std::string inputLine(const std::string& rolloutId, const RolloutInput& input) {
  json j{{"v", kJournalSchemaVersion},
         {"rollout", rolloutId},
         {"type", kindName(input.kind)},
         {"at", input.atMillis}};
  switch (input.kind) {
    case InputKind::kCommandResult:
      j["host"] = input.host;
      j["command"] = input.commandId;
      j["outcome"] = outcomeName(input.result.outcome);
      j["active"] = input.result.activeRelease;
      if (!input.result.message.empty()) j["message"] = input.result.message;
      break;
    case InputKind::kTelemetry:
      j["host"] = input.host;
      j["window"] = windowJson(input.window);
      break;
    case InputKind::kHostHealth:
      j["host"] = input.host;
      j["healthy"] = input.healthy;
      break;
    case InputKind::kPrometheus: {
      const PrometheusSample& s = input.sample;
      j["sample"] = {{"check", s.check}, {"step", s.step}, {"look", s.look}, {"host", s.host},
                     {"query", s.query}, {"problem", s.problem}};
      j["sample"]["value"] = std::isnan(s.value) ? json(nullptr) : json(s.value);
      break;
    }
    case InputKind::kOperator:
      j["action"] = verbName(input.verb);
      j["who"] = input.who;
      if (!input.reason.empty()) j["reason"] = input.reason;
      break;
    case InputKind::kResumed:
      if (!input.reason.empty()) j["reason"] = input.reason;
      break;
    case InputKind::kStart:
    case InputKind::kTick:
      break;
  }
  return dump(j);
}

std::string labelLine(const std::string& rolloutId, Label label, const std::string& source,
                      const std::string& reason) {
  json j{{"v", kJournalSchemaVersion},
         {"rollout", rolloutId},
         {"type", "label"},
         {"label", labelName(label)},
         {"source", source}};
  if (!reason.empty()) j["reason"] = reason;
  return dump(j);
}

Result<JournalLine> parseLine(const std::string& text, bool* unreadableVersion) {
  if (unreadableVersion != nullptr) *unreadableVersion = false;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return makeError("not a JSON object");
  if (!j.contains("v") || !j.at("v").is_number_integer() ||
      j.at("v").get<std::int64_t>() != kJournalSchemaVersion) {
    if (unreadableVersion != nullptr) *unreadableVersion = true;
    return makeError("schema version " + (j.contains("v") ? j.at("v").dump() : "(none)") +
                     " is not " + std::to_string(kJournalSchemaVersion));
  }
  std::string key = "rollout";
  try {
    JournalLine line;
    j.at("rollout").get_to(line.rolloutId);
    if (line.rolloutId.empty()) return makeError("key rollout: empty");
    key = "type";
    std::string type = j.at("type").get<std::string>();
    if (type == "start") {
      line.type = JournalLine::Type::kStart;
      key = "at";
      j.at("at").get_to(line.startedMillis);
      if (j.contains("state")) {
        key = "state";
        auto state = stateFromJson(j.at("state").dump());
        if (!state) return makeError("key state: " + state.error().message);
        line.state = std::move(*state);
        return line;
      }
      key = "service";
      j.at("service").get_to(line.service);
      key = "version";
      j.at("version").get_to(line.version);
      key = "canary";
      optional(j, "canary", line.canary);
      key = "hosts";
      for (const auto& h : j.at("hosts")) {
        HostInfo host;
        h.at("name").get_to(host.name);
        h.at("region").get_to(host.region);
        h.at("cluster").get_to(host.cluster);
        host.services.push_back(ServiceRelease{line.service, h.at("release").get<std::string>(), {}});
        host.healthy = true;
        host.connected = true;
        line.fleet.push_back(std::move(host));
      }
      if (line.fleet.empty()) return makeError("key hosts: no host");
      return line;
    }
    if (type == "label") {
      line.type = JournalLine::Type::kLabel;
      key = "label";
      auto label = parseLabel(j.at("label").get<std::string>());
      if (!label) return makeError("key label: \"" + j.at("label").get<std::string>() +
                                   "\" is not good or bad");
      line.label = *label;
      key = "source";
      line.labelSource = j.value("source", std::string("operator"));
      line.labelReason = j.value("reason", std::string());
      return line;
    }
    line.type = JournalLine::Type::kInput;
    RolloutInput& in = line.input;
    key = "at";
    j.at("at").get_to(in.atMillis);
    if (type == "result") {
      in.kind = InputKind::kCommandResult;
      key = "host";
      j.at("host").get_to(in.host);
      key = "command";
      in.commandId = j.value("command", std::uint64_t{0});
      key = "outcome";
      in.result.outcome = outcomeFrom(j.at("outcome").get<std::string>());
      key = "active";
      j.at("active").get_to(in.result.activeRelease);
      in.result.message = j.value("message", std::string());
    } else if (type == "window") {
      in.kind = InputKind::kTelemetry;
      key = "host";
      j.at("host").get_to(in.host);
      key = "window";
      in.window = windowFrom(j.at("window"));
    } else if (type == "health") {
      in.kind = InputKind::kHostHealth;
      key = "host";
      j.at("host").get_to(in.host);
      key = "healthy";
      j.at("healthy").get_to(in.healthy);
    } else if (type == "tick") {
      in.kind = InputKind::kTick;
    } else if (type == "resumed") {
      in.kind = InputKind::kResumed;
      in.reason = j.value("reason", std::string());
    } else if (type == "prometheus") {
      in.kind = InputKind::kPrometheus;
      key = "sample";
      const json& s = j.at("sample");
      s.at("check").get_to(in.sample.check);
      s.at("step").get_to(in.sample.step);
      s.at("look").get_to(in.sample.look);
      s.at("host").get_to(in.sample.host);
      optional(s, "query", in.sample.query);
      optional(s, "problem", in.sample.problem);
      if (s.contains("value") && !s.at("value").is_null()) s.at("value").get_to(in.sample.value);
    } else if (type == "operator") {
      in.kind = InputKind::kOperator;
      key = "action";
      std::string action = j.at("action").get<std::string>();
      bool known = false;
      for (OperatorVerb v : {OperatorVerb::kPause, OperatorVerb::kResume, OperatorVerb::kPromote,
                             OperatorVerb::kRollback, OperatorVerb::kAbort}) {
        if (action == verbName(v)) {
          in.verb = v;
          known = true;
        }
      }
      if (!known) return makeError("key action: unknown value \"" + action + "\"");
      key = "who";
      in.who = j.value("who", std::string());
      in.reason = j.value("reason", std::string());
    } else {
      return makeError("key type: unknown value \"" + type + "\"");
    }
    return line;
  } catch (const std::exception& error) {
    return makeError("key " + key + ": " + error.what());
  }
}

}  // namespace rollgate::rollout
