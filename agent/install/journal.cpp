#include "agent/install/journal.h"

#include <nlohmann/json.hpp>

#include "common/sys/env.h"

namespace rollgate::install {
namespace {

using nlohmann::json;

constexpr const char* kStepNames[] = {"fetch",  "verify", "unpack",      "switch",
                                      "restart", "health", "switch-back", "done"};
constexpr const char* kKindNames[] = {"install", "activate", "rollback", "restart"};

json refToJson(const CommandRef& ref) {
  return json{{"rollout", ref.rolloutId}, {"sequence", ref.sequence}, {"epoch", ref.epoch}};
}
CommandRef refFromJson(const json& j) {
  CommandRef ref;
  ref.rolloutId = j.at("rollout").get<std::string>();
  ref.sequence = j.at("sequence").get<uint64_t>();
  ref.epoch = j.at("epoch").get<uint64_t>();
  return ref;
}

json resultToJson(const CommandResult& r) {
  return json{{"command", refToJson(r.command)},
              {"service", r.service},
              {"outcome", static_cast<int>(r.outcome)},
              {"active", r.activeRelease},
              {"message", r.message},
              {"events", r.events},
              {"durationMillis", r.durationMillis}};
}
CommandResult resultFromJson(const json& j) {
  CommandResult r;
  r.command = refFromJson(j.at("command"));
  r.service = j.at("service").get<std::string>();
  int outcome = j.at("outcome").get<int>();
  if (outcome < 0 || outcome > static_cast<int>(Outcome::kInProgress)) {
    throw std::runtime_error("bad outcome " + std::to_string(outcome));
  }
  r.outcome = static_cast<Outcome>(outcome);
  r.activeRelease = j.at("active").get<std::string>();
  r.message = j.at("message").get<std::string>();
  r.events = j.at("events").get<std::vector<std::string>>();
  r.durationMillis = j.at("durationMillis").get<uint64_t>();
  return r;
}

}  // namespace

const char* stepName(Step step) { return kStepNames[static_cast<int>(step)]; }
std::optional<Step> parseStep(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(Step::kDone); ++i) {
    if (name == kStepNames[i]) return static_cast<Step>(i);
  }
  return std::nullopt;
}
const char* commandKindName(CommandKind kind) { return kKindNames[static_cast<int>(kind)]; }

int compareRefs(const CommandRef& a, const CommandRef& b) {
  if (a.epoch != b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.sequence != b.sequence) return a.sequence < b.sequence ? -1 : 1;
  return 0;
}

Status Journal::write(const JournalRecord& r) {
  json j{{"command", refToJson(r.ref)},
         {"service", r.service},
         {"kind", commandKindName(r.kind)},
         {"version", r.version},
         {"sha256", r.sha256},
         {"previous", r.previous},
         {"step", stepName(r.step)},
         {"events", r.events},
         {"startedMillis", r.startedMillis}};
  return sys::writeFileAtomically(env_, path_, j.dump(1) + "\n", 0600);
}

Result<std::optional<JournalRecord>> Journal::read() const {
  auto text = env_.readFileIfExists(path_);
  if (!text) return text.error();
  if (!*text) return std::optional<JournalRecord>();
  try {
    json j = json::parse(**text);
    JournalRecord r;
    r.ref = refFromJson(j.at("command"));
    r.service = j.at("service").get<std::string>();
    std::string kind = j.at("kind").get<std::string>();
    bool kindOk = false;
    for (int i = 0; i < 4; ++i) {
      if (kind == kKindNames[i]) {
        r.kind = static_cast<CommandKind>(i);
        kindOk = true;
      }
    }
    if (!kindOk) return makeError(path_ + ": unknown kind '" + kind + "'");
    r.version = j.at("version").get<std::string>();
    r.sha256 = j.at("sha256").get<std::string>();
    r.previous = j.at("previous").get<std::string>();
    auto step = parseStep(j.at("step").get<std::string>());
    if (!step) return makeError(path_ + ": unknown step '" + j.at("step").dump() + "'");
    r.step = *step;
    r.events = j.at("events").get<std::vector<std::string>>();
    r.startedMillis = j.at("startedMillis").get<uint64_t>();
    return std::optional<JournalRecord>(std::move(r));
  } catch (const std::exception& e) {
    return makeError(path_ + ": corrupt journal: " + e.what());
  }
}

Status Journal::clear() {
  if (auto s = env_.removeFile(path_); !s) return s;
  return env_.syncDir(sys::parentDir(path_));
}

Status CommandLedger::load() {
  std::lock_guard lock(mutex_);
  auto text = env_.readFileIfExists(path_);
  if (!text) return text.error();
  if (!*text) return {};
  try {
    json j = json::parse(**text);
    last_ = refFromJson(j.at("last"));
    results_.clear();
    for (const auto& r : j.at("results")) results_.push_back(resultFromJson(r));
  } catch (const std::exception& e) {
    return makeError(path_ + ": corrupt command ledger: " + e.what());
  }
  return {};
}

CommandLedger::Check CommandLedger::check(const CommandRef& ref) const {
  std::lock_guard lock(mutex_);
  if (ref.epoch == 0 && ref.sequence == 0) return {};
  for (const auto& r : results_) {
    if (compareRefs(r.command, ref) == 0) return {Verdict::kDuplicate, r};
  }
  if (compareRefs(ref, last_) <= 0) return {Verdict::kStale, std::nullopt};
  return {};
}

Status CommandLedger::record(const CommandResult& result) {
  std::lock_guard lock(mutex_);
  const CommandRef& ref = result.command;
  if (ref.epoch == 0 && ref.sequence == 0) return {};
  if (compareRefs(ref, last_) > 0) last_ = ref;
  results_.push_back(result);
  results_.back().progress = false;
  while (results_.size() > keepResults_) results_.pop_front();
  return saveLocked();
}

CommandRef CommandLedger::lastApplied() const {
  std::lock_guard lock(mutex_);
  return last_;
}

Status CommandLedger::saveLocked() const {
  json results = json::array();
  for (const auto& r : results_) results.push_back(resultToJson(r));
  json j{{"last", refToJson(last_)}, {"results", results}};
  return sys::writeFileAtomically(env_, path_, j.dump(1) + "\n", 0600);
}

}  // namespace rollgate::install
