// Reverts: fleet-wide reverts (`rollgate revert`, docs/revert.md) driven from the coordinator's
// loop and kept durable (a staged revert is a rollout instead: Rollouts keeps it). start() plans
// the revert (revert_job.h), records it, stops a rollout of the service that is still running
// (Rollouts::abort), then sends each host its command, at most batchSize at once, the next ones as
// answers come in. Results are tracked per host. After a coordinator restart, open() resumes every
// unfinished revert: commands in flight go out again under their saved refs (agents apply each at
// most once and answer a re-delivery with its recorded result), pending hosts follow.
//
// Failure policy:
//  - a revert that cannot be recorded is refused (error reply), nothing is stopped or sent;
//  - a host's command ref is saved before the command leaves; when it cannot be saved the command
//    is NOT sent, the host stays pending and is tried again at every tick (logged as an error);
//  - an answer that cannot be saved is kept in memory and saved again at every tick until it is
//    (logged as an error); after a restart the agent answers the re-sent command the same way;
//  - an event-log entry that cannot be saved is logged as an error.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/artifact_store.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/registry.h"
#include "coordinator/revert_job.h"
#include "coordinator/rollouts.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class Reverts {
 public:
  // Requires: every argument outlives this.
  Reverts(Store& store, Registry& registry, ArtifactStore& artifacts, Rollouts& rollouts,
          CommandDispatcher& commands, const Clock& clock, Logger logger);

  // Resumes every unfinished revert. Call after Rollouts::open().
  Status open();

  // An operator's revert; returns its report (revertReport) or the refusal. With request.staged
  // it is a rollout of the older release (plan and gates from the request, installs flagged as a
  // revert) and the reply is {"staged": true, "rollout": <summary>}; it needs the artifact in the
  // store and is refused while a rollout of the service runs (abort it first).
  Result<std::string> start(const RevertRequest& request, const std::string& operatorName);
  // The report of revert `id` (running or ended); "no revert <id>" when there is none.
  Result<std::string> describe(const std::string& id);
  // The id of the running revert of `service`, if any.
  std::optional<std::string> runningFor(const std::string& service) const;

  // Sends what is due and saves what could not be saved before.
  void tick();

 private:
  Result<std::string> startStaged(const RevertRequest& request, const RevertState& planned,
                                  const std::string& operatorName);
  void sendDue(RevertState& state);
  void send(RevertState& state, std::size_t index);
  void onResult(const std::string& id, const std::string& host, const CommandResult& result);
  // Saves `state`; on failure marks it for tick() and logs. Returns whether it was saved.
  bool save(const RevertState& state);
  void recordEvent(const RevertState& state, const std::string& host, const std::string& message);
  void logEnd(const RevertState& state);

  Store& store_;
  Registry& registry_;
  ArtifactStore& artifacts_;
  Rollouts& rollouts_;
  CommandDispatcher& commands_;
  const Clock& clock_;
  Logger logger_;
  std::map<std::string, RevertState> running_;  // unfinished reverts by id
  std::set<std::string> unsaved_;               // ids whose last change is not saved yet
};

}  // namespace rollgate::coordinator
