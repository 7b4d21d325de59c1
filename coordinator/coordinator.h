// Coordinator: the control daemon's event loop. Owns the ZeroMQ context, the ZAP handler, the
// agent ROUTER, the admin ROUTER and the broadcast PUB, and the timers; builds the parts and routes
// to them: agent messages to the registry, the command dispatcher, the abort coordinator and the
// rollouts; admin requests to the admin API. A message that fails to authenticate, decode or
// validate is counted and dropped; nothing a peer sends stops the loop.
//
// Self-protection (README, "Limits"): every agent message is charged to its host key's quotas
// (host_quota.h) before it is decoded, so one host's flood costs a counter per message and never
// the store; telemetry over its quota is dropped, counted and the agent told (OverQuota). Each
// connection's intake and reply queue are bounded in ZeroMQ (RCVHWM, SNDHWM with
// ROUTER_MANDATORY: a reply to a peer that does not read is dropped and counted, never queued
// here). ZeroMQ reads the connections in turn, so heartbeats from other hosts are read between a
// flood's messages, and any message authenticated with a host's key, even one dropped over quota,
// counts as contact. A newer hello with a key replaces its session: the older connection is told
// (SessionClosed) and nothing more from it is handled, but it still counts as contact.
//
// Failure policy for the writes made here: a host's registration, last contact times and the
// "host registered / reconnected / silent" events that cannot be saved are logged as errors (the
// registry in memory is what the loop works from; the next hello or flush saves them again);
// telemetry that cannot be flushed stays queued and is flushed again; abort acknowledgements
// are saved again at every batch (abort_coordinator.h). The state directory itself must open:
// start() fails otherwise.
// Thread-safety: start() and run() on one thread; requestStop() from any thread or a signal
// handler (it only sets an atomic flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "common/transport.h"
#include "coordinator/abort_coordinator.h"
#include "coordinator/admin_api.h"
#include "coordinator/artifact_store.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/console_feed.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/host_quota.h"
#include "coordinator/metrics/metrics_server.h"
#include "coordinator/notify/notifier.h"
#include "coordinator/outbox.h"
#include "coordinator/recording_store.h"
#include "coordinator/registry.h"
#include "coordinator/rollouts.h"
#include "coordinator/store/leader_lease.h"
#include "coordinator/store/store.h"
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
  std::uint64_t droppedOverQuota = 0;       // messages and windows over a host's quotas
  std::uint64_t droppedReplies = 0;         // replies to a connection whose queue was full
  std::uint64_t stalls = 0;                 // turns of the loop that took kStallMillis or more
};

class Coordinator final : private Outbox {
 public:
  Coordinator(CoordinatorConfig config, Logger logger, const Clock& clock);
  ~Coordinator() override;
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Reads keys and allowlists, opens the store in the state directory, starts ZAP, binds every
  // socket.
  Status start();
  // Serves until requestStop(). Requires: start() succeeded.
  void run();
  void requestStop() { stop_.store(true); }
  // Coordinators sharing PostgreSQL: this one leads under `lease` (acquired, renewing; it must
  // outlive this). start() opens the PostgreSQL store fenced by the lease's epoch; nothing is sent
  // to agents once the lease is no longer proven valid, and run() returns (steppedDown()) so the
  // caller can wait as a standby again. Call before start().
  void useLease(LeaderLease* lease) { lease_ = lease; }
  bool steppedDown() const { return steppedDown_; }

  const CoordinatorCounters& counters() const { return counters_; }
  std::uint64_t epoch() const;

