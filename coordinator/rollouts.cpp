#include "coordinator/rollouts.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/gate_json.h"
#include "coordinator/rollout/planner.h"
#include "coordinator/rollout/read_model.h"
#include "coordinator/rollout/rollout_config.h"

namespace rollgate::coordinator {
namespace {

using nlohmann::json;

std::string statusOf(const rollout::Rollout& r) { return std::string(rollout::statusName(r.status())); }

json refsToJson(const std::map<std::uint64_t, CommandRef>& refs) {
  json out = json::object();
  for (const auto& [id, ref] : refs) {
    out[std::to_string(id)] = {{"rollout", ref.rolloutId}, {"epoch", ref.epoch}, {"sequence", ref.sequence}};
  }
  return out;
}

std::map<std::uint64_t, CommandRef> refsFromJson(const std::string& text) {
  std::map<std::uint64_t, CommandRef> out;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [id, ref] : j.items()) {
    out[std::stoull(id)] = CommandRef{ref.value("rollout", ""), ref.value("sequence", std::uint64_t{0}),
                                      ref.value("epoch", std::uint64_t{0})};
  }
  return out;
}

}  // namespace

Rollouts::Rollouts(Store& store, TelemetryStore& telemetry, ArtifactStore& artifacts,
                   Registry& registry, CommandSender send, const Clock& clock, Logger logger)
    : store_(store),
      telemetry_(telemetry),
      artifacts_(artifacts),
      registry_(registry),
      sendCommand_(std::move(send)),
      clock_(clock),
      logger_(std::move(logger)) {}

