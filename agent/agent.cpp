#include "agent/agent.h"

#include <zmq.h>

#include <algorithm>
#include <filesystem>
#include <cstring>

#include "agent/install/release_store.h"
#include "agent/systemd/systemd_client.h"
#include "common/frame_bytes.h"
#include "common/codec.h"
#include "common/keys.h"
#include "common/notify.h"
#include "common/sys/env.h"
#include "common/sys/private_files.h"
#include "common/wire_fit.h"
#include "common/transport.h"

namespace rollgate::agent {
namespace {

constexpr std::uint64_t kHelloRetryMillis = 3000;
constexpr std::size_t kMaxReportedReleases = 64;

// What an install root holds, as install::ReleaseStore sees it: the active release and the
// unpacked releases, newest first.
ServiceRelease inspectService(const ServiceConfig& service) {
  install::ReleaseStore store(service.installRoot);
  ServiceRelease release;
  release.service = service.name;
  release.activeRelease = store.activeRelease().value_or("");
  for (const auto& info : store.listReleases()) {
    if (release.releases.size() == kMaxReportedReleases) break;
    release.releases.push_back(info.version);
  }
  return release;
}

TelemetryCollectorConfig collectorConfig(const AgentConfig& config) {
  TelemetryCollectorConfig out;
  out.stateDir = config.stateDir;
  out.backlog.maxWindows = static_cast<std::size_t>(config.backlogWindows);
  for (const auto& service : config.services) {
    CollectedService collected;
    collected.unit = service.unit;
    ServiceTelemetryConfig& telemetry = collected.telemetry;
    telemetry.service = service.name;
    telemetry.accessLogPath = service.accessLog;
    telemetry.accessLogFormat = service.accessLogFormat;
    telemetry.jsonFields.status = service.jsonStatusField;
    telemetry.jsonFields.latency = service.jsonLatencyField;
    telemetry.jsonFields.method = service.jsonMethodField;
    telemetry.errorLogPath = service.errorLog;
    telemetry.errorPattern = service.errorPattern;
    telemetry.window.windowMillis = initialWindowMillis(config);
    out.services.push_back(std::move(collected));
  }
  return out;
}

}  // namespace

Agent::Agent(AgentConfig config, Logger logger, const Clock& clock)
    : config_(std::move(config)),
      logger_(std::move(logger)),
      clock_(clock),
      context_(1) {
  heartbeatMillis_ = static_cast<std::uint64_t>(config_.heartbeatSeconds) * 1000;
}

Agent::~Agent() {
  worker_.reset();  // joins the worker thread before its sockets' context goes away
  monitor_.reset();
  dealer_.reset();
  subscriber_.reset();
  context_.shutdown();
}

std::vector<ServiceRelease> Agent::services() const {
  std::vector<ServiceRelease> out;
  for (const auto& service : config_.services) out.push_back(inspectService(service));
  Heartbeat fitted{0, std::move(out)};
  AgentMessage message = std::move(fitted);
  if (fitToWire(message) > 0) {
    logger_->warn("more than {} releases of a service on disk; reporting the newest {}",
                  kMaxReportedReleases, kMaxReportedReleases);
  }
  return std::move(std::get<Heartbeat>(message).services);
}

std::vector<std::string> Agent::activeReleases() const {
  std::vector<std::string> out;
  for (const auto& service : config_.services) {
    out.push_back(install::ReleaseStore(service.installRoot).activeRelease().value_or(""));
  }
  return out;
}

Status Agent::start() {
  auto secret = readSecretKeyFile(config_.keyFile);
  if (!secret) return makeError("agent key: " + secret.error().message);
  auto publicKey = publicKeyFromSecret(*secret);
  if (!publicKey) return makeError("agent key " + config_.keyFile + ": " + publicKey.error().message);
  auto serverKey = readKeyFile(config_.coordinatorKeyFile);
  if (!serverKey) return makeError("coordinator public key: " + serverKey.error().message);
  secretKey_ = *secret;
  publicKey_ = *publicKey;
  serverKey_ = *serverKey;
  bootMillis_ = clock_.nowMillis();
  // The state directory (ledger, telemetry backlog) is 0700 whatever the umask.
  std::error_code ignored;
  std::filesystem::create_directories(sys::parentDir(config_.stateDir), ignored);
  if (auto status = sys::createPrivateDir(config_.stateDir); !status) {
    return makeError("agent state_dir: " + status.error().message);
  }
  if (config_.systemd != "none" && !config_.services.empty()) {
    systemd::SystemdClientOptions options;
    options.bus = config_.systemd == "user" ? systemd::BusKind::kUser : systemd::BusKind::kSystem;
    auto client = systemd::SystemdClient::connect(options);
    if (client) {
      resources_ = std::move(*client);
    } else {
      logger_->warn("no {} systemd manager ({}); services' CPU, memory and restarts will not be "
                    "reported",
                    config_.systemd, client.error().message);
    }
  }
  auto telemetry = TelemetryCollector::create(collectorConfig(config_), activeReleases(),
                                              resources_.get(), logger_, clock_.nowMillis());
  if (!telemetry) return telemetry.error();
  telemetry_ = std::move(*telemetry);
  std::vector<sentry::SentryServiceConfig> sentryServices;
  for (const auto& service : config_.services) {
    if (service.sentry) sentryServices.push_back(*service.sentry);
  }
  if (!sentryServices.empty()) {  // the endpoint's thread runs only when a service asks for it
    auto endpoint = sentry::SentryEndpoint::start(std::move(sentryServices), logger_);
    if (!endpoint) return endpoint.error();
    sentry_ = std::move(*endpoint);
    telemetry_->setSentrySource(
        [endpoint = sentry_.get()](const std::string& service) { return endpoint->take(service); });
  }
  CoordinatorSourceOptions chunks;
  chunks.endpoint = config_.coordinator;
  chunks.endpoints = config_.coordinators;
  chunks.secretKey = secretKey_;
  chunks.publicKey = publicKey_;
  chunks.serverKey = serverKey_;
  worker_ = std::make_unique<InstallWorker>(config_, chunks, context_, logger_);
  if (auto status = worker_->start(); !status) return status;
  newestEpoch_ = worker_->lastApplied().epoch;
  if (auto status = connect(); !status) return status;
  logger_->info("connecting to coordinator {} (broadcast {}) as {} in {}/{} with {} services; "
                "public key {}",
                config_.coordinator, config_.broadcast, config_.host, config_.region,
                config_.cluster, config_.services.size(), publicKey_);
  return {};
}

std::string Agent::coordinatorEndpoint() const {
  return config_.coordinators.empty() ? config_.coordinator : config_.coordinators[endpointIndex_];
}

Status Agent::connect() {
  unwelcomedSinceSteady_ = clock_.steadyMillis();
  monitor_.reset();
  dealer_.reset();
  subscriber_.reset();
  welcomed_ = false;
  std::string monitorEndpoint = "inproc://agent-dealer-monitor-" + std::to_string(++connection_);
  try {
    dealer_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    configureCurveClient(*dealer_, secretKey_, publicKey_, serverKey_, kMaxCoordinatorMessageBytes);
    // Sends fail fast while there is no connection: the agent keeps its own bounded backlog
    // instead of an invisible ZeroMQ queue.
    dealer_->set(zmq::sockopt::immediate, true);
    dealer_->set(zmq::sockopt::sndhwm, 1000);
    if (config_.coordinators.size() > 1) {
      // Coordinators sharing PostgreSQL: a leader that stops answering (a frozen machine, a cut
      // link) must be noticed without waiting for TCP, so that this agent moves to the next one.
      // ZeroMQ's own heartbeats close a connection whose peer misses them for 3 s.
      dealer_->set(zmq::sockopt::heartbeat_ivl, 1000);
      dealer_->set(zmq::sockopt::heartbeat_timeout, 3000);
    }
    if (zmq_socket_monitor(dealer_->handle(), monitorEndpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0) {
      return makeError(std::string("socket monitor: ") + zmq_strerror(zmq_errno()));
    }
    monitor_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(monitorEndpoint);
    dealer_->connect(coordinatorEndpoint());

    subscriber_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::sub);
    configureCurveClient(*subscriber_, secretKey_, publicKey_, serverKey_, kMaxBroadcastBytes);
    subscriber_->set(zmq::sockopt::subscribe, "");
    subscriber_->connect(config_.broadcasts.empty() ? config_.broadcast
                                                    : config_.broadcasts[endpointIndex_]);
  } catch (const zmq::error_t& e) {
    return makeError("cannot connect to coordinator " + coordinatorEndpoint() + ": " + e.what());
  }
  return {};
}

bool Agent::send(const AgentMessage& message) {
  std::string payload = encode(message);
  if (payload.size() > kMaxAgentMessageBytes) {
    // Unreachable once fitToWire ran (results are a few KiB); sending it would only make the
    // coordinator's socket drop the connection, so it is dropped here, loudly.
    logger_->error("a message of {} bytes exceeds the wire limit of {} bytes; not sent",
                   payload.size(), kMaxAgentMessageBytes);
    return true;
  }
  try {
    return dealer_->send(zmq::buffer(payload), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    logger_->warn("send to coordinator failed: {}", e.what());
    return false;
  }
}

void Agent::sendHello() {
  Hello hello;
  hello.claimedHost = config_.host;
  hello.region = config_.region;
  hello.cluster = config_.cluster;
  hello.agentVersion = kAgentVersion;
  hello.services = services();
  hello.bootMillis = bootMillis_;
  hello.lastApplied = worker_->lastApplied();
  lastHelloSteady_ = clock_.steadyMillis();
  if (send(hello)) logger_->debug("hello sent");
}

void Agent::sendHeartbeat() {
  Heartbeat heartbeat;
  heartbeat.sentMillis = clock_.nowMillis();
  heartbeat.services = services();
  send(heartbeat);
}

void Agent::run() {
  notifyReady("connecting to " + config_.coordinator);
  while (!stop_.load()) {
    // Rebuilt every turn: connect() replaces the sockets after an authentication refusal.
    std::vector<zmq::pollitem_t> items = {{dealer_->handle(), 0, ZMQ_POLLIN, 0},
                                          {subscriber_->handle(), 0, ZMQ_POLLIN, 0},
                                          {monitor_->handle(), 0, ZMQ_POLLIN, 0}};
    items.push_back({nullptr, worker_->fd(), ZMQ_POLLIN, 0});
    for (int fd : telemetry_->fds()) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) logger_->warn("poll: {}", e.what());
      continue;
    }
    if (items[2].revents & ZMQ_POLLIN) onMonitorReadable();
    if (items[0].revents & ZMQ_POLLIN) onDealerReadable();
    if (items[1].revents & ZMQ_POLLIN) onBroadcastReadable();
    if (items[3].revents & ZMQ_POLLIN) onWorkerResults();
    for (std::size_t i = 4; i < items.size(); ++i) {
      if (items[i].revents & ZMQ_POLLIN) telemetry_->onReadable(items[i].fd);
    }
    tick();
  }
  notifyStopping();
  // The open window is not sent: its lines are read again after a restart (positions are saved at
  // cuts only); finished windows not yet acknowledged wait in the durable backlog.
  logger_->info("stopped");
}