 private:
  // One message read from a ROUTER socket whose sender's key is in the allowlist.
  struct Inbound {
    std::string routingId;
    std::string peer;  // the ZAP user id: host or operator name
    zmq::message_t body;
    std::string address;  // the peer's IP address (Peer-Address)
  };
  // Reads one [routing id, body] message from `socket` into `in`; false when the socket had none.
  // `in` stays empty for a message of the wrong shape or from a key `allowlist` does not admit,
  // counted and logged as `what` (`refusal` says why).
  bool receive(zmq::socket_t& socket, const Allowlist& allowlist, const std::string& what,
               const std::string& refusal, std::optional<Inbound>& in);
  // Handle one message each; false when the socket had none.
  bool onAgentReadable();
  void failRefusedResult(const std::string& host, const zmq::message_t& frame,
                         const std::string& reason);
  bool onAdminReadable();
  void handleAgentMessage(const std::string& routingId, const std::string& host,
                          AgentMessage message, std::string_view body);
  void onHello(const std::string& routingId, const std::string& host, const Hello& hello);
  void onChunkRequest(const std::string& routingId, const std::string& host,
                      const RequestChunk& request);
  // `frame`: the report as it came (stored as it is when it holds one window).
  void onTelemetry(const std::string& routingId, const std::string& host, TelemetryReport report,
                   std::string_view frame);
  // Sends without blocking; false when the connection's reply queue is full or it is gone.
  bool sendToAgent(const std::string& routingId, const CoordinatorMessage& message);
  void logDropsPerHost();
  void pruneEvents(std::uint64_t wallMillis);
  void ackTelemetry();
  // With a store shared by several coordinators: copies the enrollments kept there into
  // agents_dir, and keeps there the keys only agents_dir has.
  void syncEnrollments();
  // Stores the batch's registrations and their events in one write.
  void saveRegistrations();
  void recordHostEvent(const std::string& kind, const std::string& host,
                       const std::string& message);
  void flushBatch();
  // A turn of the loop took `stalledMillis` (>= kStallMillis): logged and counted; hosts' silence
  // and the rollouts' clocks count from now.
  void onStall(std::uint64_t stalledMillis);
  static constexpr std::uint64_t kStallMillis = 2000;
  void tick();
  void reloadAllowlists();
  void logDropped(const std::string& what, const std::string& why);
  // Hands /metrics a snapshot of the loop's state (at most once a second).
  void publishMetrics();

  // Outbox
  void toAgent(const std::string& routingId, const CoordinatorMessage& message) override;
  void broadcast(Broadcast message) override;
  void toAdmin(const ReplyTo& to, AdminReply reply) override;

  // False, after saying why once, when this coordinator leads under a lease it can no longer
  // prove (nothing may be sent then).
  bool leaseValid();

  CoordinatorConfig config_;
  LeaderLease* lease_ = nullptr;
  bool steppedDown_ = false;
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
  Registry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TelemetryStore> telemetry_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<CommandDispatcher> commands_;
  std::unique_ptr<PrometheusChecks> prometheus_;  // before rollouts_: outlives it
  std::unique_ptr<Rollouts> rollouts_;
  std::unique_ptr<AbortCoordinator> aborts_;
  std::unique_ptr<Reverts> reverts_;
  std::unique_ptr<Trains> trains_;
  std::unique_ptr<AdminApi> admin_;
  std::unique_ptr<Backtests> backtests_;
  std::unique_ptr<ConsoleFeed> console_;  // after admin_: destroyed (server stopped) first
  CoordinatorCounters counters_;
  HostQuotas quotas_;
  std::map<std::string, std::uint64_t> nextOverQuotaMillis_;     // per host: when to tell it again
  std::map<std::string, std::uint64_t> nextSessionClosedMillis_;  // per host
  std::uint64_t nextDropLogMillis_ = 0;
  std::uint64_t nextEventPruneMillis_ = 0;
  std::uint64_t nextBroadcastId_ = 0;
  std::uint64_t nextTelemetryFlushMillis_ = 0;
  std::vector<zmq::message_t> frames_;  // receive()'s, reused
  std::vector<HostInfo> pendingHosts_;  // hellos of this batch, stored by flushBatch()
  std::vector<EventRecord> pendingHostEvents_;
  // Per host: the highest window sequence queued. Hashed, as the hosts owed an ack: both are
  // looked up for every telemetry report.
  std::unordered_map<std::string, std::uint64_t> telemetryThrough_;
  std::unordered_set<std::string> telemetryToAck_;  // hosts owed an AckTelemetry
  // Acks owed once a batch is committed: (batch number, host -> sequence), oldest first.
  std::deque<std::pair<std::uint64_t, std::map<std::string, std::uint64_t>>> telemetryAcks_;
  std::uint64_t ingestRefused_ = 0;  // windows turned away while the store was behind, unlogged
  std::uint64_t nextPruneMillis_ = 0;
  std::uint64_t nextTickMillis_ = 0;
  // After a start, release trains wait until every known host has said hello again, or the host
  // timeout has passed (steady ms), so that they never start a rollout on a fleet that is only
  // reconnecting.
  std::uint64_t trainsWaitUntilMillis_ = 0;
  bool trainsReady_ = false;
  std::uint64_t nextFlushMillis_ = 0;
  std::uint64_t nextReloadMillis_ = 0;
  std::uint64_t nextWatchdogMillis_ = 0;
  std::uint64_t droppedLogged_ = 0;
  RecordingStore* recording_ = nullptr;  // store_, observed for /metrics and notifications
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::uint64_t nextMetricsMillis_ = 0;
};

}  // namespace rollgate::coordinator