Status Rollouts::open() {
  auto status = store_.database().exec(R"sql(
    CREATE TABLE IF NOT EXISTS rollouts(
      id TEXT PRIMARY KEY, seq INTEGER NOT NULL, service TEXT NOT NULL, version TEXT NOT NULL,
      status TEXT NOT NULL, finished INTEGER NOT NULL, created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL, state TEXT NOT NULL, command_refs TEXT NOT NULL,
      started_by TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS checks(
      id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
      step INTEGER NOT NULL, stage TEXT NOT NULL, batch INTEGER NOT NULL, batches INTEGER NOT NULL,
      region TEXT NOT NULL, canary_hosts TEXT NOT NULL, comparison_hosts TEXT NOT NULL,
      name TEXT NOT NULL, verdict TEXT NOT NULL, p_value REAL, statistic REAL,
      result TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS checks_rollout ON checks(rollout_id, id);
    CREATE INDEX IF NOT EXISTS events_rollout ON events(rollout_id, id);
  )sql");
  if (!status) return status;
  auto stmt = store_.database().prepare("SELECT id, command_refs FROM rollouts WHERE finished = 0");
  if (!stmt) return stmt.error();
  std::vector<std::pair<std::string, std::string>> unfinished;
  while (stmt->step()) unfinished.emplace_back(stmt->text(0), stmt->text(1));
  if (auto s = stmt->status(); !s) return s;
  std::uint64_t now = clock_.nowMillis();
  for (const auto& [id, refs] : unfinished) {
    auto loaded = load(id);
    if (!loaded) {
      logger_->error("rollout {}: cannot resume: {}", id, loaded.error().message);
      continue;
    }
    Entry& entry = rollouts_[id];
    entry.rollout = std::move(*loaded);
    entry.refs = refsFromJson(refs);
    logger_->warn("rollout {} ({} {}): resuming in state {} after a coordinator restart", id,
                  entry.rollout->state().spec.service, entry.rollout->state().spec.version,
                  statusOf(*entry.rollout));
    apply(entry, entry.rollout->resumed(now));
    for (const auto& command : entry.rollout->pendingCommands()) send(entry, command);
    // The current step's telemetry, from the store (duplicates are ignored by the rollout).
    rollout::TelemetryWanted wanted = entry.rollout->telemetryWanted();
    if (!wanted.hosts.empty()) {
      auto windows = telemetry_.since(wanted.service, wanted.sinceMillis);
      if (windows) {
        std::set<std::string> hosts(wanted.hosts.begin(), wanted.hosts.end());
        rollout::Actions actions;
        for (const auto& stored : *windows) {
          if (!hosts.count(stored.host)) continue;
          auto more = entry.rollout->onTelemetry(stored.host, stored.window, now);
          actions.insert(actions.end(), more.begin(), more.end());
        }
        apply(entry, actions);
      }
    }
    save(entry);
  }
  return {};
}

Result<std::unique_ptr<rollout::Rollout>> Rollouts::load(const std::string& id) {
  auto stmt = store_.database().prepare("SELECT state FROM rollouts WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  if (!stmt->step()) return makeError("no rollout " + id);
  auto state = rollout::stateFromJson(stmt->text(0));
  if (!state) return state.error();
  return std::make_unique<rollout::Rollout>(std::move(*state));
}

bool Rollouts::stored(const std::string& id) const {
  auto stmt = store_.database().prepare("SELECT 1 FROM rollouts WHERE id = ?1");
  if (!stmt) return false;
  stmt->bind(1, id);
  return stmt->step();
}

std::string Rollouts::nextId() {
  std::uint64_t seq = 1;
  auto stmt = store_.database().prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts");
  if (stmt && stmt->step()) seq = static_cast<std::uint64_t>(stmt->integer(0));
  return "r" + std::to_string(seq);
}

std::vector<std::string> Rollouts::activeIds() const {
  std::vector<std::string> out;
  for (const auto& [id, entry] : rollouts_) out.push_back(id);
  return out;
}

Result<std::string> Rollouts::start(const StartRollout& request, const std::string& operatorName) {
  for (const auto& [id, entry] : rollouts_) {
    if (entry.rollout->state().spec.service == request.service) {
      return makeError("rollout " + id + " of service " + request.service + " (version " +
                       entry.rollout->state().spec.version + ") is still " +
                       statusOf(*entry.rollout) + "; abort it or wait for it to end");
    }
  }
  auto artifact = artifacts_.find(request.service, request.version);
  if (!artifact) {
    return makeError("no artifact for " + request.service + " " + request.version +
                     " (rollgate rollout start pushes it with --artifact FILE)");
  }
  auto plan = request.planToml.empty() ? Result<rollout::PlanConfig>(rollout::defaultPlanConfig())
                                       : rollout::parsePlanConfig(request.planToml, "plan");
  if (!plan) return plan.error();
  auto gates = request.gatesToml.empty() ? Result<rollout::GatesConfig>(rollout::defaultGatesConfig())
                                         : rollout::parseGatesConfig(request.gatesToml, "gates");
  if (!gates) return gates.error();
  std::uint64_t now = clock_.nowMillis();
  auto planned = rollout::planRollout(
      rollout::PlanRequest{request.service, request.version, request.canaryHost},
      registry_.list(now), *plan);
  if (!planned) return planned.error();
  rollout::RolloutSpec spec;
  spec.rolloutId = nextId();
  spec.service = request.service;
  spec.version = request.version;
  spec.artifact = rollout::ArtifactRef{artifact->sha256, artifact->sizeBytes, "", artifact->signature};
  std::string id = spec.rolloutId;
  std::uint64_t seq = std::stoull(id.substr(1));
  auto stmt = store_.database().prepare(
      "INSERT INTO rollouts(id, seq, service, version, status, finished, created_ms, updated_ms, "
      "state, command_refs, started_by) VALUES(?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, '{}', '{}', ?6)");
  if (!stmt) return stmt.error();
  stmt->bind(1, id).bind(2, static_cast<std::int64_t>(seq)).bind(3, request.service)
      .bind(4, request.version).bind(5, static_cast<std::int64_t>(now)).bind(6, operatorName);
  if (auto s = stmt->run(); !s) return s.error();
  Entry& entry = rollouts_[id];
  entry.rollout = std::make_unique<rollout::Rollout>(spec, *planned, *plan, *gates);
  logger_->info("operator {} started rollout {}: {} {} over {} steps (canary {}, baseline {})",
                operatorName, id, request.service, request.version, planned->steps.size(),
                planned->canaryHost, planned->baselineHost);
  (void)store_.recordEvent(now, "rollout_started", "", id,
                           "started by " + operatorName + ": " + request.service + " " +
                               request.version + ", canary " + planned->canaryHost +
                               ", baseline " + planned->baselineHost);
  for (const auto& note : planned->notes) {
    (void)store_.recordEvent(now, "plan_note", "", id, note);
  }
  apply(entry, entry.rollout->start(now));
  save(entry);
  return rollout::summaryJson(*entry.rollout, now);
}

Result<std::string> Rollouts::act(const RolloutAction& request, const std::string& operatorName) {
  auto it = rollouts_.find(request.rolloutId);
  if (it == rollouts_.end()) {
    return makeError(stored(request.rolloutId) ? "rollout " + request.rolloutId + " has ended"
                                               : "no rollout " + request.rolloutId);
  }
  std::uint64_t now = clock_.nowMillis();
  rollout::Rollout& r = *it->second.rollout;
  Result<rollout::Actions> actions = rollout::Actions{};
  const char* verb = "";
  switch (request.action) {
    case RolloutAction::Action::kPause:
      actions = r.pause(operatorName, now);
      verb = "paused";
      break;
    case RolloutAction::Action::kResume:
      actions = r.resume(operatorName, now);
      verb = "resumed";
      break;
    case RolloutAction::Action::kPromote:
      actions = r.promote(operatorName, now);
      verb = "promoted";
      break;
    case RolloutAction::Action::kRollback:
      actions = r.rollback(operatorName, "rolled back by operator " + operatorName, now);
      verb = "rolling back";
      break;
  }
  if (!actions) return actions.error();
  (void)store_.recordEvent(now, "operator", "", request.rolloutId, std::string(verb) + " by " + operatorName);
  apply(it->second, *actions);
  std::string message = "rollout " + request.rolloutId + " " + verb + " (now " + statusOf(r) + ")";
  save(it->second);
  if (rollout::isTerminal(r.status())) rollouts_.erase(it);
  return message;
}

std::map<std::string, std::vector<ServiceRelease>> Rollouts::abort(
    const std::vector<std::string>& ids, const std::string& operatorName, const std::string& reason) {
  std::map<std::string, std::vector<ServiceRelease>> hosts;
  std::uint64_t now = clock_.nowMillis();
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), current->first) == ids.end()) continue;
    rollout::Rollout& r = *current->second.rollout;
    for (const auto& host : r.state().hosts) {
      hosts[host.name].push_back(ServiceRelease{r.state().spec.service, host.fromRelease, {}});
    }
    apply(current->second, r.abort(operatorName, reason, now));
    save(current->second);
    if (rollout::isTerminal(r.status())) rollouts_.erase(current);
  }
  return hosts;
}

