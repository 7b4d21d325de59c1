// Coordinator: the control daemon's event loop. Owns the ZeroMQ context, the ZAP handler, the
// agent ROUTER, the admin ROUTER and the broadcast PUB, the store and the registry; turns agent
// messages into registry updates and admin requests into replies. A message that fails to
// authenticate, decode or validate is counted and dropped; nothing a peer sends stops the loop.
// Thread-safety: start() and run() on one thread; requestStop() from any thread or a signal
// handler (it only sets an atomic flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "common/transport.h"
#include "coordinator/aborts.h"
#include "coordinator/artifact_store.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/registry.h"
#include "coordinator/rollouts.h"
#include "coordinator/store.h"
#include "coordinator/telemetry_store.h"

namespace rollgate::coordinator {

struct CoordinatorCounters {
  std::uint64_t agentMessages = 0;
  std::uint64_t adminRequests = 0;
  std::uint64_t droppedMalformed = 0;       // failed to decode or validate
  std::uint64_t droppedUnauthorized = 0;    // key no longer (or never) in the allowlist
  std::uint64_t droppedNoSession = 0;       // from a connection that has not said hello
  std::uint64_t telemetryWindows = 0;       // windows accepted
  std::uint64_t droppedWindows = 0;         // windows for services the host does not declare
};

class Coordinator {
 public:
  Coordinator(CoordinatorConfig config, Logger logger, const Clock& clock);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Reads keys and allowlists, takes the state directory, starts ZAP, binds every socket.
  Status start();
  // Serves until requestStop(). Requires: start() succeeded.
  void run();
  void requestStop() { stop_.store(true); }

  const CoordinatorCounters& counters() const { return counters_; }
  std::uint64_t epoch() const;

  // Sends `command` (its ref's sequence and epoch are filled in here) to `host`, and keeps it until
  // its final result arrives: it is re-sent whenever the host says hello again (the agent's
  // ledger makes that safe). `onProgress` and `onResult` are called from the loop.
  using ResultCallback = std::function<void(const CommandResult&)>;
  // A host that is not connected gets the command when it says hello. `presetRef` re-sends a
  // command under the ref it already had (after a coordinator restart).
  Result<CommandRef> sendCommand(const std::string& host, Command command, ResultCallback onResult,
                                 ResultCallback onProgress = {},
                                 std::optional<CommandRef> presetRef = std::nullopt);

 private:
  struct PendingCommand {
    std::string host;
    Command command;
    ResultCallback onResult;
    ResultCallback onProgress;
  };
  // An admin request answered later (install, rollback): where the reply goes.
  struct DeferredReply {
    std::string routingId;
    std::uint64_t requestId = 0;
  };
  void onAgentReadable();
  void onAdminReadable();
  void handleAgentMessage(const std::string& routingId, const std::string& host,
                          AgentMessage message);
  // Returns nothing when the reply is deferred (sent later through replyLater()).
  std::optional<AdminReply> handleAdminRequest(const std::string& operatorName,
                                               const std::string& routingId,
                                               const AdminRequest& request);
  std::optional<AdminReply> manualCommand(const std::string& operatorName,
                                          const DeferredReply& replyTo,
                                          const ManualCommand& request);
  AdminReply listReleases(const ListReleases& request);
  std::optional<AdminReply> startAbort(const std::string& operatorName, const DeferredReply& replyTo,
                                       const AbortRequest& request);
  AdminReply freeze(const std::string& operatorName, const FreezeRequest& request);
  void onAckAbort(const std::string& host, const AckAbort& ack);
  void sendAbort(std::uint64_t abortId, const std::string& host);
  void finishAbortWait(std::uint64_t abortId);
  void broadcast(Broadcast message);
  void sendAdminReply(const DeferredReply& to, AdminReply reply);
  void onCommandResult(const std::string& host, const CommandResult& result);
  void onChunkRequest(const std::string& routingId, const std::string& host,
                      const RequestChunk& request);
  AdminReply enroll(const std::string& operatorName, const EnrollHost& request);
  AdminReply revoke(const std::string& operatorName, const RevokeHost& request);
  AdminReply queryTelemetry(const QueryTelemetry& request);
  void onTelemetry(const std::string& host, TelemetryReport report);
  void ackTelemetry();
  void sendToAgent(const std::string& routingId, const CoordinatorMessage& message);
  void tick();
  void reloadAllowlists();
  void logDropped(const std::string& what, const std::string& why);

  CoordinatorConfig config_;
  Logger logger_;
  const Clock& clock_;
  std::atomic<bool> stop_{false};

  zmq::context_t context_;
  std::unique_ptr<ZapHandler> zap_;
  std::shared_ptr<Allowlist> agents_;
  std::shared_ptr<Allowlist> admins_;
  std::unique_ptr<zmq::socket_t> agentSocket_;
  std::unique_ptr<zmq::socket_t> adminSocket_;
  std::unique_ptr<zmq::socket_t> broadcastSocket_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TelemetryStore> telemetry_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<Rollouts> rollouts_;
  std::map<std::string, std::uint64_t> nextSequence_;        // per host, within this epoch
  std::map<std::string, PendingCommand> pendingCommands_;    // key: host/epoch/sequence
  std::uint64_t manualCommands_ = 0;
  AbortTracker aborts_;
  struct AbortWaiter {
    DeferredReply replyTo;
    std::uint64_t deadlineMillis = 0;
  };
  std::map<std::uint64_t, AbortWaiter> abortWaiters_;
  std::set<std::uint64_t> unsavedAborts_;  // acknowledgements not yet in SQLite (saved per batch)
  std::uint64_t nextTelemetryFlushMillis_ = 0;
  std::map<std::string, std::uint64_t> telemetryThrough_;  // per host: highest window sequence queued
  std::set<std::string> telemetryToAck_;                    // hosts owed an AckTelemetry
  std::optional<std::string> frozen_;
  std::uint64_t nextBroadcastId_ = 0;
  static constexpr std::uint64_t kAbortWaitMillis = 10'000;
  std::uint64_t nextPruneMillis_ = 0;
  Registry registry_;
  CoordinatorCounters counters_;
  std::uint64_t nextTickMillis_ = 0;
  std::uint64_t nextFlushMillis_ = 0;
  std::uint64_t nextReloadMillis_ = 0;
  std::uint64_t nextWatchdogMillis_ = 0;
  std::uint64_t droppedLogged_ = 0;
};

}  // namespace rollgate::coordinator