void Agent::onMonitorReadable() {
  while (true) {
    zmq::message_t event;
    zmq::message_t address;
    if (!monitor_->recv(event, zmq::recv_flags::dontwait)) return;
    if (!event.more() || !monitor_->recv(address, zmq::recv_flags::dontwait)) continue;
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof(id));
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      reconnectSteady_ = 0;
      authRefusedLogged_ = false;
      logger_->info("connected to coordinator {}", address.to_string());
      welcomed_ = false;
      sendHello();
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      if (welcomed_) {
        logger_->warn("lost connection to coordinator {}", address.to_string());
        unwelcomedSinceSteady_ = clock_.steadyMillis();
      }
      welcomed_ = false;
    } else {
      if (!authRefusedLogged_) {
        authRefusedLogged_ = true;
        logger_->error("coordinator {} refused this agent's key {} (not enrolled, or "
                       "coordinator_key is wrong); retrying every {} s",
                       address.to_string(), publicKey_, kAuthRetryMillis / 1000);
      }
      reconnectSteady_ = clock_.steadyMillis() + kAuthRetryMillis;
    }
  }
}

void Agent::onDealerReadable() {
  for (int i = 0; i < 64; ++i) {
    zmq::message_t frame;
    if (!dealer_->recv(frame, zmq::recv_flags::dontwait)) return;
    auto message = decodeCoordinatorMessage(bytesOf(frame));
    if (!message) {
      ++droppedMalformed_;
      logger_->warn("dropped coordinator message: {}", message.error().message);
      continue;
    }
    if (auto* welcome = std::get_if<Welcome>(&*message)) {
      if (config_.coordinators.size() > 1 && welcome->epoch < newestEpoch_) {
        // A coordinator that led before the one that welcomed this agent last: it lost its
        // lease, so nothing it sends is acted on. Another endpoint leads.
        logger_->error("coordinator {} welcomed this agent with epoch {}, older than epoch {} "
                       "that leads; refusing its session",
                       coordinatorEndpoint(), welcome->epoch, newestEpoch_);
        welcomed_ = false;
        if (config_.coordinators.size() > 1) {
          endpointIndex_ = (endpointIndex_ + 1) % config_.coordinators.size();
          reconnectSteady_ = clock_.steadyMillis();
        }
        return;
      }
      newestEpoch_ = welcome->epoch;
      unwelcomedSinceSteady_ = 0;
      if (!welcomed_ || registeredAs_ != welcome->host) {
        logger_->info("registered with the coordinator as host {} (epoch {})", welcome->host,
                      welcome->epoch);
      }
      welcomed_ = true;
      registeredAs_ = welcome->host;
      setFrozen(welcome->frozen, "");
      flushResults();
      resendTelemetry_ = true;  // a new session: what was in flight may not have arrived
      telemetryPausedUntilSteady_ = 0;
      flushTelemetry();
      epoch_ = welcome->epoch;
      if (welcome->heartbeatMillis > 0) heartbeatMillis_ = welcome->heartbeatMillis;
      followWindow(welcome->windowMillis);
      nextHeartbeatSteady_ = clock_.steadyMillis() + heartbeatMillis_;
    } else if (auto* command = std::get_if<Command>(&*message)) {
      if (config_.coordinators.size() > 1 && !welcomed_) {
        logger_->warn("refused command {} #{} (epoch {}): this session was not welcomed by the "
                      "coordinator that leads", command->ref.rolloutId, command->ref.sequence,
                      command->ref.epoch);
        continue;
      }
      onCommand(*command);
    } else if (auto* abort = std::get_if<Abort>(&*message)) {
      onAbort(*abort, /*fromBroadcast=*/false);
    } else if (auto* ack = std::get_if<AckTelemetry>(&*message)) {
      telemetry_->acknowledge(ack->throughSequence);
    } else if (auto* over = std::get_if<OverQuota>(&*message)) {
      // The coordinator turned windows away, over this host's quota or because its store is behind:
      // they are still in the backlog (never acknowledged); wait, then send again from the oldest
      // unacknowledged.
      if (over->storeBehind) {
        logger_->warn("coordinator: its store is behind and turns telemetry away until it catches "
                      "up (not this host's quota); keeping the windows and sending again in {} ms",
                      over->retryAfterMillis);
      } else {
        logger_->warn("coordinator: telemetry over this host's quota ({} windows dropped so far); "
                      "keeping them and sending again in {} ms",
                      over->droppedWindows, over->retryAfterMillis);
      }
      telemetryPausedUntilSteady_ = clock_.steadyMillis() + std::max<std::uint64_t>(over->retryAfterMillis, 100);
      resendTelemetry_ = true;
    } else if (auto* closed = std::get_if<SessionClosed>(&*message)) {
      logger_->error("coordinator closed this session: {}; is another process using this host's "
                     "key (a cloned host)? connecting again in {} s",
                     closed->reason, kSessionRetakeMillis / 1000);
      welcomed_ = false;
      reconnectSteady_ = clock_.steadyMillis() + kSessionRetakeMillis;
      return;
    }
  }
}