void Rollouts::onTelemetry(const std::string& host, const TelemetryWindow& window) {
  std::uint64_t now = clock_.nowMillis();
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    if (current->second.rollout->state().spec.service != window.service) continue;
    auto actions = current->second.rollout->onTelemetry(host, window, now);
    if (actions.empty()) continue;
    apply(current->second, actions);
    save(current->second);
    if (rollout::isTerminal(current->second.rollout->status())) rollouts_.erase(current);
  }
}

void Rollouts::onHostHealth(const std::string& host, bool healthy) {
  std::uint64_t now = clock_.nowMillis();
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    auto actions = current->second.rollout->onHostHealth(host, healthy, now);
    if (actions.empty()) continue;
    apply(current->second, actions);
    save(current->second);
    if (rollout::isTerminal(current->second.rollout->status())) rollouts_.erase(current);
  }
}

void Rollouts::tick() {
  std::uint64_t now = clock_.nowMillis();
  for (auto it = rollouts_.begin(); it != rollouts_.end();) {
    auto current = it++;
    auto actions = current->second.rollout->tick(now);
    if (actions.empty()) continue;
    apply(current->second, actions);
    save(current->second);
    if (rollout::isTerminal(current->second.rollout->status())) rollouts_.erase(current);
  }
}

void Rollouts::send(Entry& entry, const rollout::SendCommand& action) {
  Command command;
  command.service = action.service;
  command.ref.rolloutId = entry.rollout->id();
  std::visit([&](const auto& body) { command.body = body; }, action.body);
  std::optional<CommandRef> preset;
  if (auto found = entry.refs.find(action.commandId); found != entry.refs.end()) preset = found->second;
  std::string id = entry.rollout->id();
  std::string host = action.host;
  std::uint64_t commandId = action.commandId;
  auto sent = sendCommand_(
      action.host, command,
      [this, id, host, commandId](const CommandResult& result) {
        auto it = rollouts_.find(id);
        if (it == rollouts_.end()) return;
        apply(it->second, it->second.rollout->onCommandResult(host, commandId, result, clock_.nowMillis()));
        save(it->second);
        if (rollout::isTerminal(it->second.rollout->status())) rollouts_.erase(it);
      },
      preset);
  if (sent) {
    entry.refs[action.commandId] = *sent;
  } else {
    logger_->warn("rollout {}: command for host {} not sent: {}", id, host, sent.error().message);
  }
}

