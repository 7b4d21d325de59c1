#include "coordinator/coordinator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/codec.h"
#include "common/keys.h"
#include "common/notify.h"

namespace rollgate::coordinator {
namespace {

Bytes bytesOf(const zmq::message_t& frame) {
  return Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size());
}

std::string servicesSummary(const std::vector<ServiceRelease>& services) {
  std::string out;
  for (const auto& s : services) {
    if (!out.empty()) out += ", ";
    out += s.service + "@" + (s.activeRelease.empty() ? "none" : s.activeRelease);
  }
  return out.empty() ? "no services" : out;
}

// Receives all frames of one message; returns false if the socket had nothing.
bool receiveMultipart(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
  frames.clear();
  while (true) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return !frames.empty();
    bool more = frame.more();
    frames.push_back(std::move(frame));
    if (!more) return true;
  }
}

}  // namespace

Coordinator::Coordinator(CoordinatorConfig config, Logger logger, const Clock& clock)
    : config_(std::move(config)),
      logger_(std::move(logger)),
      clock_(clock),
      context_(1),
      agents_(std::make_shared<Allowlist>()),
      admins_(std::make_shared<Allowlist>()),
      registry_(static_cast<std::uint64_t>(config_.hostTimeoutSeconds) * 1000) {}

Coordinator::~Coordinator() {
  agentSocket_.reset();
  adminSocket_.reset();
  broadcastSocket_.reset();
  context_.shutdown();
  zap_.reset();
}

std::uint64_t Coordinator::epoch() const { return store_ ? store_->epoch() : 0; }

void Coordinator::reloadAllowlists() {
  std::vector<std::string> problems;
  agents_->replace(Allowlist::readDirectory(config_.agentsDir, &problems));
  admins_->replace(Allowlist::readDirectory(config_.adminsDir, &problems));
  for (const auto& problem : problems) logger_->warn("allowlist: {}", problem);
}

Status Coordinator::start() {
  auto secret = readKeyFile(config_.keyFile);
  if (!secret) return makeError("coordinator key: " + secret.error().message);
  auto store = Store::open(config_.stateDir);
  if (!store) return store.error();
  store_ = std::move(*store);
  auto telemetry = TelemetryStore::open(store_->database());
  if (!telemetry) return telemetry.error();
  telemetry_ = std::make_unique<TelemetryStore>(std::move(*telemetry));
  auto artifacts = ArtifactStore::open(store_->database(), config_.stateDir);
  if (!artifacts) return artifacts.error();
  artifacts_ = std::move(*artifacts);
  auto aborts = store_->loadAborts();
  if (!aborts) return aborts.error();
  for (auto& abort : *aborts) aborts_.restore(std::move(abort));
  frozen_ = store_->frozen();
  auto hosts = store_->loadHosts();
  if (!hosts) return hosts.error();
  registry_.load(*hosts);
  rollouts_ = std::make_unique<Rollouts>(
      *store_, *telemetry_, *artifacts_, registry_,
      [this](const std::string& host, Command command,
             std::function<void(const CommandResult&)> onResult,
             std::optional<CommandRef> presetRef) {
        return sendCommand(host, std::move(command), std::move(onResult), {}, presetRef);
      },
      clock_, logger_);
  if (auto status = rollouts_->open(); !status) return status;
  reloadAllowlists();
  if (admins_->entries().empty()) {
    logger_->warn("no operator keys in {}: the CLI cannot connect until one is added",
                  config_.adminsDir);
  }

  zap_ = std::make_unique<ZapHandler>(context_, logger_);
  zap_->addDomain(kAgentsDomain, agents_);
  zap_->addDomain(kAdminsDomain, admins_);
  if (auto status = zap_->start(); !status) return status;

  auto bindSocket = [&](std::unique_ptr<zmq::socket_t>& socket, zmq::socket_type type,
                        const std::string& endpoint, const char* domain,
                        std::size_t maxBytes) -> Status {
    try {
      socket = std::make_unique<zmq::socket_t>(context_, type);
      configureCurveServer(*socket, *secret, domain, maxBytes);
      if (type == zmq::socket_type::router) socket->set(zmq::sockopt::router_mandatory, true);
      socket->bind(endpoint);
    } catch (const zmq::error_t& e) {
      return makeError("cannot bind " + endpoint + ": " + e.what());
    }
    return {};
  };
  if (auto s = bindSocket(agentSocket_, zmq::socket_type::router, config_.agentEndpoint,
                          kAgentsDomain, kMaxAgentMessageBytes);
      !s) {
    return s;
  }
  if (auto s = bindSocket(adminSocket_, zmq::socket_type::router, config_.adminEndpoint,
                          kAdminsDomain, kMaxAdminRequestBytes);
      !s) {
    return s;
  }
  if (auto s = bindSocket(broadcastSocket_, zmq::socket_type::pub, config_.broadcastEndpoint,
                          kAgentsDomain, kMaxBroadcastBytes);
      !s) {
    return s;
  }
  logger_->info("serving agents on {}, admin on {}, broadcast on {} (epoch {}, {} known hosts, "
                "{} enrolled keys)",
                config_.agentEndpoint, config_.adminEndpoint, config_.broadcastEndpoint,
                store_->epoch(), hosts->size(), agents_->entries().size());
  return {};
}