void Agent::onCommand(const Command& command) {
  const char* kind = std::visit(
      [](const auto& body) -> const char* {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, InstallRelease>) return "install";
        if constexpr (std::is_same_v<T, ActivateRelease>) return "activate";
        if constexpr (std::is_same_v<T, RollBackRelease>) return "rollback";
        if constexpr (std::is_same_v<T, CancelCommand>) return "cancel";
        return "restart";
      },
      command.body);
  logger_->info("command {} #{} (epoch {}) for service {}: {}", command.ref.rolloutId,
                command.ref.sequence, command.ref.epoch, command.service, kind);
  if (const auto* cancel = std::get_if<CancelCommand>(&command.body)) {
    CommandResult result;
    result.command = command.ref;
    result.service = command.service;
    result.outcome = worker_->cancel(cancel->target) ? Outcome::kSucceeded : Outcome::kFailed;
    result.message = result.outcome == Outcome::kSucceeded ? "cancel requested"
                                                            : "no such command in flight";
    sendResult(std::move(result));
    return;
  }
  if (!worker_->declares(command.service)) {
    CommandResult result;
    result.command = command.ref;
    result.service = command.service;
    result.outcome = Outcome::kFailed;
    result.message = "service " + command.service + " is not declared in this agent's config";
    sendResult(std::move(result));
    return;
  }
  worker_->submit(command);
}