void Rollouts::apply(Entry& entry, const rollout::Actions& actions) {
  for (const auto& action : actions) {
    if (const auto* command = std::get_if<rollout::SendCommand>(&action)) {
      send(entry, *command);
    } else if (const auto* check = std::get_if<rollout::RecordCheck>(&action)) {
      json result = check->result;
      auto stmt = store_.database().prepare(
          "INSERT INTO checks(rollout_id, at_ms, step, stage, batch, batches, region, "
          "canary_hosts, comparison_hosts, name, verdict, p_value, statistic, result) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
      if (!stmt) continue;
      stmt->bind(1, check->rolloutId)
          .bind(2, static_cast<std::int64_t>(check->atMillis))
          .bind(3, static_cast<std::int64_t>(check->step) - 1)  // stored 0-based
          .bind(4, check->stage)
          .bind(5, static_cast<std::int64_t>(check->batch))
          .bind(6, static_cast<std::int64_t>(check->batches))
          .bind(7, check->region)
          .bind(8, json(check->canaryHosts).dump())
          .bind(9, json(check->comparisonHosts).dump())
          .bind(10, check->result.name)
          .bind(11, std::string(stats::toString(check->result.verdict)))
          .bind(12, check->result.pValue)
          .bind(13, check->result.statistic)
          .bind(14, result.dump());
      if (auto s = stmt->run(); !s) logger_->error("rollout {}: {}", check->rolloutId, s.error().message);
      if (check->result.verdict == rollout::Verdict::kFail) {
        logger_->warn("rollout {}: check {} failed: {}", check->rolloutId, check->result.name,
                      check->result.explanation);
      }
    } else if (const auto* event = std::get_if<rollout::RecordEvent>(&action)) {
      logger_->info("rollout {}{}: {}", event->rolloutId, event->host.empty() ? "" : " host " + event->host,
                    event->text);
      (void)store_.recordEvent(event->atMillis, std::string(toString(event->kind)), event->host,
                               event->rolloutId, rollout::storedEventMessage(*event));
    } else if (const auto* changed = std::get_if<rollout::StateChanged>(&action)) {
      logger_->warn("rollout {}: {} -> {}{}", changed->rolloutId, rollout::statusName(changed->from),
                    rollout::statusName(changed->to),
                    changed->reason.empty() ? "" : " (" + changed->reason + ")");
      (void)store_.recordEvent(changed->atMillis, "state", "", changed->rolloutId,
                               std::string(rollout::statusName(changed->from)) + " -> " +
                                   std::string(rollout::statusName(changed->to)) +
                                   (changed->reason.empty() ? "" : ": " + changed->reason));
    }
  }
}

void Rollouts::save(Entry& entry) {
  const rollout::Rollout& r = *entry.rollout;
  auto stmt = store_.database().prepare(
      "UPDATE rollouts SET status = ?2, finished = ?3, updated_ms = ?4, state = ?5, "
      "command_refs = ?6 WHERE id = ?1");
  if (!stmt) return;
  stmt->bind(1, r.id())
      .bind(2, statusOf(r))
      .bind(3, static_cast<std::int64_t>(rollout::isTerminal(r.status()) ? 1 : 0))
      .bind(4, static_cast<std::int64_t>(clock_.nowMillis()))
      .bind(5, rollout::stateToJson(r.state(), /*includeWindows=*/false))
      .bind(6, refsToJson(entry.refs).dump());
  if (auto s = stmt->run(); !s) logger_->error("rollout {}: cannot save state: {}", r.id(), s.error().message);
}

Result<std::string> Rollouts::listJson() {
  auto stmt = store_.database().prepare("SELECT id FROM rollouts ORDER BY seq DESC LIMIT 200");
  if (!stmt) return stmt.error();
  std::vector<std::string> ids;
  while (stmt->step()) ids.push_back(stmt->text(0));
  json list = json::array();
  std::uint64_t now = clock_.nowMillis();
  for (const auto& id : ids) {
    if (auto it = rollouts_.find(id); it != rollouts_.end()) {
      list.push_back(json::parse(rollout::summaryJson(*it->second.rollout, now)));
    } else if (auto loaded = load(id)) {
      list.push_back(json::parse(rollout::summaryJson(**loaded, now)));
    }
  }
  return json{{"rollouts", list}}.dump();
}

Result<std::string> Rollouts::describeJson(const std::string& id) {
  std::unique_ptr<rollout::Rollout> owned;
  const rollout::Rollout* r = nullptr;
  if (auto it = rollouts_.find(id); it != rollouts_.end()) {
    r = it->second.rollout.get();
  } else {
    auto loaded = load(id);
    if (!loaded) return loaded.error();
    owned = std::move(*loaded);
    r = owned.get();
  }
  std::uint64_t now = clock_.nowMillis();
  std::vector<CheckRecordView> checks;
  auto stmt = store_.database().prepare(
      "SELECT at_ms, step, stage, batch, batches, region, canary_hosts, comparison_hosts, result "
      "FROM checks WHERE rollout_id = ?1 ORDER BY id");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  try {
    while (stmt->step()) {
      CheckRecordView check;
      check.atMillis = static_cast<std::uint64_t>(stmt->integer(0));
      check.step = static_cast<std::uint32_t>(stmt->integer(1) + 1);
      check.stage = stmt->text(2);
      check.batch = static_cast<std::uint32_t>(stmt->integer(3));
      check.batches = static_cast<std::uint32_t>(stmt->integer(4));
      check.region = stmt->text(5);
      json::parse(stmt->text(6)).get_to(check.canaryHosts);
      json::parse(stmt->text(7)).get_to(check.comparisonHosts);
      json::parse(stmt->text(8)).get_to(check.result);
      checks.push_back(std::move(check));
    }
  } catch (const std::exception& error) {
    return makeError("rollout " + id + ": a stored check result is unreadable: " + error.what());
  }
  std::vector<EventView> events;
  auto ev = store_.database().prepare(
      "SELECT at_ms, host, kind, message FROM events WHERE rollout_id = ?1 ORDER BY id");
  if (!ev) return ev.error();
  ev->bind(1, id);
  while (ev->step()) {
    events.push_back(rollout::storedEventView(static_cast<std::uint64_t>(ev->integer(0)),
                                              ev->text(2), ev->text(1), ev->text(3)));
  }
  return toJson(rollout::buildRolloutView(*r, now, std::move(checks), std::move(events)))
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rollgate::coordinator