void Coordinator::run() {
  notifyReady("serving agents on " + config_.agentEndpoint);
  zmq::pollitem_t items[] = {{agentSocket_->handle(), 0, ZMQ_POLLIN, 0},
                             {adminSocket_->handle(), 0, ZMQ_POLLIN, 0}};
  while (!stop_.load()) {
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) logger_->warn("poll: {}", e.what());
      continue;
    }
    // Bounded batches so neither socket can starve the other or the timers.
    for (int i = 0; i < 256 && (items[0].revents & ZMQ_POLLIN); ++i) {
      onAgentReadable();
      if (!(agentSocket_->get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
    }
    // Batched writes: telemetry at most every 100 ms (or 10,000 windows), and the acknowledgements
    // of this batch in one save per abort, so a flood of reports or acks costs a few commits.
    std::uint64_t steady = clock_.steadyMillis();
    if (telemetry_->pending() >= 10'000 || (telemetry_->pending() > 0 && steady >= nextTelemetryFlushMillis_)) {
      nextTelemetryFlushMillis_ = steady + 100;
      if (auto status = telemetry_->flush(); !status) {
        logger_->error("cannot store telemetry: {}", status.error().message);
      }
    }
    if (telemetry_->pending() == 0) ackTelemetry();
    for (std::uint64_t abortId : unsavedAborts_) {
      if (const AbortState* state = aborts_.find(abortId)) (void)store_->saveAbort(*state);
    }
    unsavedAborts_.clear();
    for (int i = 0; i < 64 && (items[1].revents & ZMQ_POLLIN); ++i) {
      onAdminReadable();
      if (!(adminSocket_->get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
    }
    tick();
  }
  notifyStopping();
  if (auto status = telemetry_->flush(); !status) {
    logger_->error("cannot store telemetry: {}", status.error().message);
  }
  if (telemetry_->pending() == 0) ackTelemetry();
  for (std::uint64_t abortId : unsavedAborts_) {
    if (const AbortState* state = aborts_.find(abortId)) (void)store_->saveAbort(*state);
  }
  for (const auto& host : registry_.list(clock_.nowMillis())) {
    (void)store_->saveLastContact(host.name, host.lastContactMillis);
  }
  logger_->info("stopped (epoch {})", store_->epoch());
}

void Coordinator::logDropped(const std::string& what, const std::string& why) {
  // Log the first drops in full, then one line per thousand so a flood cannot flood the journal.
  ++droppedLogged_;
  if (droppedLogged_ <= 20 || droppedLogged_ % 1000 == 0) {
    logger_->warn("dropped {}: {} ({} dropped so far)", what, why, droppedLogged_);
  }
}

void Coordinator::onAgentReadable() {
  std::vector<zmq::message_t> frames;
  if (!receiveMultipart(*agentSocket_, frames)) return;
  if (frames.size() != 2) {
    ++counters_.droppedMalformed;
    logDropped("agent message", std::to_string(frames.size()) + " frames, expected 1");
    return;
  }
  PeerIdentity peer = peerIdentity(frames[1]);
  if (!agents_->admits(peer.name, peer.publicKey)) {
    ++counters_.droppedUnauthorized;
    logDropped("agent message from '" + peer.name + "'", "key is not enrolled (revoked?)");
    return;
  }
  auto message = decodeAgentMessage(bytesOf(frames[1]));
  if (!message) {
    ++counters_.droppedMalformed;
    logDropped("agent message from host " + peer.name, message.error().message);
    return;
  }
  ++counters_.agentMessages;
  handleAgentMessage(frames[0].to_string(), peer.name, std::move(*message));
}

void Coordinator::handleAgentMessage(const std::string& routingId, const std::string& host,
                                     AgentMessage message) {
  std::uint64_t now = clock_.nowMillis();
  if (auto* hello = std::get_if<Hello>(&message)) {
    bool known = registry_.find(host, now).has_value();
    const HostInfo& info = registry_.onHello(host, *hello, routingId, now);
    if (auto status = store_->saveHost(info); !status) {
      logger_->error("host {}: cannot persist registration: {}", host, status.error().message);
    }
    if (!hello->claimedHost.empty() && hello->claimedHost != host) {
      logger_->warn("host {} says its name is '{}'; recorded under its key's name '{}'", host,
                    hello->claimedHost, host);
    }
    logger_->info("host {} {} (region {}, cluster {}, agent {}, {})", host,
                  known ? "reconnected" : "registered", hello->region, hello->cluster,
                  hello->agentVersion, servicesSummary(hello->services));
    (void)store_->recordEvent(now, known ? "host_reconnected" : "host_registered", host, "",
                              hello->region + "/" + hello->cluster);
    Welcome welcome;
    welcome.host = host;
    welcome.epoch = store_->epoch();
    welcome.heartbeatMillis = static_cast<std::uint32_t>(config_.heartbeatSeconds * 1000);
    welcome.windowMillis = static_cast<std::uint32_t>(config_.windowSeconds * 1000);
    welcome.frozen = frozen_.has_value();
    sendToAgent(routingId, welcome);
    // Whatever this host has not acknowledged is handed over again: aborts first, then commands.
    for (std::uint64_t abortId : aborts_.unacknowledgedBy(host)) sendAbort(abortId, host);
    rollouts_->onHostHealth(host, true);
    for (const auto& [key, pending] : pendingCommands_) {
      if (pending.host == host) sendToAgent(routingId, pending.command);
    }
    return;
  }
  if (auto* chunk = std::get_if<RequestChunk>(&message)) {
    // Artifact transfers run on their own connection; the key alone authorizes them.
    onChunkRequest(routingId, host, *chunk);
    return;
  }
  const std::vector<ServiceRelease>* services = nullptr;
  if (auto* heartbeat = std::get_if<Heartbeat>(&message)) services = &heartbeat->services;
  auto before = registry_.find(host, now);
  bool wasHealthy = before && before->healthy;
  if (!registry_.onContact(host, routingId, now, services)) {
    ++counters_.droppedNoSession;
    logger_->debug("host {}: message before hello on this connection; ignored", host);
    return;
  }
  if (!wasHealthy) {
    logger_->info("host {} is reporting again", host);
    rollouts_->onHostHealth(host, true);
  }
  if (auto* report = std::get_if<TelemetryReport>(&message)) {
    onTelemetry(host, std::move(*report));
  } else if (auto* result = std::get_if<CommandResult>(&message)) {
    onCommandResult(host, *result);
  } else if (auto* ack = std::get_if<AckAbort>(&message)) {
    onAckAbort(host, *ack);
  }
}

namespace {
std::string pendingKey(const std::string& host, const CommandRef& ref) {
  return host + "/" + std::to_string(ref.epoch) + "/" + std::to_string(ref.sequence);
}
}  // namespace

Result<CommandRef> Coordinator::sendCommand(const std::string& host, Command command,
                                            ResultCallback onResult, ResultCallback onProgress,
                                            std::optional<CommandRef> presetRef) {
  if (!registry_.find(host, clock_.nowMillis())) return makeError("no host named " + host);
  if (presetRef) {
    command.ref = *presetRef;
  } else {
    command.ref.epoch = store_->epoch();
    command.ref.sequence = ++nextSequence_[host];
  }
  if (auto routingId = registry_.routingIdOf(host)) {
    sendToAgent(*routingId, command);
  } else {
    logger_->warn("host {} is not connected: command {} #{} is sent when it says hello", host,
                  command.ref.rolloutId, command.ref.sequence);
  }
  CommandRef ref = command.ref;
  pendingCommands_[pendingKey(host, ref)] =
      PendingCommand{host, std::move(command), std::move(onResult), std::move(onProgress)};
  return ref;
}

void Coordinator::onCommandResult(const std::string& host, const CommandResult& result) {
  auto it = pendingCommands_.find(pendingKey(host, result.command));
  if (result.progress) {
    if (it != pendingCommands_.end() && it->second.onProgress) it->second.onProgress(result);
    return;
  }
  logger_->info("host {}: command {} #{} for service {}: {} ({}); active release {}", host,
                result.command.rolloutId, result.command.sequence, result.service,
                outcomeName(result.outcome), result.message,
                result.activeRelease.empty() ? "none" : result.activeRelease);
  (void)store_->recordEvent(clock_.nowMillis(), "command_result", host, result.command.rolloutId,
                            std::string(outcomeName(result.outcome)) + ": " + result.message);
  if (it == pendingCommands_.end()) return;  // e.g. an interrupted command reported after a restart
  PendingCommand pending = std::move(it->second);
  pendingCommands_.erase(it);
  if (pending.onResult) pending.onResult(result);
}

void Coordinator::onChunkRequest(const std::string& routingId, const std::string& host,
                                 const RequestChunk& request) {
  ArtifactChunk chunk;
  chunk.sha256 = request.sha256;
  chunk.offset = request.offset;
  auto size = artifacts_->sizeOf(request.sha256);
  if (!size) {
    chunk.error = size.error().message;
  } else {
    chunk.totalBytes = *size;
    if (request.offset < *size) {
      auto data = artifacts_->readChunk(request.sha256, request.offset, request.length);
      if (data) {
        chunk.data = std::move(*data);
      } else {
        chunk.error = data.error().message;
      }
    } else if (request.offset > *size) {
      chunk.error = "offset " + std::to_string(request.offset) + " is past the end (" +
                    std::to_string(*size) + " bytes)";
    }
  }
  if (!chunk.error.empty()) {
    logger_->warn("host {}: artifact chunk request refused: {}", host, chunk.error);
  }
  sendToAgent(routingId, chunk);
}

void Coordinator::onTelemetry(const std::string& host, TelemetryReport report) {
  auto info = registry_.find(host, clock_.nowMillis());
  for (auto& window : report.windows) {
    // Telemetry acknowledgement: see ackTelemetry().
    std::uint64_t& through = telemetryThrough_[host];
    if (window.sequence != 0) telemetryToAck_.insert(host);
    if (window.sequence != 0 && window.sequence <= through) continue;  // re-sent, already queued
    through = std::max(through, window.sequence);
    bool declared = info && std::any_of(info->services.begin(), info->services.end(),
                                        [&](const ServiceRelease& s) {
                                          return s.service == window.service;
                                        });
    if (!declared) {
      ++counters_.droppedWindows;
      logDropped("telemetry window from host " + host,
                 "service '" + window.service + "' is not declared by that host");
      continue;
    }
    if (window.droppedBefore > 0) {
      logger_->warn("host {} service {}: agent dropped {} windows before this one (backlog full "
                    "while disconnected)",
                    host, window.service, window.droppedBefore);
    }
    ++counters_.telemetryWindows;
    rollouts_->onTelemetry(host, window);
    telemetry_->add(host, std::move(window));
  }
}

// Telemetry acknowledgement. Windows carry the agent's backlog sequence; once every queued window
// is committed, each host that sent some hears the highest sequence stored, and its agent forgets
// those windows (until then it keeps them across restarts). An agent sends in sequence order
// within a session and restarts from its oldest unacknowledged window, so a window at or below
// the highest queued is a re-send and is skipped. In memory only: after a coordinator restart a
// window stored but not yet acknowledged is stored again.
void Coordinator::ackTelemetry() {
  for (const auto& host : telemetryToAck_) {
    if (auto routingId = registry_.routingIdOf(host)) {
      sendToAgent(*routingId, AckTelemetry{telemetryThrough_[host]});
    }
  }
  telemetryToAck_.clear();
}

void Coordinator::sendToAgent(const std::string& routingId, const CoordinatorMessage& message) {
  std::string payload = encode(message);
  try {
    agentSocket_->send(zmq::buffer(routingId), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    agentSocket_->send(zmq::buffer(payload), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    logger_->warn("cannot send to agent connection: {}", e.what());
  }
}

void Coordinator::onAdminReadable() {
  std::vector<zmq::message_t> frames;
  if (!receiveMultipart(*adminSocket_, frames)) return;
  if (frames.size() != 2) {
    ++counters_.droppedMalformed;
    logDropped("admin request", std::to_string(frames.size()) + " frames, expected 1");
    return;
  }
  PeerIdentity peer = peerIdentity(frames[1]);
  if (!admins_->admits(peer.name, peer.publicKey)) {
    ++counters_.droppedUnauthorized;
    logDropped("admin request from '" + peer.name + "'", "operator key is not in the allowlist");
    return;
  }
  ++counters_.adminRequests;
  DeferredReply to{frames[0].to_string(), 0};
  auto request = decodeAdminRequest(bytesOf(frames[1]));
  if (!request) {
    ++counters_.droppedMalformed;
    AdminReply reply;
    reply.body = AdminError{"malformed request: " + request.error().message};
    sendAdminReply(to, std::move(reply));
    return;
  }
  to.requestId = request->requestId;
  if (auto reply = handleAdminRequest(peer.name, to.routingId, *request)) {
    sendAdminReply(to, std::move(*reply));
  }
}

void Coordinator::sendAdminReply(const DeferredReply& to, AdminReply reply) {
  reply.requestId = to.requestId;
  std::string payload = encode(reply);
  try {
    adminSocket_->send(zmq::buffer(to.routingId), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    adminSocket_->send(zmq::buffer(payload), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    logger_->warn("cannot send an admin reply: {}", e.what());
  }
}

std::optional<AdminReply> Coordinator::handleAdminRequest(const std::string& operatorName,
                                                          const std::string& routingId,
                                                          const AdminRequest& request) {
  AdminReply reply;
  if (std::holds_alternative<ListHosts>(request.body)) {
    reply.body = HostList{registry_.list(clock_.nowMillis())};
  } else if (const auto* enrollHost = std::get_if<EnrollHost>(&request.body)) {
    reply = enroll(operatorName, *enrollHost);
  } else if (const auto* revokeHost = std::get_if<RevokeHost>(&request.body)) {
    reply = revoke(operatorName, *revokeHost);
  } else if (const auto* query = std::get_if<QueryTelemetry>(&request.body)) {
    reply = queryTelemetry(*query);
  } else if (const auto* piece = std::get_if<PushArtifact>(&request.body)) {
    auto stored = artifacts_->receive(*piece, operatorName, clock_.nowMillis());
    if (stored) {
      if (piece->final) {
        logger_->info("operator {}: {}", operatorName, *stored);
        (void)store_->recordEvent(clock_.nowMillis(), "artifact_pushed", "", "",
                                  *stored + " by " + operatorName);
      }
      reply.body = AdminOk{*stored};
    } else {
      reply.body = AdminError{stored.error().message};
    }
  } else if (const auto* manual = std::get_if<ManualCommand>(&request.body)) {
    return manualCommand(operatorName, DeferredReply{routingId, request.requestId}, *manual);
  } else if (const auto* releases = std::get_if<ListReleases>(&request.body)) {
    reply = listReleases(*releases);
  } else if (const auto* abort = std::get_if<AbortRequest>(&request.body)) {
    return startAbort(operatorName, DeferredReply{routingId, request.requestId}, *abort);
  } else if (const auto* freezeRequest = std::get_if<FreezeRequest>(&request.body)) {
    reply = freeze(operatorName, *freezeRequest);
  } else if (const auto* start = std::get_if<StartRollout>(&request.body)) {
    if (frozen_) {
      reply.body = AdminError{"rollouts are frozen fleet-wide (" + *frozen_ +
                              "); rollgate unfreeze lifts it"};
    } else if (auto summary = rollouts_->start(*start, operatorName)) {
      reply.body = JsonDocument{"{\"rollout\": " + *summary + "}"};
    } else {
      reply.body = AdminError{summary.error().message};
    }
  } else if (std::holds_alternative<ListRollouts>(request.body)) {
    auto list = rollouts_->listJson();
    if (list) {
      reply.body = JsonDocument{*list};
    } else {
      reply.body = AdminError{list.error().message};
    }
  } else if (const auto* describe = std::get_if<DescribeRollout>(&request.body)) {
    auto doc = rollouts_->describeJson(describe->rolloutId);
    if (doc) {
      reply.body = JsonDocument{*doc};
    } else {
      reply.body = AdminError{doc.error().message};
    }
  } else if (const auto* action = std::get_if<RolloutAction>(&request.body)) {
    auto done = rollouts_->act(*action, operatorName);
    if (done) {
      reply.body = AdminOk{*done};
    } else {
      reply.body = AdminError{done.error().message};
    }
  } else {
    reply.body = AdminError{"this coordinator does not implement that request yet"};
  }
  return reply;
}

AdminReply Coordinator::enroll(const std::string& operatorName, const EnrollHost& request) {
  AdminReply reply;
  if (!isValidZ85Key(request.publicKey)) {
    reply.body = AdminError{"public key for host " + request.name +
                            " is not a 40-character Z85 CURVE key"};
    return reply;
  }
  if (auto existing = agents_->keyForName(request.name)) {
    if (*existing == request.publicKey) {
      reply.body = AdminOk{"host " + request.name + " is already enrolled with this key"};
    } else {
      reply.body = AdminError{"host " + request.name +
                              " is already enrolled with a different key; revoke it first"};
    }
    return reply;
  }
  if (auto owner = agents_->nameForKey(request.publicKey)) {
    reply.body = AdminError{"this key is already enrolled as host " + *owner};
    return reply;
  }
  ::mkdir(config_.agentsDir.c_str(), 0755);
  std::string path = config_.agentsDir + "/" + request.name + ".pub";
  if (auto status = writeKeyFile(path, request.publicKey, 0644); !status) {
    reply.body = AdminError{status.error().message};
    return reply;
  }
  agents_->set(request.name, request.publicKey);
  logger_->info("operator {} enrolled host {}", operatorName, request.name);
  (void)store_->recordEvent(clock_.nowMillis(), "host_enrolled", request.name, "",
                            "by operator " + operatorName);
  reply.body = AdminOk{"enrolled host " + request.name};
  return reply;
}

AdminReply Coordinator::revoke(const std::string& operatorName, const RevokeHost& request) {
  AdminReply reply;
  if (!agents_->keyForName(request.name)) {
    reply.body = AdminError{"no enrolled host named " + request.name};
    return reply;
  }
  std::string path = config_.agentsDir + "/" + request.name + ".pub";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    reply.body = AdminError{"cannot remove " + path + ": " + std::strerror(errno)};
    return reply;
  }
  agents_->remove(request.name);
  registry_.remove(request.name);
  (void)store_->deleteHost(request.name);
  logger_->info("operator {} revoked host {}; its messages are ignored from now on", operatorName,
                request.name);
  (void)store_->recordEvent(clock_.nowMillis(), "host_revoked", request.name, "",
                            "by operator " + operatorName);
  reply.body = AdminOk{"revoked host " + request.name};
  return reply;
}

std::optional<AdminReply> Coordinator::manualCommand(const std::string& operatorName,
                                                     const DeferredReply& replyTo,
                                                     const ManualCommand& request) {
  AdminReply reply;
  auto host = registry_.find(request.host, clock_.nowMillis());
  if (!host) {
    reply.body = AdminError{"no host named " + request.host};
    return reply;
  }
  bool declared = std::any_of(host->services.begin(), host->services.end(),
                              [&](const ServiceRelease& s) { return s.service == request.service; });
  if (!declared) {
    reply.body = AdminError{"host " + request.host + " does not declare service " + request.service};
    return reply;
  }
  if (!registry_.routingIdOf(request.host) || !host->connected) {
    reply.body = AdminError{"host " + request.host + " is not connected"};
    return reply;
  }
  Command command;
  command.service = request.service;
  command.ref.rolloutId = "manual-" + std::to_string(store_->epoch()) + "-" +
                          std::to_string(++manualCommands_);
  std::string what;
  if (request.kind == ManualCommand::Kind::kInstall) {
    auto artifact = artifacts_->find(request.service, request.version);
    if (!artifact) {
      reply.body = AdminError{"no artifact for " + request.service + " " + request.version +
                              " (push it first: rollgate artifact push FILE --service " +
                              request.service + " --version " + request.version + ")"};
      return reply;
    }
    command.body = InstallRelease{artifact->version, artifact->sha256, artifact->sizeBytes,
                                  "coordinator", artifact->signature, true};
    what = "install " + request.service + " " + request.version;
  } else {
    command.body = RollBackRelease{request.version, true};
    what = "roll back " + request.service +
           (request.version.empty() ? " to the previous release" : " to " + request.version);
  }
  auto onProgress = [this, replyTo](const CommandResult& progress) {
    AdminReply interim;
    interim.final = false;
    interim.body = progress;
    sendAdminReply(replyTo, std::move(interim));
  };
  auto onResult = [this, replyTo](const CommandResult& result) {
    AdminReply done;
    done.body = result;
    sendAdminReply(replyTo, std::move(done));
  };
  auto sent = sendCommand(request.host, command, onResult, onProgress);
  if (!sent) {
    reply.body = AdminError{sent.error().message};
    return reply;
  }
  logger_->info("operator {}: {} on host {} (command {} #{})", operatorName, what, request.host,
                sent->rolloutId, sent->sequence);
  (void)store_->recordEvent(clock_.nowMillis(), "manual_command", request.host, sent->rolloutId,
                            what + " by " + operatorName);
  return std::nullopt;
}

std::optional<AdminReply> Coordinator::startAbort(const std::string& operatorName,
                                                  const DeferredReply& replyTo,
                                                  const AbortRequest& request) {
  AdminReply reply;
  std::uint64_t now = clock_.nowMillis();
  std::vector<std::string> rolloutIds;
  std::set<std::string> targets;
  std::map<std::string, std::vector<ServiceRelease>> rollBack;
  if (!request.all && !rollouts_->exists(request.rolloutId)) {
    reply.body = AdminError{"no rollout " + request.rolloutId};
    return reply;
  }
  if (!request.all) rolloutIds.push_back(request.rolloutId);
  // The rollouts stop and switch back what they changed (rollback commands, re-sent until done).
  rollBack = rollouts_->abort(rolloutIds, operatorName, request.reason);
  for (const auto& [host, services] : rollBack) targets.insert(host);
  if (request.all) {
    // Every host is told: whatever is in flight anywhere stops.
    for (const auto& host : registry_.list(now)) targets.insert(host.name);
  }
  std::uint64_t abortId = std::max<std::uint64_t>(aborts_.nextId(), now);
  const AbortState& state = aborts_.open(abortId, rolloutIds, request.reason, operatorName,
                                         std::move(rollBack), std::move(targets), now);
  // Durable before anything is sent.
  if (auto status = store_->saveAbort(state); !status) {
    reply.body = AdminError{"cannot record the abort: " + status.error().message};
    return reply;
  }
  logger_->warn("operator {}: ABORT {} of {} ({}): {} hosts to acknowledge", operatorName, abortId,
                request.all ? "every rollout" : request.rolloutId,
                request.reason.empty() ? "no reason given" : request.reason, state.targets.size());
  (void)store_->recordEvent(now, "abort", "", request.rolloutId,
                            "abort " + std::to_string(abortId) + " by " + operatorName + ": " +
                                request.reason);
  Broadcast fast;
  fast.body = state.abort;
  broadcast(std::move(fast));
  for (const auto& host : state.targets) sendAbort(abortId, host);
  abortWaiters_[abortId] = AbortWaiter{replyTo, clock_.steadyMillis() + kAbortWaitMillis};
  if (aborts_.complete(abortId)) finishAbortWait(abortId);
  return std::nullopt;
}

void Coordinator::sendAbort(std::uint64_t abortId, const std::string& host) {
  const AbortState* state = aborts_.find(abortId);
  auto routingId = registry_.routingIdOf(host);
  if (state == nullptr || !routingId) return;  // handed over when the host says hello
  aborts_.markSent(abortId, host, clock_.nowMillis());
  sendToAgent(*routingId, aborts_.messageFor(*state, host));
}

void Coordinator::onAckAbort(const std::string& host, const AckAbort& ack) {
  if (!aborts_.acknowledge(ack.abortId, host, clock_.nowMillis())) return;
  unsavedAborts_.insert(ack.abortId);  // saved once for the whole batch (see run())
  if (abortWaiters_.count(ack.abortId) && aborts_.complete(ack.abortId)) finishAbortWait(ack.abortId);
}

void Coordinator::finishAbortWait(std::uint64_t abortId) {
  auto waiter = abortWaiters_.find(abortId);
  const AbortState* state = aborts_.find(abortId);
  if (waiter == abortWaiters_.end() || state == nullptr) return;
  std::vector<std::uint64_t> latencies;
  for (const auto& [host, at] : state->ackedAtMillis) latencies.push_back(at - state->createdMillis);
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double q) -> std::uint64_t {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * (latencies.size() - 1) + 0.5))];
  };
  nlohmann::json json = {{"abort_id", abortId},
                         {"reason", state->abort.reason},
                         {"rollouts", state->abort.rolloutIds},
                         {"targets", state->targets.size()},
                         {"acknowledged", state->ackedAtMillis.size()},
                         {"missing", aborts_.missing(abortId)},
                         {"elapsed_ms", clock_.nowMillis() - state->createdMillis},
                         {"ack_ms", {{"p50", percentile(0.5)},
                                     {"p99", percentile(0.99)},
                                     {"max", latencies.empty() ? 0 : latencies.back()}}}};
  AdminReply reply;
  reply.body = JsonDocument{json.dump()};
  sendAdminReply(waiter->second.replyTo, std::move(reply));
  abortWaiters_.erase(waiter);
  logger_->warn("abort {}: {} of {} hosts acknowledged{}", abortId, state->ackedAtMillis.size(),
                state->targets.size(),
                aborts_.complete(abortId) ? "" : "; the rest get it when they come back");
}

AdminReply Coordinator::freeze(const std::string& operatorName, const FreezeRequest& request) {
  AdminReply reply;
  std::optional<std::string> reason;
  if (request.frozen) {
    reason = request.reason.empty() ? "frozen by " + operatorName : request.reason + " (" + operatorName + ")";
  }
  if (auto status = store_->setFrozen(reason); !status) {
    reply.body = AdminError{status.error().message};
    return reply;
  }
  frozen_ = reason;
  Broadcast message;
  if (reason) {
    message.body = Freeze{*reason};
  } else {
    message.body = Resume{};
  }
  broadcast(std::move(message));
  // The broadcast is lossy; every connected agent is also told on its own connection.
  for (const auto& host : registry_.list(clock_.nowMillis())) {
    auto routingId = registry_.routingIdOf(host.name);
    if (!routingId) continue;
    Welcome welcome;
    welcome.host = host.name;
    welcome.epoch = store_->epoch();
    welcome.heartbeatMillis = static_cast<std::uint32_t>(config_.heartbeatSeconds * 1000);
    welcome.windowMillis = static_cast<std::uint32_t>(config_.windowSeconds * 1000);
    welcome.frozen = reason.has_value();
    sendToAgent(*routingId, welcome);
  }
  logger_->warn("operator {}: rollouts {} fleet-wide{}", operatorName,
                reason ? "FROZEN" : "unfrozen", reason ? ": " + *reason : "");
  (void)store_->recordEvent(clock_.nowMillis(), reason ? "freeze" : "unfreeze", "", "",
                            reason.value_or("by " + operatorName));
  reply.body = AdminOk{reason ? "new rollouts are blocked fleet-wide: " + *reason
                              : "new rollouts are allowed again"};
  return reply;
}

void Coordinator::broadcast(Broadcast message) {
  message.broadcastId = ++nextBroadcastId_;
  std::string payload = encode(message);
  try {
    broadcastSocket_->send(zmq::buffer(payload), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    logger_->warn("broadcast failed: {}", e.what());
  }
}

AdminReply Coordinator::listReleases(const ListReleases& request) {
  AdminReply reply;
  auto host = registry_.find(request.host, clock_.nowMillis());
  if (!host) {
    reply.body = AdminError{"no host named " + request.host};
  } else {
    reply.body = HostList{{*host}};
  }
  return reply;
}

AdminReply Coordinator::queryTelemetry(const QueryTelemetry& request) {
  AdminReply reply;
  if (!registry_.find(request.host, clock_.nowMillis())) {
    reply.body = AdminError{"no host named " + request.host};
    return reply;
  }
  if (auto status = telemetry_->flush(); !status) {
    reply.body = AdminError{"cannot store telemetry: " + status.error().message};
    return reply;
  }
  auto windows = telemetry_->latest(request.host, request.service,
                                    std::min<std::uint32_t>(request.last == 0 ? 10 : request.last, 10000));
  if (!windows) {
    reply.body = AdminError{windows.error().message};
    return reply;
  }
  reply.body = WindowList{std::move(*windows)};
  return reply;
}

void Coordinator::tick() {
  std::uint64_t now = clock_.steadyMillis();
  if (now < nextTickMillis_) return;
  nextTickMillis_ = now + 250;
  std::uint64_t wall = clock_.nowMillis();
  for (const auto& host : registry_.expire(wall)) {
    logger_->warn("host {} silent for more than {} s: unhealthy", host, config_.hostTimeoutSeconds);
    (void)store_->recordEvent(wall, "host_silent", host, "", "no contact within timeout");
    rollouts_->onHostHealth(host, false);
  }
  rollouts_->tick();
  if (now >= nextFlushMillis_) {
    nextFlushMillis_ = now + 5000;
    Transaction transaction(store_->database());
    for (const auto& host : registry_.list(wall)) {
      if (host.connected) (void)store_->saveLastContact(host.name, host.lastContactMillis);
    }
    if (auto status = transaction.commit(); !status) {
      logger_->error("cannot persist last contact times: {}", status.error().message);
    }
  }
  if (now >= nextPruneMillis_) {
    nextPruneMillis_ = now + 60'000;
    std::uint64_t retention = static_cast<std::uint64_t>(config_.telemetryRetentionHours) * 3600'000;
    if (wall > retention) {
      auto pruned = telemetry_->prune(wall - retention);
      if (pruned && *pruned > 0) logger_->info("pruned {} telemetry windows older than {} h", *pruned,
                                               config_.telemetryRetentionHours);
    }
  }
  for (const auto& [abortId, host] : aborts_.dueResends(wall)) {
    if (registry_.routingIdOf(host)) {
      const AbortState* state = aborts_.find(abortId);
      sendToAgent(*registry_.routingIdOf(host), aborts_.messageFor(*state, host));
    }
  }
  for (auto it = abortWaiters_.begin(); it != abortWaiters_.end();) {
    auto current = it++;
    if (now >= current->second.deadlineMillis) finishAbortWait(current->first);
  }
  if (now >= nextReloadMillis_) {
    nextReloadMillis_ = now + 5000;
    reloadAllowlists();
  }
  if (std::uint64_t interval = watchdogIntervalMillis(); interval > 0 && now >= nextWatchdogMillis_) {
    nextWatchdogMillis_ = now + interval;
    notifyWatchdog();
  }
}

}  // namespace rollgate::coordinator
