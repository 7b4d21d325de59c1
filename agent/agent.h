// Agent: the host daemon's event loop. Connects to the coordinator (DEALER, CURVE client) and to
// its broadcast (SUB), says hello whenever a connection is (re)established, heartbeats, and
// follows the coordinator's Welcome. Telemetry (agent/telemetry's TelemetryCollector) and installs
// (InstallWorker) plug into this loop; the agent only carries their messages.
// Thread-safety: start() and run() on one thread; requestStop() from anywhere (atomic flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <set>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "agent/agent_config.h"
#include "agent/install_worker.h"
#include "agent/systemd/service_manager.h"
#include "agent/telemetry/telemetry_collector.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"

namespace rollgate::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

class Agent {
 public:
  Agent(AgentConfig config, Logger logger, const Clock& clock);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  Status start();
  void run();
  // Connections whose key was refused are retried this often (libzmq itself gives up after an
  // authentication failure; an operator may enroll the key any time later).
  static constexpr std::uint64_t kAuthRetryMillis = 3000;
  // Coordinators sharing PostgreSQL: this long without a welcome at one endpoint, try the next
  // (a standby binds no agent endpoint, so only the leader's answers).
  static constexpr std::uint64_t kFailoverMillis = 1500;
  void requestStop() { stop_.store(true); }
  // After the coordinator says a newer session with this host's key replaced ours, the agent
  // waits this long, then connects again and takes the session back (with a warning each time:
  // two processes with one key alternate instead of one going silent).
  static constexpr std::uint64_t kSessionRetakeMillis = 5000;

 private:
  Status connect();
  void sendHello();
  void sendHeartbeat();
  bool send(const AgentMessage& message);
  void onDealerReadable();
  void onBroadcastReadable();
  void onMonitorReadable();
  void tick();
  void collectTelemetry(std::uint64_t nowMillis);
  void onCommand(const Command& command);
  void onAbort(const Abort& abort, bool fromBroadcast);
  void setFrozen(bool frozen, const std::string& reason);
  // Adopts the coordinator's telemetry window (0: an old coordinator that sends none).
  std::string coordinatorEndpoint() const;
  void followWindow(std::uint64_t coordinatorWindowMillis);
  void onWorkerResults();
  void sendResult(CommandResult result);
  void flushResults();
  void flushTelemetry();
  std::vector<ServiceRelease> services() const;
  std::vector<std::string> activeReleases() const;

  AgentConfig config_;
  Logger logger_;
  const Clock& clock_;
  std::atomic<bool> stop_{false};
  zmq::context_t context_;
  std::unique_ptr<zmq::socket_t> dealer_;
  std::unique_ptr<zmq::socket_t> subscriber_;
  std::unique_ptr<zmq::socket_t> monitor_;
  std::string secretKey_;
  std::string publicKey_;
  std::string serverKey_;
  int connection_ = 0;               // incarnation of the sockets (monitor endpoint name)
  std::uint64_t reconnectSteady_ = 0;  // when to rebuild the sockets after a refusal; 0: never
  bool authRefusedLogged_ = false;
  std::uint64_t bootMillis_ = 0;
  bool welcomed_ = false;
  std::string registeredAs_;
  std::uint64_t epoch_ = 0;          // the epoch of the coordinator whose session this is
  // The newest epoch any coordinator welcomed this agent with (at start: the last applied
  // command's). A session of an older epoch is a leader that lost its lease: refused.
  std::uint64_t newestEpoch_ = 0;
  // Coordinators sharing PostgreSQL: which of config_.coordinators the sockets connect to, and
  // since when this agent has had no welcome there (0: welcomed).
  std::size_t endpointIndex_ = 0;
  std::uint64_t unwelcomedSinceSteady_ = 0;
  std::uint64_t heartbeatMillis_ = 5000;
  std::uint64_t windowMillis_ = 0;  // the window the collector cuts; 0 until a Welcome
  std::uint64_t lastHelloSteady_ = 0;
  std::uint64_t nextHeartbeatSteady_ = 0;
  std::uint64_t nextWatchdogSteady_ = 0;
  std::uint64_t droppedMalformed_ = 0;
  std::unique_ptr<systemd::ServiceManager> resources_;  // sd-bus for unit stats; null without
  std::unique_ptr<sentry::SentryEndpoint> sentry_;  // null: no service configures Sentry
  std::unique_ptr<TelemetryCollector> telemetry_;
  std::unique_ptr<InstallWorker> worker_;
  std::set<std::uint64_t> handledAborts_;
  bool frozen_ = false;
  std::string frozenReason_;
  std::deque<CommandResult> unsentResults_;  // final results waiting for a connection
  std::uint64_t nextTelemetrySteady_ = 0;
  std::uint64_t telemetryPausedUntilSteady_ = 0;  // over quota: no telemetry sent until then
  bool resendTelemetry_ = false;  // the next report re-sends every unacknowledged window
};

}  // namespace rollgate::agent