void Agent::onWorkerResults() {
  bool finished = false;
  for (auto& result : worker_->takeResults()) {
    if (!result.progress) {
      finished = true;
      logger_->info("command {} #{} for service {}: {} ({}); active release {}",
                    result.command.rolloutId, result.command.sequence, result.service,
                    outcomeName(result.outcome), result.message,
                    result.activeRelease.empty() ? "none" : result.activeRelease);
    }
    sendResult(std::move(result));
  }
  if (finished && welcomed_) sendHeartbeat();  // the registry learns the new release at once
}

void Agent::sendResult(CommandResult result) {
  // Whatever the install said (a health check's body, a unit's log, a path) reaches the operator
  // cut to the wire's limits with a marker, rather than being refused for its size.
  if (std::size_t cut = fitToWire(result); cut > 0 && !result.progress) {
    logger_->warn("command {} #{} for service {}: result cut to the wire's limits ({} field(s))",
                  result.command.rolloutId, result.command.sequence, result.service, cut);
  }
  if (result.progress) {
    if (welcomed_) send(result);  // progress that cannot be sent is simply stale
    return;
  }
  unsentResults_.push_back(std::move(result));
  flushResults();
}

void Agent::flushResults() {
  while (welcomed_ && !unsentResults_.empty()) {
    if (!send(unsentResults_.front())) return;
    unsentResults_.pop_front();
  }
}

