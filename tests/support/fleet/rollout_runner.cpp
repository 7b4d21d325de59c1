#include "tests/support/fleet/rollout_runner.h"

namespace rollgate::testing {
namespace {

using nlohmann::json;

// The first event of `kind`, or null.
const json* firstEvent(const json& doc, const std::string& kind) {
  if (!doc.contains("events")) return nullptr;
  for (const auto& event : doc["events"]) {
    if (event.value("kind", "") == kind) return &event;
  }
  return nullptr;
}

// Fills stage, check, tier and the time to decision from the deciding event.
void readDecision(RolloutOutcome& outcome) {
  const json& doc = outcome.explain;
  const json* active = firstEvent(doc, "targets_active");
  const json* decisive = firstEvent(doc, outcome.decision == "waiting_for_operator" ? "held" : "step_failed");
  if (outcome.decision == "succeeded") decisive = firstEvent(doc, "finished");
  if (decisive == nullptr) return;
  if (active != nullptr) {
    auto from = active->value("atMillis", std::uint64_t{0});
    auto to = decisive->value("atMillis", std::uint64_t{0});
    if (to >= from) outcome.decisionSeconds = static_cast<double>(to - from) / 1000.0;
  }
  if (outcome.decision == "succeeded") return;
  outcome.check = decisive->value("check", "");
  auto step = decisive->value("step", 0u);
  auto look = decisive->value("look", 0u);
  for (const auto& record : doc.value("checks", json::array())) {
    if (record.value("step", 0u) != step) continue;
    outcome.stage = record.value("stage", "");
    const json& result = record.contains("result") ? record["result"] : record;
    if (result.value("name", "") == outcome.check && (look == 0 || result.value("look", 0u) == look)) {
      outcome.tier = result.value("tier", "");
      outcome.verdict = result.value("verdict", "");
    }
  }
}

}  // namespace

std::string rolloutStatusOf(const json& doc) {
  // An error document (a CLI that timed out, a takeover) has no status: "".
  return doc.contains("rollout") && doc["rollout"].is_object() ? doc["rollout"].value("status", "")
                                                               : "";
}

bool rolloutDecided(const std::string& status) {
  return status == "succeeded" || status == "rolled_back" || status == "aborted" ||
         status == "failed" || status == "rolled_back_incomplete" ||
         status == "waiting_for_operator";
}

std::string rolloutStatus(const LocalFleet& fleet, const std::string& id) {
  return rolloutStatusOf(explainRollout(fleet, id));
}

std::string waitForDecision(const LocalFleet& fleet, const std::string& id,
                            std::chrono::seconds timeout, bool pastHolds) {
  std::string last;
  waitUntil(
      [&] {
        last = rolloutStatus(fleet, id);
        return rolloutDecided(last) && !(pastHolds && last == "waiting_for_operator");
      },
      timeout, std::chrono::milliseconds(500));
  return last;
}

std::string startedRolloutId(const std::string& startJson) {
  auto doc = json::parse(startJson, nullptr, false);
  if (doc.is_discarded()) return "";
  const json& summary = doc.contains("rollout") ? doc["rollout"] : doc;
  return summary.value("id", "");
}

json explainRollout(const LocalFleet& fleet, const std::string& id) {
  auto out = fleet.cli({"rollout", "explain", id, "--json"});
  if (out.exitCode != 0) return json::object();
  auto doc = json::parse(out.out, nullptr, false);
  return doc.is_discarded() ? json::object() : doc;
}

RolloutOutcome runRollout(LocalFleet& fleet, const RolloutRun& run, const std::string& version,
                          const std::string& archive) {
  RolloutOutcome outcome;
  std::vector<std::string> args = {"rollout", "start", "--service", run.service, "--version",
                                   version, "--artifact", archive, "--plan", run.planFile,
                                   "--canary-host", run.canaryHost, "--json"};
  if (!run.gatesFile.empty()) {
    args.push_back("--gates");
    args.push_back(run.gatesFile);
  }
  auto start = fleet.cli(args);
  auto started = json::parse(start.out, nullptr, false);
  if (start.exitCode != 0 || started.is_discarded()) {
    outcome.error = "rollout start " + version + ": " + start.err + start.out;
    return outcome;
  }
  const json& summary = started.contains("rollout") ? started["rollout"] : started;
  outcome.id = summary.value("id", "");
  waitUntil([&] {
    outcome.explain = explainRollout(fleet, outcome.id);
    return rolloutDecided(rolloutStatusOf(outcome.explain));
  }, run.timeout, std::chrono::milliseconds(250));
  outcome.decision = rolloutStatusOf(outcome.explain);
  if (!rolloutDecided(outcome.decision)) {
    outcome.error = "rollout " + outcome.id + " did not end in " +
                    std::to_string(run.timeout.count()) + " s (status " + outcome.decision + ")";
    outcome.decision.clear();
    return outcome;
  }
  readDecision(outcome);
  outcome.status = outcome.decision;
  if (outcome.decision == "waiting_for_operator" && run.rollBackHolds) {
    fleet.cli({"rollout", "rollback", outcome.id});
    waitUntil([&] {
      outcome.status = rolloutStatusOf(explainRollout(fleet, outcome.id));
      return rolloutDecided(outcome.status) && outcome.status != "waiting_for_operator";
    }, run.timeout, std::chrono::milliseconds(250));
  }
  return outcome;
}

}  // namespace rollgate::testing
