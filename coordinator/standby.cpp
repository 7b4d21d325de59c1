#include "coordinator/standby.h"

#include <thread>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/frame_bytes.h"
#include "common/keys.h"
#include "common/transport.h"
#include "coordinator/console_feed.h"
#include "coordinator/metrics/metrics_server.h"

namespace rollgate::coordinator {
namespace {

std::string describe(const std::optional<LeaderInfo>& leader) {
  if (!leader) return "no coordinator leads right now (a standby takes over within the lease)";
  return "the leader is coordinator " + leader->id + " at " + leader->adminEndpoint + " (epoch " +
         std::to_string(leader->epoch) + ")";
}

}  // namespace

Result<bool> serveAsStandby(const CoordinatorConfig& config, LeaderLease& lease,
                            const std::atomic<bool>& stop, const Clock& clock, Logger logger) {
  auto secret = readSecretKeyFile(config.keyFile);
  if (!secret) return makeError("coordinator key: " + secret.error().message);
  auto admins = std::make_shared<Allowlist>();
  std::vector<std::string> problems;
  admins->replace(Allowlist::readDirectory(config.adminsDir, &problems));
  zmq::context_t context(1);
  ZapHandler zap(context, logger);
  zap.addDomain(kAdminsDomain, admins);
  if (auto status = zap.start(); !status) return status.error();
  zmq::socket_t socket(context, zmq::socket_type::router);
  try {
    configureCurveServer(socket, *secret, kAdminsDomain, kMaxAdminRequestBytes);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(config.adminEndpoint);
  } catch (const zmq::error_t& e) {
    return makeError("cannot bind the admin endpoint " + config.adminEndpoint + ": " + e.what());
  }

  // /metrics ([metrics] listen) says this one stands by, whether it reaches the lease and which
  // epoch leads; it is stopped before this returns, so the leader's own server can bind it.
  std::unique_ptr<metrics::MetricsServer> metricsServer;
  if (!config.metricsListen.empty()) {
    auto started = metrics::MetricsServer::start(config.metricsListen, logger);
    if (!started) return started.error();
    metricsServer = std::move(*started);
    logger->info("standby: serving /metrics on {} (port {})", config.metricsListen,
                 metricsServer->port());
  }
  // The console ([console] enabled) answers that this one stands by and names the leader.
  std::unique_ptr<console::StandbyConsole> standbyConsole;
  if (config.console.enabled) {
    auto files = consoleCertificate(config, clock.nowMillis(), logger);
    if (!files) return files.error();
    auto started = console::StandbyConsole::start(config.console, files->first, files->second,
                                                  config.coordinatorId);
    if (!started) return started.error();
    standbyConsole = std::move(*started);
    logger->info("standby: the console at {} says this coordinator stands by",
                 standbyConsole->url());
  }
  metrics::StandbyView view{config.coordinatorId, false, std::nullopt};
  auto publish = [&] {
    if (!metricsServer) return;
    auto snapshot = std::make_shared<metrics::MetricsSnapshot>();
    snapshot->standby = view;
    metricsServer->publish(std::move(snapshot));
  };
  publish();

  const std::uint64_t every = std::max<std::uint64_t>(lease.settings().leaseMillis / 4, 250);
  std::uint64_t nextTry = 0;
  std::optional<LeaderInfo> leader;
  std::string lastProblem;
  bool announced = false;
  while (!stop.load()) {
    const std::uint64_t now = clock.steadyMillis();
    if (now >= nextTry) {
      nextTry = now + every;
      auto taken = lease.tryAcquire();
      view.leaseReachable = taken.ok();
      if (!taken) {
        if (taken.error().message != lastProblem) {
          lastProblem = taken.error().message;
          logger->error("standby: cannot reach the lease: {}; trying again every {} ms",
                        lastProblem, every);
        }
      } else if (*taken) {
        logger->info("took the leader lease: epoch {}", **taken);
        return true;
      } else {
        lastProblem.clear();
        auto current = lease.current();
        if (current) {
          const bool changed = !announced || (*current ? !leader || leader->epoch != (*current)->epoch
                                                        : leader.has_value());
          leader = *current;
          if (changed) logger->info("standby: {}", describe(leader));
          announced = true;
        }
      }
      view.leader = leader;
      publish();
      if (standbyConsole) standbyConsole->setLeader(leader);
    }
    zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) logger->warn("poll: {}", e.what());
      continue;
    }
    for (int i = 0; i < 64 && (items[0].revents & ZMQ_POLLIN); ++i) {
      zmq::message_t routing;
      zmq::message_t body;
      if (!socket.recv(routing, zmq::recv_flags::dontwait)) break;
      if (!routing.more() || !socket.recv(body, zmq::recv_flags::dontwait)) continue;
      while (body.more()) {  // a request of the wrong shape: drain it
        zmq::message_t rest;
        if (!socket.recv(rest, zmq::recv_flags::dontwait)) break;
        if (!rest.more()) break;
      }
      PeerIdentity peer = peerIdentity(body);
      if (!admins->admits(peer.name, peer.publicKey)) continue;
      auto request = decodeAdminRequest(bytesOf(body));
      AdminReply reply;
      reply.requestId = request ? request->requestId : 0;
      reply.final = true;
      reply.standby = true;
      reply.leader = leader;
      reply.body = AdminError{"coordinator " + config.coordinatorId + " is a standby; " +
                              describe(leader)};
      std::string payload = encode(reply);
      try {
        if (socket.send(zmq::buffer(routing.data(), routing.size()),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
          (void)socket.send(zmq::buffer(payload), zmq::send_flags::dontwait);
        }
      } catch (const zmq::error_t&) {
        // The operator's connection is gone; nothing to tell.
      }
    }
  }
  return false;
}

}  // namespace rollgate::coordinator