void Agent::onBroadcastReadable() {
  for (int i = 0; i < 64; ++i) {
    zmq::message_t frame;
    if (!subscriber_->recv(frame, zmq::recv_flags::dontwait)) return;
    auto message = decodeBroadcast(bytesOf(frame));
    if (!message) {
      ++droppedMalformed_;
      logger_->warn("dropped broadcast: {}", message.error().message);
      continue;
    }
    if (auto* abort = std::get_if<Abort>(&message->body)) {
      onAbort(*abort, /*fromBroadcast=*/true);
    } else if (auto* freeze = std::get_if<Freeze>(&message->body)) {
      setFrozen(true, freeze->reason);
    } else {
      setFrozen(false, "");
    }
  }
}

void Agent::followWindow(std::uint64_t coordinatorWindowMillis) {
  if (coordinatorWindowMillis == 0 || coordinatorWindowMillis == windowMillis_) return;
  std::string disagreement = windowDisagreement(config_, coordinatorWindowMillis);
  if (!disagreement.empty()) logger_->error("{}", disagreement);
  if (windowMillis_ != 0 || coordinatorWindowMillis != initialWindowMillis(config_)) {
    logger_->info("telemetry window: {} ms, the coordinator's", coordinatorWindowMillis);
  }
  windowMillis_ = coordinatorWindowMillis;
  if (telemetry_) telemetry_->setWindowMillis(coordinatorWindowMillis);
}

