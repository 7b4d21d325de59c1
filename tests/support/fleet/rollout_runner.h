// Runs one rollout on a fleet (a WebFleet, a SentryFleet) to its decision and reads what decided it from `rollout explain
// --json` (typed fields: event kinds, the check named by the deciding event, the check records),
// for the fault catalog's tests and the detection benchmark.
// Thread-safety: none; one thread drives the fleet.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/fleet/web_fleet.h"

namespace rollgate::testing {

struct RolloutOutcome {
  std::string id;
  // The status the gates reached: succeeded, rolled_back, waiting_for_operator (a hold), or
  // another terminal status; "" when the rollout did not start or did not end in time.
  std::string decision;
  std::string status;       // the final status (after the operator rollback of a hold)
  std::string stage;        // the stage of the failed or held step ("" when promoted)
  std::string check;        // the check that failed or held it
  std::string tier;         // that check's tier
  std::string verdict;      // its verdict then: fail, or not_enough_data for a hold for want of data
  double decisionSeconds = -1;  // from the first step's targets_active to the decision; -1 if none
  std::string error;        // why the rollout could not be started or followed
  nlohmann::json explain;   // `rollout explain --json` at the decision
};

struct RolloutRun {
  std::string planFile;
  std::string canaryHost;
  std::string service = "web";
  std::string gatesFile;  // "": the default gates
  // A held rollout is rolled back (as an operator would) so that the fleet is back on its
  // starting release for the next run.
  bool rollBackHolds = true;
  std::chrono::seconds timeout{300};
};

// `rollout explain ID --json`, parsed; an empty object if the command failed.
nlohmann::json explainRollout(const LocalFleet& fleet, const std::string& id);
// The rollout's status in an explain or status document ("" if none).
std::string rolloutStatusOf(const nlohmann::json& doc);
// Whether the gates have decided: a terminal status, or a hold (waiting_for_operator).
bool rolloutDecided(const std::string& status);
// The rollout's status now (through explain).
std::string rolloutStatus(const LocalFleet& fleet, const std::string& id);
// Polls until the rollout is decided or `timeout` passes; its last status. `pastHolds`: a hold
// (waiting_for_operator) does not end the wait, only a terminal status does (a warn check may
// hold a step whose analysis goes on, and a critical check still rolls it back).
std::string waitForDecision(const LocalFleet& fleet, const std::string& id,
                            std::chrono::seconds timeout, bool pastHolds = false);
// The rollout id in `rollout start --json`'s output; "" if there is none.
std::string startedRolloutId(const std::string& startJson);

// Starts a rollout of `archive` as `version` of `run.service` and follows it to its decision.
RolloutOutcome runRollout(LocalFleet& fleet, const RolloutRun& run, const std::string& version,
                          const std::string& archive);
inline RolloutOutcome runRollout(WebFleet& web, const RolloutRun& run, const std::string& version,
                                 const std::string& archive) {
  return runRollout(web.fleet(), run, version, archive);
}

}  // namespace rollgate::testing
