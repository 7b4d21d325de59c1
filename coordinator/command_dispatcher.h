// CommandDispatcher: commands from the coordinator to agents. Gives each command its ref (the
// coordinator's epoch and a per-host sequence number), sends it on the host's connection, keeps
// it until its final result arrives, hands progress and the result to whoever sent it, and
// re-sends every pending command of a host when that host says hello again (the agent's ledger
// applies each ref at most once, so re-delivery is safe).
// Failure policy: a command result's entry in the event log that cannot be saved is logged as an
// error; the result is still delivered (whatever acts on it saves its own state and has its own
// policy).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/outbox.h"
#include "coordinator/registry.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class CommandDispatcher {
 public:
  using ResultCallback = std::function<void(const CommandResult&)>;
  // Requires: every argument outlives this.
  CommandDispatcher(Registry& registry, Store& store, Outbox& outbox, const Clock& clock,
                    Logger logger);

  // A new ref for a command of `rolloutId` to `host` in this epoch (not sent yet): a caller that
  // must save the ref before the command leaves reserves it, saves it, then passes it to send().
  CommandRef reserve(const std::string& host, const std::string& rolloutId);

  // Sends `command` to `host` under `presetRef` (a reserved ref, or the ref it had before a
  // restart) or under a new ref, and keeps it until its final result. A host that is not
  // connected gets it when it says hello. `onProgress` and `onResult` are called from the loop.
  // Errors: no host of that name.
  Result<CommandRef> send(const std::string& host, Command command, ResultCallback onResult,
                          ResultCallback onProgress = {},
                          std::optional<CommandRef> presetRef = std::nullopt);

  // `host` said hello on `routingId`: its pending commands go out again.
  void onHello(const std::string& host, const std::string& routingId);
  // A result or progress report from `host`. Returns false, and neither logs nor stores it, when
  // no command of `host` with that ref is pending (a duplicate, a replay, or a result the
  // coordinator stopped waiting for): the caller counts those (HostDrops::unsolicitedResults).
  bool onResult(const std::string& host, const CommandResult& result);
  // True while `ref` sent to `host` waits for its final result.
  bool isPending(const std::string& host, const CommandRef& ref) const;

  std::size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    std::string host;
    Command command;
    ResultCallback onResult;
    ResultCallback onProgress;
  };

  Registry& registry_;
  Store& store_;
  Outbox& outbox_;
  const Clock& clock_;
  Logger logger_;
  std::map<std::string, std::uint64_t> nextSequence_;  // per host, within this epoch
  std::map<std::string, Pending> pending_;              // key: host/epoch/sequence
};

}  // namespace rollgate::coordinator