void Agent::setFrozen(bool frozen, const std::string& reason) {
  // Reaches the agent twice (broadcast, and a Welcome on the agent socket, which is not lossy);
  // logged once.
  // A reason that arrives after the bare flag is still worth a line.
  if (frozen == frozen_ && (!frozen || reason.empty() || reason == frozenReason_)) return;
  frozen_ = frozen;
  frozenReason_ = reason;
  if (frozen) {
    logger_->warn("rollouts frozen fleet-wide{}", reason.empty() ? "" : ": " + reason);
  } else {
    logger_->info("rollouts resumed fleet-wide");
  }
}

void Agent::onAbort(const Abort& abort, bool fromBroadcast) {
  bool first = handledAborts_.insert(abort.abortId).second;
  if (first) {
    std::size_t cancelled = worker_->cancelRollouts(abort.rolloutIds);
    std::string scope = "every rollout";
    if (!abort.rolloutIds.empty()) {
      scope.clear();
      for (const auto& id : abort.rolloutIds) scope += (scope.empty() ? "" : ", ") + id;
    }
    logger_->warn("abort {} ({}) for {}: {} command(s) cancelled{}", abort.abortId,
                  abort.reason.empty() ? "no reason given" : abort.reason, scope, cancelled,
                  fromBroadcast ? " (broadcast)" : "");
  }
  // Acknowledged on the agent socket every time it arrives: the coordinator re-sends until it
  // hears back, and an acknowledgement lost in a reconnect must be given again.
  AckAbort ack;
  ack.abortId = abort.abortId;
  send(ack);
}

void Agent::tick() {
  std::uint64_t now = clock_.steadyMillis();
  if (reconnectSteady_ != 0 && now >= reconnectSteady_) {
    reconnectSteady_ = 0;
    if (auto status = connect(); !status) {
      logger_->error("{}", status.error().message);
      reconnectSteady_ = now + kAuthRetryMillis;
    }
    return;
  }
  if (config_.coordinators.size() > 1 && !welcomed_ && reconnectSteady_ == 0 &&
      unwelcomedSinceSteady_ != 0 && now - unwelcomedSinceSteady_ >= kFailoverMillis) {
    // No coordinator leads at this endpoint (a standby binds no agent endpoint, a dead one
    // answers nothing): try the next one.
    const std::string from = coordinatorEndpoint();
    endpointIndex_ = (endpointIndex_ + 1) % config_.coordinators.size();
    logger_->info("no coordinator leads at {}; trying {}", from, coordinatorEndpoint());
    if (auto status = connect(); !status) logger_->error("{}", status.error().message);
    return;
  }
  if (!welcomed_ && reconnectSteady_ == 0 && lastHelloSteady_ != 0 &&
      now - lastHelloSteady_ >= kHelloRetryMillis) {
    sendHello();
  }
  if (now >= nextTelemetrySteady_) {
    nextTelemetrySteady_ = now + 200;
    collectTelemetry(clock_.nowMillis());
  }
  if (welcomed_ && now >= nextHeartbeatSteady_) {
    nextHeartbeatSteady_ = now + heartbeatMillis_;
    sendHeartbeat();
  }
  if (std::uint64_t interval = watchdogIntervalMillis(); interval > 0 && now >= nextWatchdogSteady_) {
    nextWatchdogSteady_ = now + interval;
    notifyWatchdog();
  }
}

void Agent::collectTelemetry(std::uint64_t nowMillis) {
  telemetry_->tick(activeReleases(), nowMillis);
  flushTelemetry();
}

void Agent::flushTelemetry() {
  // Batches of up to 64 windows, oldest first; what cannot be sent goes on a later turn, and what
  // was sent stays in the backlog until the coordinator acknowledges it.
  if (welcomed_ && clock_.steadyMillis() < telemetryPausedUntilSteady_) return;
  if (welcomed_ && resendTelemetry_) telemetry_->resendAll();
  while (welcomed_) {
    TelemetryReport report;
    report.resent = resendTelemetry_;
    report.windows = telemetry_->unsent(64);
    if (report.windows.empty()) return;
    const std::uint64_t last = report.windows.back().sequence;
    if (!send(report)) return;
    resendTelemetry_ = false;
    telemetry_->markSent(last);
  }
}

}  // namespace rollgate::agent
