// Rollouts: drives every rollout's state machine (coordinator/rollout) from the coordinator's
// loop and makes it durable. Inputs (command results, telemetry windows, host health, time,
// operator actions) go to the rollouts they concern; their actions are carried out here: commands
// to agents, check results and events into SQLite, state changes logged. Each rollout's state is
// saved after every input, so a coordinator killed at any moment resumes every rollout where it
// was, re-sending unanswered commands with their original sequence numbers (agents apply each at
// most once) and replaying the current step's telemetry from the telemetry store.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/artifact_store.h"
#include "coordinator/registry.h"
#include "coordinator/rollout/rollout.h"
#include "coordinator/store.h"
#include "coordinator/telemetry_store.h"

namespace rollgate::coordinator {

// How the manager reaches agents: send `command` to `host` (with `presetRef` when re-sending a
// command that already has one); `onResult` gets its final result. Returns the ref it carries.
using CommandSender = std::function<Result<CommandRef>(
    const std::string& host, Command command, std::function<void(const CommandResult&)> onResult,
    std::optional<CommandRef> presetRef)>;

class Rollouts {
 public:
  Rollouts(Store& store, TelemetryStore& telemetry, ArtifactStore& artifacts, Registry& registry,
           CommandSender send, const Clock& clock, Logger logger);

  // Creates the tables and resumes every rollout that had not finished.
  Status open();

  // Returns the rollout's summary JSON.
  Result<std::string> start(const StartRollout& request, const std::string& operatorName);
  Result<std::string> act(const RolloutAction& request, const std::string& operatorName);
  // Aborts the given rollouts (every unfinished one when `ids` is empty); returns the hosts each
  // aborted rollout involves, with the release each goes back to.
  std::map<std::string, std::vector<ServiceRelease>> abort(const std::vector<std::string>& ids,
                                                           const std::string& operatorName,
                                                           const std::string& reason);
  bool exists(const std::string& id) const { return rollouts_.count(id) > 0 || stored(id); }
  std::vector<std::string> activeIds() const;

  void onTelemetry(const std::string& host, const TelemetryWindow& window);
  void onHostHealth(const std::string& host, bool healthy);
  void tick();

  Result<std::string> listJson();
  Result<std::string> describeJson(const std::string& id);

 private:
  struct Entry {
    std::unique_ptr<rollout::Rollout> rollout;
    std::map<std::uint64_t, CommandRef> refs;  // commandId -> the ref it was sent with
  };
  void apply(Entry& entry, const rollout::Actions& actions);
  void send(Entry& entry, const rollout::SendCommand& command);
  void save(Entry& entry);
  bool stored(const std::string& id) const;
  Result<std::unique_ptr<rollout::Rollout>> load(const std::string& id);
  std::string nextId();

  Store& store_;
  TelemetryStore& telemetry_;
  ArtifactStore& artifacts_;
  Registry& registry_;
  CommandSender sendCommand_;
  const Clock& clock_;
  Logger logger_;
  std::map<std::string, Entry> rollouts_;  // unfinished rollouts only
};

}  // namespace rollgate::coordinator
