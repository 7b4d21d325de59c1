#include "coordinator/trains.h"

#include <nlohmann/json.hpp>

#include "coordinator/rollout/rollout.h"

namespace rollgate::coordinator {

using json = nlohmann::json;

namespace {

constexpr const char* kTrainOperator = "release-train";
constexpr std::size_t kRolloutsScanned = 50;

Result<json> parseArgs(const std::string& text) {
  if (text.empty()) return json::object();
  try {
    json j = json::parse(text);
    if (!j.is_object()) return Error{"train request arguments: expected a JSON object"};
    return j;
  } catch (const std::exception& e) {
    return Error{std::string("train request arguments: ") + e.what()};
  }
}

std::string argText(const json& args, const char* key) {
  auto it = args.find(key);
  return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json candidateJson(const train::Candidate& c) { return json::parse(train::toJson(c)); }

train::Outcome outcomeOf(const RolloutRecord& record) {
  if (record.status == "succeeded") return train::Outcome::kSucceeded;
  if (record.status == "aborted") return train::Outcome::kAborted;
  if (record.status == "rolled_back") {
    auto state = rollout::stateFromJson(record.stateJson);
    if (state && state->currentStep == 0) return train::Outcome::kFailedAtCanary;
    return train::Outcome::kFailedLater;
  }
  return train::Outcome::kIncomplete;
}

}  // namespace

Trains::Trains(Store& store, Rollouts& rollouts, const Clock& clock, Logger logger)
    : store_(store), rollouts_(rollouts), clock_(clock), logger_(std::move(logger)) {}

Result<std::vector<train::Candidate>> Trains::loadCandidates(const std::string& service) {
  auto rows = store_.loadCandidates(service);
  if (!rows) return rows.error();
  std::vector<train::Candidate> out;
  for (const TrainCandidateRow& row : *rows) {
    auto c = train::candidateFromJson(row.json);
    if (!c) return Error{"candidate " + row.commit + " of " + service + ": " + c.error().message};
    out.push_back(std::move(*c));
  }
  return out;
}

Status Trains::open() {
  auto states = store_.loadTrainStates();
  if (!states) return Error{"release trains: " + states.error().message};
  for (const std::string& text : *states) {
    auto state = train::trainStateFromJson(text);
    if (!state) return Error{"release train: " + state.error().message};
    auto config = train::parseTrainConfig(state->configToml, "train config of " + state->service);
    if (!config) return Error{"release train of " + state->service + ": " + config.error().message};
    auto candidates = loadCandidates(state->service);
    if (!candidates) return candidates.error();
    Entry& entry = trains_[state->service];
    entry.train = std::make_unique<train::Train>(*state, std::move(*config));
    entry.candidates = std::move(*candidates);
    logger_->info("release train of {} resumes in {}", state->service,
                  train::phaseName(state->phase));
    adoptStarted(entry);
  }
  return {};
}

void Trains::adoptStarted(Entry& entry) {
  const train::TrainState& s = entry.train->state();
  if (s.phase != train::Phase::kStarting || !s.rolloutId.empty()) return;
  const train::Candidate* target = train::findSeq(entry.candidates, s.targetSeq);
  if (target == nullptr) return;
  auto ids = store_.recentRolloutIds(kRolloutsScanned);
  if (!ids) return;
  for (const std::string& id : *ids) {
    auto record = store_.loadRollout(id);
    if (!record || !*record) continue;
    const RolloutRecord& r = **record;
    if (r.service == s.service && r.version == target->version && r.createdMillis >= s.startedMillis &&
        r.startedBy == kTrainOperator) {
      logger_->info("release train of {}: adopts rollout {} started before the restart", s.service, id);
      if (auto status = apply(entry, entry.train->rolloutStarted(id, r.createdMillis)); !status) {
        logger_->error("release train of {}: {}", s.service, status.error().message);
      }
      return;
    }
  }
}

train::Conditions Trains::conditions(Entry& entry) {
  train::Conditions c;
  if (auto frozen = store_.frozen(); frozen && *frozen) {
    c.fleetFrozen = true;
    c.frozenWhy = (*frozen)->reason.empty() ? "frozen by " + (*frozen)->by
                                            : (*frozen)->reason + " (" + (*frozen)->by + ")";
  }
  const train::TrainState& s = entry.train->state();
  for (const std::string& id : rollouts_.activeIds()) {
    if (rollouts_.serviceOf(id) == s.service && id != s.rolloutId) c.otherRollout = id;
  }
  if (!s.rolloutId.empty()) {
    // As the rollout is now: one paused because its own save failed is not in the store as such.
    std::string status = rollouts_.runningStatus(s.rolloutId);
    if (status.empty()) {
      auto record = store_.loadRollout(s.rolloutId);
      if (record && *record) status = (*record)->status;
    }
    if (status == "waiting_for_operator") c.rolloutWaiting = s.rolloutId;
  }
  return c;
}

void Trains::follow(Entry& entry) {
  const train::TrainState& s = entry.train->state();
  if (s.rolloutId.empty() ||
      (s.phase != train::Phase::kRollingOut && s.phase != train::Phase::kBisecting)) {
    return;
  }
  auto record = store_.loadRollout(s.rolloutId);
  if (!record) {
    logger_->error("release train of {}: cannot read rollout {}: {}", s.service, s.rolloutId,
                   record.error().message);
    return;
  }
  if (!*record || !(*record)->finished) return;
  const RolloutRecord& r = **record;
  std::string detail;
  if (auto state = rollout::stateFromJson(r.stateJson); state) detail = state->endReason;
  if (auto status = apply(entry, entry.train->rolloutEnded(outcomeOf(r), detail, clock_.nowMillis(),
                                                           entry.candidates));
      !status) {
    logger_->error("release train of {}: {}", s.service, status.error().message);
  }
}

void Trains::tick() {
  for (auto& [service, entry] : trains_) {
    if (entry.startInFlight) continue;
    // The candidates are kept in memory (loaded at open(), changed by submits and by the train's
    // own actions, each saved first).
    follow(entry);
    train::Conditions c = conditions(entry);
    if (auto status = apply(entry, entry.train->tick(clock_.nowMillis(), entry.candidates, c));
        !status) {
      logger_->error("release train of {}: {}", service, status.error().message);
    }
  }
}

Status Trains::apply(Entry& entry, const train::Actions& actions) {
  if (actions.empty()) return {};
  const std::string service = entry.train->state().service;
  std::vector<TrainCandidateRow> rows;
  for (const train::Action& action : actions) {
    if (const auto* mark = std::get_if<train::MarkCandidate>(&action)) {
      for (train::Candidate& c : entry.candidates) {
        if (c.seq != mark->seq) continue;
        c.state = mark->state;
        c.note = mark->note;
        if (mark->state == train::CandidateState::kShipped) c.shippedMillis = mark->atMillis;
        rows.push_back(TrainCandidateRow{service, c.seq, c.commit, train::toJson(c)});
      }
    }
  }
  if (auto saved = store_.saveTrain(service, train::toJson(entry.train->state()), rows); !saved) {
    // Not acted on: the state in memory is ahead of the store; reload it from the store so the
    // same decision is taken again once saving works.
    auto stored = store_.loadTrainStates();
    if (stored) {
      for (const std::string& text : *stored) {
        auto state = train::trainStateFromJson(text);
        if (state && state->service == service) {
          entry.train = std::make_unique<train::Train>(*state, entry.train->config());
        }
      }
    }
    return Error{"cannot save the train's state, nothing done: " + saved.error().message};
  }
  for (const train::Action& action : actions) {
    if (const auto* event = std::get_if<train::TrainEvent>(&action)) {
      record(service, *event, entry.train->state().rolloutId);
    }
  }
  for (const train::Action& action : actions) {
    if (const auto* start = std::get_if<train::StartTrainRollout>(&action)) startRollout(entry, *start);
  }
  return {};
}

void Trains::startRollout(Entry& entry, const train::StartTrainRollout& start) {
  const train::TrainState& s = entry.train->state();
  StartRollout request;
  request.service = s.service;
  request.version = start.version;
  request.planToml = s.planToml;
  request.gatesToml = s.gatesToml;
  entry.startInFlight = true;
  std::string service = s.service;
  auto done = [this, service](Result<std::string> summary) {
    auto it = trains_.find(service);
    if (it == trains_.end()) return;
    Entry& e = it->second;
    e.startInFlight = false;
    train::Actions actions;
    std::string id;
    if (summary) {
      try {
        id = json::parse(*summary).at("id").get<std::string>();
      } catch (const std::exception& ex) {
        logger_->error("release train of {}: rollout summary without id: {}", service, ex.what());
      }
    }
    if (!id.empty()) {
      actions = e.train->rolloutStarted(id, clock_.nowMillis());
    } else {
      actions = e.train->startFailed(summary ? "no rollout id" : summary.error().message,
                                     clock_.nowMillis());
    }
    if (auto status = apply(e, actions); !status) {
      logger_->error("release train of {}: {}", service, status.error().message);
    }
  };
  if (start.canaryOnly) {
    rollouts_.startCanaryOnly(request, kTrainOperator, std::move(done));
  } else {
    rollouts_.start(request, kTrainOperator, std::move(done));
  }
}

void Trains::record(const std::string& service, const train::TrainEvent& event,
                    const std::string& rolloutId) {
  std::uint64_t now = clock_.nowMillis();
  logger_->info("release train of {}: {}: {}", service, event.kind, event.text);
  if (auto status = store_.recordTrainEvent(
          TrainEventRecord{now, service, event.kind, event.commit, rolloutId, event.text});
      !status) {
    logger_->error("release train of {}: cannot record event {}: {}", service, event.kind,
                   status.error().message);
  }
  if (auto status = store_.recordEvent(
          EventRecord{now, "train", "", rolloutId, service + ": " + event.kind + ": " + event.text});
      !status) {
    logger_->error("release train of {}: cannot record event {} in the event log: {}", service,
                   event.kind, status.error().message);
  }
}

Result<Trains::Entry*> Trains::entryFor(const std::string& service, bool create) {
  auto it = trains_.find(service);
  if (it != trains_.end()) return &it->second;
  if (!create) {
    return Error{"no release train for service " + service + " (rollgate train enable " + service +
                 " --config FILE)"};
  }
  train::TrainState state;
  state.service = service;
  Entry& entry = trains_[service];
  entry.train = std::make_unique<train::Train>(state, train::TrainConfig{});
  auto candidates = loadCandidates(service);
  if (!candidates) return candidates.error();
  entry.candidates = std::move(*candidates);
  return &entry;
}

Result<std::string> Trains::statusJson(Entry& entry) {
  const train::TrainState& s = entry.train->state();
  std::uint64_t now = clock_.nowMillis();
  train::StatusView view = entry.train->status(now, entry.candidates, conditions(entry));
  json j{{"service", s.service},
         {"enabled", s.enabled},
         {"phase", train::phaseName(s.phase)},
         {"moving", view.moving},
         {"why", view.why},
         {"next", view.next},
         {"paused", s.paused},
         {"rollout", s.rolloutId},
         {"canaryRuns", s.canaryRuns},
         {"plannedRolloutSeconds", train::plannedRolloutSeconds(s, entry.train->config())}};
  const train::Candidate* deployed = train::findSeq(entry.candidates, s.deployedSeq);
  j["deployed"] = deployed ? candidateJson(*deployed) : json(nullptr);
  const train::Candidate* bad = train::findSeq(entry.candidates, s.heldOnSeq);
  j["heldOn"] = bad ? candidateJson(*bad) : json(nullptr);
  j["lock"] = s.lock ? json{{"reason", s.lock->reason}, {"author", s.lock->author},
                            {"atMillis", s.lock->atMillis}}
                     : json(nullptr);
  train::CalendarAnswer window = entry.train->config().calendar.at(now);
  j["window"] = {{"open", window.open}, {"why", window.why},
                 {"changeMillis", window.changeMillis ? json(*window.changeMillis) : json(nullptr)}};
  std::size_t waiting = 0;
  for (const auto& c : entry.candidates) waiting += c.seq > s.deployedSeq && c.state == train::CandidateState::kWaiting;
  j["waiting"] = waiting;
  return j.dump();
}

Result<std::string> Trains::handle(const TrainRequest& request, const std::string& operatorName) {
  auto args = parseArgs(request.argsJson);
  if (!args) return args.error();
  const std::string& service = request.service;
  if (service.empty()) return Error{"train " + request.action + ": no service given"};
  std::uint64_t now = clock_.nowMillis();
  const std::string& action = request.action;

  if (action == "submit" || action == "tests") {
    auto entry = entryFor(service, true);
    if (!entry) return entry.error();
    Entry& e = **entry;
    std::string commit = argText(*args, "commit");
    if (commit.empty()) return Error{"release " + action + ": no commit given"};
    auto tests = train::parseTests(argText(*args, "tests"));
    if (!tests) return Error{"release " + action + " " + commit + ": " + tests.error().message};
    train::Candidate* existing = nullptr;
    for (auto& c : e.candidates) {
      if (c.commit == commit) existing = &c;
    }
    train::Candidate c;
    if (action == "tests") {
      if (existing == nullptr) {
        return Error{"release tests: commit " + commit + " of " + service + " was never submitted"};
      }
      c = *existing;
      c.tests = *tests;
    } else {
      std::string version = argText(*args, "version");
      if (version.empty()) return Error{"release submit " + commit + ": no version given"};
      if (existing != nullptr) {
        if (existing->version != version) {
          return Error{"release submit: commit " + commit + " of " + service +
                       " was submitted with version " + existing->version + ", not " + version};
        }
        c = *existing;  // CI retried: the same commit again only updates its tests
        c.tests = *tests;
      } else {
        for (const auto& other : e.candidates) {
          if (other.version == version) {
            return Error{"release submit: version " + version + " of " + service +
                         " is already commit " + other.commit};
          }
        }
        auto artifact = store_.findArtifact(service, version);
        if (!artifact) return artifact.error();
        c.seq = e.candidates.empty() ? 1 : e.candidates.back().seq + 1;
        c.service = service;
        c.version = version;
        c.commit = commit;
        c.parent = argText(*args, "parent");
        c.author = argText(*args, "author");
        c.title = argText(*args, "title");
        c.fixes = argText(*args, "fixes");
        c.tests = *tests;
        c.hasArtifact = artifact->has_value();
        c.submittedMillis = now;
        if (!c.hasArtifact) {
          return Error{"release submit " + commit + ": no artifact " + service + " " + version +
                       " in the coordinator's store (push it first, or give --artifact)"};
        }
        if (!c.parent.empty() && !e.candidates.empty() && e.candidates.back().commit != c.parent) {
          return Error{"release submit " + commit + ": its parent " + c.parent +
                       " is not the last submitted commit of " + service + " (" +
                       e.candidates.back().commit + "); submit in commit order"};
        }
      }
    }
    if (auto saved = store_.saveTrain(service, train::toJson(e.train->state()),
                                      {TrainCandidateRow{service, c.seq, c.commit, train::toJson(c)}});
        !saved) {
      return Error{"release " + action + " " + commit + " not saved: " + saved.error().message};
    }
    if (existing) {
      *existing = c;
    } else {
      e.candidates.push_back(c);
    }
    record(service,
           train::TrainEvent{action == "submit" ? "submitted" : "tests",
                             "commit " + commit.substr(0, 12) + " (" + c.version + ") tests " +
                                 std::string(train::testsName(c.tests)) + " by " + operatorName,
                             commit},
           "");
    return candidateJson(c).dump();
  }
  if (action == "list") {
    auto candidates = loadCandidates(service);
    if (!candidates) return candidates.error();
    json list = json::array();
    for (const auto& c : *candidates) list.push_back(candidateJson(c));
    return json{{"service", service}, {"candidates", list}}.dump();
  }
  if (action == "history") {
    std::size_t limit = args->value("limit", 50);
    auto events = store_.trainEvents(service, limit);
    if (!events) return events.error();
    json list = json::array();
    for (const auto& e : *events) {
      list.push_back({{"atMillis", e.atMillis}, {"kind", e.kind}, {"commit", e.commit},
                      {"rollout", e.rolloutId}, {"text", e.message}});
    }
    return json{{"service", service}, {"events", list}}.dump();
  }
  auto entry = entryFor(service, action == "enable");
  if (!entry) return entry.error();
  Entry& e = **entry;
  if (action == "status") return statusJson(e);
  train::Actions actions;
  if (action == "enable") {
    std::string configToml = argText(*args, "config");
    auto config = train::parseTrainConfig(configToml, argText(*args, "configName").empty()
                                                          ? "train config"
                                                          : argText(*args, "configName"));
    if (!config) return config.error();
    train::TrainState state = e.train->state();
    state.configToml = configToml;
    state.planToml = argText(*args, "plan");
    state.gatesToml = argText(*args, "gates");
    std::string deployed = argText(*args, "deployedCommit");
    if (!deployed.empty()) {
      bool found = false;
      for (const auto& c : e.candidates) {
        if (c.commit == deployed) {
          state.deployedSeq = c.seq;
          found = true;
        }
      }
      if (!found) return Error{"train enable: --deployed " + deployed + " is not a candidate of " + service};
    }
    e.train = std::make_unique<train::Train>(state, std::move(*config));
    actions = e.train->enable(operatorName);
  } else if (action == "disable") {
    actions = e.train->disable(operatorName);
  } else if (action == "pause") {
    actions = e.train->pause(operatorName);
  } else if (action == "resume") {
    actions = e.train->resume(operatorName);
  } else if (action == "lock") {
    std::string reason = argText(*args, "reason");
    if (reason.empty()) return Error{"train lock " + service + ": a lock needs --reason"};
    actions = e.train->lock(reason, operatorName, now);
  } else if (action == "unlock") {
    actions = e.train->unlock(operatorName);
  } else {
    return Error{"unknown train action \"" + action +
                 "\" (submit, tests, list, enable, disable, status, history, pause, resume, lock, "
                 "unlock)"};
  }
  if (auto status = apply(e, actions); !status) return status.error();
  return statusJson(e);
}

}  // namespace rollgate::coordinator
