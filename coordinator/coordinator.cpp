#include "coordinator/coordinator.h"

#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/codec.h"
#include "common/frame_bytes.h"
#include "common/keys.h"
#include "common/notify.h"
#include "common/sys/error.h"
#include "common/sys/private_files.h"
#include "common/text_fit.h"
#include "common/wire_fit.h"
#include "coordinator/store/postgres_store.h"
#include "coordinator/store/sqlite_store.h"

namespace rollgate::coordinator {
namespace {

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

// Sends [routing id, payload] on a ROUTER (ROUTER_MANDATORY) without blocking. Returns false when
// the peer's queue is full (EAGAIN: nothing was queued) or the peer is gone; senders re-send what
// must arrive. Only errors other than those are logged, so a peer that does not read cannot flood
// the log.
bool sendRouted(zmq::socket_t& socket, const std::string& routingId, const std::string& payload,
                const Logger& logger, const char* what) {
  try {
    if (!socket.send(zmq::buffer(routingId), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    return socket.send(zmq::buffer(payload), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) logger->warn("cannot send {}: {}", what, e.what());
    return false;
  }
}

QuotaLimits quotaLimitsOf(const LimitsConfig& limits) {
  return QuotaLimits{static_cast<double>(limits.telemetryWindowsPerSecond),
                     static_cast<double>(limits.telemetryBytesPerSecond),
                     static_cast<double>(limits.messagesPerSecond),
                     static_cast<double>(limits.burstSeconds)};
}

// Control messages on a session connection (welcome, commands, acknowledgements) beside the
// artifact chunks the credit allows.
constexpr int kControlReplyHeadroom = 8;
// Agent messages waiting in ZeroMQ per connection before it stops reading that connection
// (kMaxAgentMessageBytes each at most).
constexpr int kAgentIntakeMessages = 16;
// Connections the kernel queues while the coordinator's I/O thread accepts them (capped by
// net.core.somaxconn, 4096 by default since Linux 5.4).
constexpr int kAgentConnectBacklog = 4096;

}  // namespace

Coordinator::Coordinator(CoordinatorConfig config, Logger logger, const Clock& clock)
    : config_(std::move(config)),
      logger_(std::move(logger)),
      clock_(clock),
      context_(1),
      agents_(std::make_shared<Allowlist>()),
      admins_(std::make_shared<Allowlist>()),
      registry_(static_cast<std::uint64_t>(config_.hostTimeoutSeconds) * 1000),
      quotas_(quotaLimitsOf(config_.limits)) {
  registry_.showDrops(&quotas_);
}

Coordinator::~Coordinator() {
  console_.reset();
  if (metrics_) metrics_->stop();
  if (notifier_) notifier_->stop();
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

void Coordinator::syncEnrollments() {
  auto records = store_->loadEnrollments();
  if (!records) {
    logger_->error("cannot read the enrollments kept in the store; {} is used as it is: {}",
                   config_.agentsDir, records.error().message);
    return;
  }
  ::mkdir(config_.agentsDir.c_str(), 0755);
  std::vector<std::string> problems;
  const auto local = Allowlist::readDirectory(config_.agentsDir, &problems);
  std::set<std::string> recorded;
  for (const auto& record : *records) {
    recorded.insert(record.name);
    const std::string path = config_.agentsDir + "/" + record.name + ".pub";
    auto found = local.find(record.name);
    const bool same = found != local.end() && found->second == record.publicKey;
    if (record.revoked) {
      if (!same) continue;
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        logger_->error(
            "host {} was revoked by {} on another coordinator, but {} cannot be "
            "removed: {}; its key is still allowed here",
            record.name, record.by, path, sys::errnoMessage(errno));
        continue;
      }
      logger_->info("host {} was revoked by {} on another coordinator: removed {}", record.name,
                    record.by, path);
      continue;
    }
    if (same) continue;
    if (found != local.end()) {
      logger_->warn(
          "host {}: {} holds another key than the one {} enrolled; the enrolled one "
          "replaces it",
          record.name, path, record.by);
    }
    if (auto status = writeKeyFile(path, record.publicKey, 0644); !status) {
      logger_->error(
          "host {} was enrolled by {} on another coordinator, but its key cannot be "
          "written here: {}",
          record.name, record.by, status.error().message);
      continue;
    }
    logger_->info("host {} was enrolled by {} on another coordinator: wrote {}", record.name,
                  record.by, path);
  }
  // Keys only this coordinator has (placed by hand, or from before the move to PostgreSQL) are
  // kept for the others. A name with a record, even a revoked one, is not offered again.
  std::vector<EnrollmentRecord> onlyHere;
  for (const auto& [name, key] : local) {
    if (!recorded.count(name)) {
      onlyHere.push_back(EnrollmentRecord{name, key, false, clock_.nowMillis(), "agents_dir"});
    }
  }
  if (onlyHere.empty()) return;
  if (auto status = store_->saveEnrollments(onlyHere); !status) {
    logger_->error("the {} keys only {} holds cannot be kept for the other coordinators: {}",
                   onlyHere.size(), config_.agentsDir, status.error().message);
    return;
  }
  logger_->info("kept {} keys found only in {} for the other coordinators", onlyHere.size(),
                config_.agentsDir);
}

Status Coordinator::start() {
  // Artifact chunks and agent messages are up to a few MiB each: served from mmap (a fixed
  // threshold, not glibc's sliding one) so their memory goes back to the system once a
  // connection's queue is freed.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  auto secret = readSecretKeyFile(config_.keyFile);
  if (!secret) return makeError("coordinator key: " + secret.error().message);
  std::unique_ptr<Store> backend;
  if (lease_ != nullptr) {
    auto opened = PostgresStore::open(config_.storeUrl, lease_->epoch(), lease_->holder());
    if (!opened) return opened.error();
    (*opened)->setLeaseCheck(
        [lease = lease_, &clock = clock_] { return lease->valid(clock.steadyMillis()); });
    if (auto status = sys::createPrivateDir(config_.stateDir); !status) {
      return makeError("state directory: " + status.error().message);
    }
    backend = std::move(*opened);
  } else {
    auto opened = SqliteStore::open(config_.stateDir);
    if (!opened) return opened.error();
    backend = std::move(*opened);
  }
  auto recording = std::make_unique<RecordingStore>(std::move(backend));
  recording_ = recording.get();
  store_ = std::move(recording);
  if (!config_.notify.webhooks.empty()) {
    notifier_ = std::make_unique<notify::Notifier>(config_.notify, clock_, logger_);
    recording_->onDecision([this](notify::Notification n) { notifier_->notify(std::move(n)); });
    logger_->info("notifications: {} webhooks", config_.notify.webhooks.size());
  }
  if (!config_.metricsListen.empty()) {
    auto metrics = metrics::MetricsServer::start(config_.metricsListen, logger_);
    if (!metrics) return metrics.error();
    metrics_ = std::move(*metrics);
    logger_->info("serving /metrics on {} (port {})", config_.metricsListen, metrics_->port());
  }
  // Telemetry is written by an ingest thread on a connection of its own (see TelemetryStore).
  auto ingest = store_->openIngestConnection();
  if (!ingest) return makeError("telemetry ingest connection: " + ingest.error().message);
  telemetry_ = std::make_unique<TelemetryStore>(*store_, std::move(*ingest), logger_);
  auto artifacts = ArtifactStore::open(*store_, config_.stateDir);
  if (!artifacts) return artifacts.error();
  artifacts_ = std::move(*artifacts);
  auto hosts = store_->loadHosts();
  if (!hosts) return hosts.error();
  registry_.load(*hosts);
  Outbox& outbox = *this;
  commands_ = std::make_unique<CommandDispatcher>(registry_, *store_, outbox, clock_, logger_);
  rollouts_ = std::make_unique<Rollouts>(*store_, *telemetry_, *artifacts_, registry_, *commands_,
                                         clock_, logger_,
                                         static_cast<std::uint64_t>(config_.windowSeconds));
  if (!config_.prometheusUrl.empty()) {
    auto prometheus = PrometheusChecks::start(
        PrometheusOptions{config_.prometheusUrl,
                          static_cast<std::uint64_t>(config_.prometheusTimeoutMillis)},
        registry_, logger_);
    if (!prometheus) return makeError("Prometheus: " + prometheus.error().message);
    prometheus_ = std::move(*prometheus);
    rollouts_->usePrometheus(prometheus_.get());
    logger_->info("Prometheus checks query {}", config_.prometheusUrl);
  }
  aborts_ = std::make_unique<AbortCoordinator>(*store_, registry_, *rollouts_, outbox, clock_,
                                               logger_);
  if (auto status = aborts_->restore(); !status) return status;
  reverts_ = std::make_unique<Reverts>(*store_, registry_, *artifacts_, *rollouts_, *commands_,
                                       clock_, logger_);
  admin_ = std::make_unique<AdminApi>(AdminApiParts{config_, *store_, registry_, *agents_,
                                                    *telemetry_, *artifacts_, *rollouts_,
                                                    *commands_, *aborts_, *reverts_, outbox,
                                                    clock_, logger_});
  if (auto status = admin_->restore(); !status) return status;
  backtests_ = std::make_unique<Backtests>(
      BacktestSettings{config_.stateDir, config_.storeUrl,
                       static_cast<std::uint64_t>(config_.backtestMaxBytes),
                       static_cast<std::uint64_t>(config_.backtestGoodAfterHours) * 3'600'000,
                       static_cast<std::uint64_t>(config_.windowSeconds)},
      outbox, clock_, logger_);
  admin_->useBacktests(backtests_.get());
  rollouts_->keepJournals(static_cast<std::uint64_t>(config_.backtestMaxBytes));
  rollouts_->labelGoodAfter(static_cast<std::uint64_t>(config_.backtestGoodAfterHours) * 3'600'000);
  if (auto status = rollouts_->open(); !status) return status;
  if (auto status = reverts_->open(); !status) return status;
  trains_ = std::make_unique<Trains>(*store_, *rollouts_, clock_, logger_);
  admin_->useTrains(trains_.get());
  if (auto status = trains_->open(); !status) return status;
  if (store_->sharesEnrollments()) syncEnrollments();
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
      if (std::string(domain) == kAgentsDomain && type == zmq::socket_type::router) {
        socket->set(zmq::sockopt::sndhwm,
                    static_cast<int>(config_.limits.pendingChunkRequests) + kControlReplyHeadroom);
        socket->set(zmq::sockopt::rcvhwm, kAgentIntakeMessages);
      }
      if (std::string(domain) == kAgentsDomain) {
        // Every agent connects at once after a coordinator start: with ZeroMQ's default backlog
        // of 100 the kernel drops the other SYNs and TCP retries them after 1, 3, 7, 15 s...
        socket->set(zmq::sockopt::backlog, kAgentConnectBacklog);
      }
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
  if (config_.console.enabled) {
    auto console = ConsoleFeed::start(ConsoleFeedParts{config_, *store_, registry_, *rollouts_,
                                                       *aborts_, *admin_, backtests_.get(), clock_,
                                                       logger_});
    if (!console) return console.error();
    console_ = std::move(*console);
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
                             {adminSocket_->handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, console_ ? console_->fd() : -1, ZMQ_POLLIN, 0}};
  const int polled = console_ ? 3 : 2;
  std::uint64_t lastTurnSteady = clock_.steadyMillis();
  while (!stop_.load()) {
    try {
      zmq::poll(items, polled, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) logger_->warn("poll: {}", e.what());
      continue;
    }
    // A turn takes milliseconds; one that took seconds is a stall of the coordinator's own (an
    // overloaded machine, a slow disk, a paused VM, a store that did not answer). The hosts were
    // not heard because nobody listened: their silence and the rollouts' clocks count from now.
    std::uint64_t turnSteady = clock_.steadyMillis();
    if (turnSteady - lastTurnSteady >= kStallMillis) {
      if (!leaseValid()) break;  // stalled past its lease: another coordinator may lead now
      onStall(turnSteady - lastTurnSteady);
    }
    lastTurnSteady = turnSteady;
    // Bounded batches so neither socket can starve the other or the timers. Each reads until its
    // socket has nothing (asking ZMQ_EVENTS after every message cost an eighth of the loop).
    for (int i = 0; i < 256 && (items[0].revents & ZMQ_POLLIN); ++i) {
      if (!onAgentReadable()) break;
    }
    flushBatch();
    for (int i = 0; i < 64 && (items[1].revents & ZMQ_POLLIN); ++i) {
      if (!onAdminReadable()) break;
    }
    if (console_) console_->drain();  // sign-ins and actions from the console's threads
    if (!leaseValid()) break;
    tick();
    if (console_) console_->publish();
  }
  console_.reset();  // stops the console's server before the loop's parts go away
  if (steppedDown_) return;  // nothing may be stored any more: another coordinator may lead
  notifyStopping();
  saveRegistrations();
  if (auto status = telemetry_->flush(); !status) {
    logger_->error("stopping with {} telemetry windows not stored (their agents send them again): {}",
                   telemetry_->backlog(), status.error().message);
  }
  ackTelemetry();
  aborts_->saveBatch();
  if (aborts_->unsaved() > 0) {
    logger_->error("stopping with the acknowledgements of {} aborts not saved (see above)",
                   aborts_->unsaved());
  }
  std::vector<std::pair<std::string, std::uint64_t>> contacts;
  for (const auto& host : registry_.list(clock_.nowMillis())) {
    contacts.emplace_back(host.name, host.lastContactMillis);
  }
  if (auto status = store_->saveLastContacts(contacts); !status) {
    logger_->error("cannot persist last contact times: {}", status.error().message);
  }
  logger_->info("stopped (epoch {})", store_->epoch());
}

void Coordinator::onStall(std::uint64_t stalledMillis) {
  ++counters_.stalls;
  logger_->warn("the coordinator did not run for {} ms (an overloaded machine, a slow disk or a "
                "store that did not answer); hosts' silence and the rollouts' timeouts count "
                "from now",
                stalledMillis);
  registry_.excuseUntil(clock_.nowMillis());
  rollouts_->onCoordinatorStall(stalledMillis);
}

void Coordinator::flushBatch() {
  // Batched writes: telemetry at most every 100 ms (or 10,000 windows), and abort
  // acknowledgements once they pause (AbortCoordinator::saveDue: one save per abort), so a flood
  // of reports or of 10,000 acks costs a few commits. An ack lost to a crash before its save is
  // asked for again.
  saveRegistrations();
  std::uint64_t steady = clock_.steadyMillis();
  if (telemetry_->pending() >= 10'000 ||
      (telemetry_->pending() > 0 && steady >= nextTelemetryFlushMillis_)) {
    nextTelemetryFlushMillis_ = steady + 100;
    telemetry_->submit();  // written by the ingest thread; its failures are logged there
  }
  ackTelemetry();
  if (aborts_->saveDue(steady)) aborts_->saveBatch();
}

void Coordinator::saveRegistrations() {
  if (pendingHosts_.empty() && pendingHostEvents_.empty()) return;
  if (auto status = store_->saveRegistrations(pendingHosts_, pendingHostEvents_); !status) {
    logger_->error(
        "cannot persist the registrations of {} hosts (their next hello stores them): {}",
        pendingHosts_.size(), status.error().message);
  }
  pendingHosts_.clear();
  pendingHostEvents_.clear();
}

void Coordinator::logDropped(const std::string& what, const std::string& why) {
  // Log the first drops in full, then one line per thousand so a flood cannot flood the journal.
  ++droppedLogged_;
  if (droppedLogged_ <= 20 || droppedLogged_ % 1000 == 0) {
    logger_->warn("dropped {}: {} ({} dropped so far)", what, why, droppedLogged_);
  }
}

bool Coordinator::receive(zmq::socket_t& socket, const Allowlist& allowlist,
                          const std::string& what, const std::string& refusal,
                          std::optional<Inbound>& in) {
  in.reset();
  auto& frames = frames_;  // reused: one allocation for every message, not one each
  if (!receiveMultipart(socket, frames)) return false;
  if (frames.size() != 2) {
    ++counters_.droppedMalformed;
    logDropped(what, std::to_string(frames.size()) + " frames, expected 1");
    return true;
  }
  PeerIdentity peer = peerIdentity(frames[1]);
  if (!allowlist.admits(peer.name, peer.publicKey)) {
    ++counters_.droppedUnauthorized;
    logDropped(what + " from '" + peer.name + "'", refusal);
    return true;
  }
  in = Inbound{frames[0].to_string(), peer.name, std::move(frames[1]), peer.address};
  return true;
}

bool Coordinator::onAgentReadable() {
  std::optional<Inbound> in;
  if (!receive(*agentSocket_, *agents_, "agent message", "key is not enrolled (revoked?)", in)) {
    return false;
  }
  if (!in) return true;
  // Liveness first: whatever this key sends, even over quota, shows the host is alive.
  if (registry_.touch(in->peer, clock_.nowMillis())) {
    logger_->info("host {} is reporting again", in->peer);
    rollouts_->onHostHealth(in->peer, true);
  }
  if (!quotas_.admitMessage(in->peer, clock_.steadyMillis())) {
    ++counters_.droppedOverQuota;
    return true;  // counted per host; logged once a minute (logDropsPerHost)
  }
  std::string_view body(static_cast<const char*>(in->body.data()), in->body.size());
  auto message = decodeAgentMessage(bytesOf(in->body));
  if (!message) {
    ++counters_.droppedMalformed;
    logDropped("agent message from host " + in->peer, message.error().message);
    failRefusedResult(in->peer, in->body, message.error().message);
    return true;
  }
  if (std::holds_alternative<Hello>(*message) &&
      !quotas_.admitHello(in->peer, clock_.steadyMillis())) {
    // A hello costs two writes: a host saying hello again and again is held to a few a second.
    ++counters_.droppedOverQuota;
    return true;
  }
  ++counters_.agentMessages;
  handleAgentMessage(in->routingId, in->peer, std::move(*message), body);
  registry_.setAddress(in->peer, in->address);
  return true;
}

// A command's final result that was refused (too large from an older agent, an invalid field)
// still ends the command: as failed, with the refusal as its message, so that the operator sees
// the reason at once instead of waiting for the command's timeout.
void Coordinator::failRefusedResult(const std::string& host, const zmq::message_t& frame,
                                    const std::string& reason) {
  auto refused = peekRefusedResult(bytesOf(frame));
  if (!refused || refused->progress || !commands_->isPending(host, refused->command)) return;
  CommandResult result;
  result.command = refused->command;
  result.service = refused->service;
  result.outcome = Outcome::kFailed;
  result.message = truncateUtf8("the coordinator refused this host's result: " + reason,
                                kMaxResultMessageBytes);
  commands_->onResult(host, result);
}

bool Coordinator::onAdminReadable() {
  std::optional<Inbound> in;
  if (!receive(*adminSocket_, *admins_, "admin request", "operator key is not in the allowlist",
               in)) {
    return false;
  }
  if (!in) return true;
  ++counters_.adminRequests;
  auto request = decodeAdminRequest(bytesOf(in->body));
  if (!request) {
    ++counters_.droppedMalformed;
    AdminReply reply;
    reply.body = AdminError{"malformed request: " + request.error().message};
    toAdmin(ReplyTo{in->routingId, 0}, std::move(reply));
    return true;
  }
  if (auto reply = admin_->handle(in->peer, in->routingId, *request)) {
    toAdmin(ReplyTo{in->routingId, request->requestId}, std::move(*reply));
  }
  return true;
}

void Coordinator::recordHostEvent(const std::string& kind, const std::string& host,
                                  const std::string& message) {
  if (auto status = store_->recordEvent(EventRecord{clock_.nowMillis(), kind, host, "", message});
      !status) {
    logger_->error("host {}: cannot record '{}' in the event log: {}", host, kind,
                   status.error().message);
  }
}

void Coordinator::onHello(const std::string& routingId, const std::string& host,
                          const Hello& hello) {
  std::uint64_t now = clock_.nowMillis();
  bool known = registry_.find(host, now).has_value();
  auto previous = registry_.routingIdOf(host);
  if (previous && *previous != routingId) {
    // Sessions by key: the newer hello wins, and the older connection hears so.
    ++quotas_.drops(host).sessionsReplaced;
    logger_->warn("host {}: a new hello with its key replaces the session on another connection "
                  "(the agent restarted or reconnected; if this repeats, a second process uses "
                  "the key: a cloned host?)",
                  host);
    sendToAgent(*previous, SessionClosed{"a newer session with this host's key (" + host +
                                         ") replaced this one"});
  }
  quotas_.onNewSession(host);
  // Stored with the rest of this batch (flushBatch): the welcome does not wait for it, and a
  // registration lost to a crash is made again by the agent's next hello.
  pendingHosts_.push_back(registry_.onHello(host, hello, routingId, now));
  if (!hello.claimedHost.empty() && hello.claimedHost != host) {
    logger_->warn("host {} says its name is '{}'; recorded under its key's name '{}'", host,
                  hello.claimedHost, host);
  }
  logger_->info("host {} {} (region {}, cluster {}, agent {}, {})", host,
                known ? "reconnected" : "registered", hello.region, hello.cluster,
                hello.agentVersion, servicesSummary(hello.services));
  pendingHostEvents_.push_back(EventRecord{now, known ? "host_reconnected" : "host_registered",
                                           host, "", hello.region + "/" + hello.cluster});
  toAgent(routingId, welcomeFor(config_, host, store_->epoch(), admin_->frozen().has_value()));
  // Whatever this host has not acknowledged is handed over again: aborts first, then commands.
  aborts_->onHello(host);
  rollouts_->onHostHealth(host, true);
  commands_->onHello(host, routingId);
}

void Coordinator::handleAgentMessage(const std::string& routingId, const std::string& host,
                                     AgentMessage message, std::string_view body) {
  std::uint64_t now = clock_.nowMillis();
  if (auto* hello = std::get_if<Hello>(&message)) {
    onHello(routingId, host, *hello);
    return;
  }
  if (auto* chunk = std::get_if<RequestChunk>(&message)) {
    // Artifact transfers run on their own connection; the key alone authorizes them.
    onChunkRequest(routingId, host, *chunk);
    return;
  }
  const std::vector<ServiceRelease>* services = nullptr;
  if (auto* heartbeat = std::get_if<Heartbeat>(&message)) services = &heartbeat->services;
  bool wasHealthy = registry_.isHealthy(host, now);
  if (!registry_.onContact(host, routingId, now, services)) {
    ++counters_.droppedNoSession;
    if (registry_.wasReplaced(host, routingId)) {
      // Told again (at most once a second per host) in case the first notice was lost.
      std::uint64_t steady = clock_.steadyMillis();
      std::uint64_t& next = nextSessionClosedMillis_[host];
      if (steady >= next) {
        next = steady + 1000;
        sendToAgent(routingId, SessionClosed{"a newer session with this host's key (" + host +
                                             ") replaced this one"});
      }
      return;
    }
    logger_->debug("host {}: message before hello on this connection; ignored", host);
    return;
  }
  if (!wasHealthy) {
    logger_->info("host {} is reporting again", host);
    rollouts_->onHostHealth(host, true);
  }
  if (auto* report = std::get_if<TelemetryReport>(&message)) {
    onTelemetry(routingId, host, std::move(*report), body);
  } else if (auto* result = std::get_if<CommandResult>(&message)) {
    // Duplicates, replays and results nobody waits for: counted, logged once a minute per host
    // (logDropsPerHost), never stored one by one.
    if (!commands_->onResult(host, *result)) ++quotas_.drops(host).unsolicitedResults;
  } else if (auto* ack = std::get_if<AckAbort>(&message)) {
    aborts_->onAck(host, *ack);
  }
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
    logDropped("artifact chunk request from host " + host, chunk.error);
  }
  // A connection that does not read its chunks fills its reply queue (pending_chunk_requests and
  // a few control messages): further replies are dropped here, never queued.
  if (!sendToAgent(routingId, chunk)) ++quotas_.drops(host).chunkReplies;
}

void Coordinator::onTelemetry(const std::string& routingId, const std::string& host,
                              TelemetryReport report, std::string_view frame) {
  std::uint64_t steady = clock_.steadyMillis();
  std::uint64_t windowBytes = report.windows.empty() ? 0 : frame.size() / report.windows.size();
  // A one-window report is stored as the frame that came (packed); the windows of a longer one
  // are each encoded.
  bool storeFrame = report.windows.size() == 1;
  std::uint64_t overQuota = 0;
  bool storeBehind = false;
  quotas_.beginReport(host, report.resent);
  // Telemetry acknowledgement: see ackTelemetry().
  std::uint64_t& through = telemetryThrough_[host];
  if (std::any_of(report.windows.begin(), report.windows.end(),
                  [](const TelemetryWindow& w) { return w.sequence != 0; })) {
    telemetryToAck_.insert(host);  // once per report, not once per window
  }
  for (auto& window : report.windows) {
    if (window.sequence != 0 && window.sequence <= through) continue;  // re-sent, already queued
    if (telemetry_->full()) {
      // The store is behind: turned away like a window over quota (the agent keeps it and sends
      // it again after the OverQuota below), so a slow database costs bounded memory.
      ++ingestRefused_;
      ++overQuota;
      storeBehind = true;
      continue;
    }
    if (!quotas_.admitWindow(host, windowBytes, steady)) {
      // Not stored, and `through` stays below it: the agent keeps it and sends it again.
      ++overQuota;
      continue;
    }
    through = std::max(through, window.sequence);
    if (!registry_.declares(host, window.service)) {
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
    telemetry_->add(host, window, storeFrame ? frame : std::string_view());
  }
  if (overQuota > 0) {
    counters_.droppedOverQuota += overQuota;
    std::uint64_t& next = nextOverQuotaMillis_[host];
    if (steady >= next) {  // told at most once a second
      next = steady + 1000;
      sendToAgent(routingId, OverQuota{quotas_.dropsOf(host).telemetryWindows, 5000,
                                       telemetryThrough_[host], storeBehind});
    }
  }
}

// Telemetry acknowledgement. Windows carry the agent's backlog sequence; once every queued window
// is committed, each host that sent some hears the highest sequence stored, and its agent forgets
// those windows (until then it keeps them across restarts). An agent sends in sequence order
// within a session and restarts from its oldest unacknowledged window, so a window at or below
// the highest queued is a re-send and is skipped. In memory only: after a coordinator restart a
// window stored but not yet acknowledged is stored again.
// With the ingest thread, the hosts owed an ack wait (telemetryAcks_) for the newest batch
// submitted when they were owed, which holds their last window queued.
void Coordinator::ackTelemetry() {
  if (!telemetryToAck_.empty() && telemetry_->pending() == 0) {
    std::uint64_t batch = telemetry_->submitted();
    if (telemetryAcks_.empty() || telemetryAcks_.back().first != batch) {
      telemetryAcks_.emplace_back(batch, std::map<std::string, std::uint64_t>());
    }
    for (const auto& host : telemetryToAck_) {
      telemetryAcks_.back().second[host] = telemetryThrough_[host];
    }
    telemetryToAck_.clear();
  }
  std::uint64_t committed = telemetry_->committed();
  while (!telemetryAcks_.empty() && telemetryAcks_.front().first <= committed) {
    for (const auto& [host, through] : telemetryAcks_.front().second) {
      if (auto routingId = registry_.routingIdOf(host)) toAgent(*routingId, AckTelemetry{through});
    }
    telemetryAcks_.pop_front();
  }
}

void Coordinator::toAgent(const std::string& routingId, const CoordinatorMessage& message) {
  sendToAgent(routingId, message);
}

bool Coordinator::leaseValid() {
  if (lease_ == nullptr) return true;
  if (lease_->valid(clock_.steadyMillis())) return true;
  if (!steppedDown_) {
    steppedDown_ = true;
    logger_->error("lost the leader lease (epoch {}): {}; sending nothing more and stepping down",
                   lease_->epoch(), lease_->lostReason());
    stop_.store(true);
  }
  return false;
}

bool Coordinator::sendToAgent(const std::string& routingId, const CoordinatorMessage& message) {
  // A leader that cannot prove its lease sends nothing: another may already lead.
  if (!leaseValid()) return false;
  if (sendRouted(*agentSocket_, routingId, encode(message), logger_, "to agent connection")) {
    return true;
  }
  ++counters_.droppedReplies;
  return false;
}

void Coordinator::logDropsPerHost() {
  if (ingestRefused_ > 0) {
    logger_->warn("telemetry store behind ({} windows waiting to be written): {} windows turned "
                  "away in the last minute; their agents keep them and send them again",
                  telemetry_->backlog(), ingestRefused_);
    ingestRefused_ = 0;
  }
  // One line per host per minute with what was dropped since the last one.
  for (const auto& host : quotas_.hosts()) {
    HostDrops d = quotas_.takeUnlogged(host);
    if (d == HostDrops{}) continue;
    logger_->warn("host {} in the last minute: {} telemetry windows ({} bytes) over quota, {} "
                  "messages over quota, {} chunk replies dropped, {} unsolicited or duplicate "
                  "command results, {} sessions replaced (totals: rollgate hosts)",
                  host, d.telemetryWindows, d.telemetryBytes, d.messages, d.chunkReplies,
                  d.unsolicitedResults, d.sessionsReplaced);
  }
}

void Coordinator::pruneEvents(std::uint64_t wallMillis) {
  // Failure policy: logged, and tried again at the next prune (the log only grows meanwhile).
  std::uint64_t retention = static_cast<std::uint64_t>(config_.limits.eventRetentionDays) * 86'400'000;
  std::uint64_t before = wallMillis > retention ? wallMillis - retention : 0;
  auto pruned = store_->pruneEvents(before, static_cast<std::uint64_t>(config_.limits.eventMaxRows));
  if (!pruned) {
    logger_->error("cannot prune the event log (older than {} days, beyond {} rows): {}",
                   config_.limits.eventRetentionDays, config_.limits.eventMaxRows,
                   pruned.error().message);
  } else if (*pruned > 0) {
    logger_->info("pruned {} events (older than {} days, or beyond the newest {})", *pruned,
                  config_.limits.eventRetentionDays, config_.limits.eventMaxRows);
  }
}

void Coordinator::toAdmin(const ReplyTo& to, AdminReply reply) {
  if (console_ && console_->deliver(to, reply)) return;
  reply.requestId = to.requestId;
  if (lease_ != nullptr) reply.leader = lease_->info();
  (void)sendRouted(*adminSocket_, to.routingId, encode(reply), logger_, "an admin reply");
}

void Coordinator::broadcast(Broadcast message) {
  if (!leaseValid()) return;
  message.broadcastId = ++nextBroadcastId_;
  std::string payload = encode(message);
  try {
    broadcastSocket_->send(zmq::buffer(payload), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    logger_->warn("broadcast failed: {}", e.what());
  }
}

void Coordinator::publishMetrics() {
  auto snapshot = std::make_shared<metrics::MetricsSnapshot>();
  recording_->fill(*snapshot);
  for (const auto& host : registry_.list(clock_.nowMillis())) {
    ++snapshot->hostsByState[host.healthy ? "healthy" : "unhealthy"];
  }
  snapshot->telemetryWindowsReceived = counters_.telemetryWindows;
  snapshot->telemetryWindowsDropped = counters_.droppedWindows;
  snapshot->loopStalls = counters_.stalls;
  snapshot->quotaDrops = quotas_.total();
  snapshot->commandsInFlight = commands_->pending();
  if (lease_ != nullptr) snapshot->leader = lease_->info();
  if (notifier_) {
    auto n = notifier_->counts();
    snapshot->notifications = {n.queued, n.delivered, n.retried, n.failed, n.dropped};
  }
  metrics_->publish(std::move(snapshot));
}

void Coordinator::tick() {
  std::uint64_t now = clock_.steadyMillis();
  if (now < nextTickMillis_) return;
  nextTickMillis_ = now + 250;
  std::uint64_t wall = clock_.nowMillis();
  for (const auto& host : registry_.expire(wall)) {
    logger_->warn("host {} silent for more than {} s: unhealthy", host, config_.hostTimeoutSeconds);
    recordHostEvent("host_silent", host, "no contact within timeout");
    rollouts_->onHostHealth(host, false);
  }
  rollouts_->tick();
  reverts_->tick();
  backtests_->tick();
  // The ingest thread's writes, timed there, join the store-write histogram (/metrics).
  for (const auto& timing : telemetry_->takeTimings()) {
    recording_->observeWrite(timing.operation, timing.seconds);
  }
  if (!trainsReady_) {
    bool everyHostBack = true;
    for (const auto& host : registry_.list(wall)) everyHostBack = everyHostBack && host.connected;
    if (trainsWaitUntilMillis_ == 0) {
      trainsWaitUntilMillis_ = now + static_cast<std::uint64_t>(config_.hostTimeoutSeconds) * 1000;
    }
    trainsReady_ = everyHostBack || now >= trainsWaitUntilMillis_;
  }
  if (trainsReady_) trains_->tick();
  if (now >= nextFlushMillis_) {
    nextFlushMillis_ = now + 5000;
    std::vector<std::pair<std::string, std::uint64_t>> contacts;
    for (const auto& host : registry_.list(wall)) {
      if (host.connected) contacts.emplace_back(host.name, host.lastContactMillis);
    }
    if (auto status = store_->saveLastContacts(contacts); !status) {
      logger_->error("cannot persist last contact times: {}", status.error().message);
    }
  }
  if (now >= nextPruneMillis_) {
    nextPruneMillis_ = now + 60'000;
    std::uint64_t retention = static_cast<std::uint64_t>(config_.telemetryRetentionHours) * 3600'000;
    if (wall > retention) telemetry_->prune(wall - retention);  // on the ingest thread
  }
  if (auto pruned = telemetry_->takePruned()) {
    if (!*pruned) {
      logger_->error("cannot prune telemetry older than {} h: {}",
                     config_.telemetryRetentionHours, pruned->error().message);
    } else if (**pruned > 0) {
      logger_->info("pruned {} telemetry windows older than {} h", **pruned,
                    config_.telemetryRetentionHours);
    }
  }
  if (now >= nextDropLogMillis_) {
    nextDropLogMillis_ = now + 60'000;
    logDropsPerHost();
  }
  if (now >= nextEventPruneMillis_) {
    nextEventPruneMillis_ = now + 60'000;
    pruneEvents(wall);
  }
  aborts_->tick();
  if (metrics_ && now >= nextMetricsMillis_) {
    nextMetricsMillis_ = now + 1000;
    publishMetrics();
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
