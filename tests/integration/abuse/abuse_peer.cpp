// rollgate-abuse-peer: a misbehaving holder of one enrolled agent key, for the abuse tests. It
// speaks the agent protocol over real CURVE, as fast as it can:
//   telemetry  hello, then telemetry reports of 64 windows without pause (and a heartbeat a
//              second) until --seconds pass; prints "reports N over_quota M"
//   chunks     --connections DEALERs that each send --requests chunk requests for --sha256 and
//              never read; holds them open --seconds, then closes them; prints "requests N"
//   takeover   hello with the key (taking over the host's session), then a heartbeat every
//              200 ms until the coordinator sends SessionClosed; prints "closed" (exit 0) or
//              exits 3 if not told within --seconds
//   results    hello, then --count command results for commands never sent, each twice;
//              prints "results N"
// Thread-safety: a single-threaded program.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/keys.h"
#include "common/transport.h"

using namespace rollgate;
using SteadyClock = std::chrono::steady_clock;

namespace {

std::atomic<bool> stopRequested{false};
void onTerm(int) { stopRequested.store(true); }

struct Keys {
  std::string secret;
  std::string publicKey;
  std::string server;
};

std::unique_ptr<zmq::socket_t> connectDealer(zmq::context_t& context, const Keys& keys,
                                             const std::string& endpoint) {
  auto socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  configureCurveClient(*socket, keys.secret, keys.publicKey, keys.server,
                       kMaxCoordinatorMessageBytes);
  socket->set(zmq::sockopt::sndhwm, 100'000);
  socket->set(zmq::sockopt::linger, 0);
  socket->connect(endpoint);
  return socket;
}

// Blocks while the coordinator holds this connection back; a signal (SIGTERM: stop) interrupts it.
void sendMessage(zmq::socket_t& socket, const AgentMessage& message) {
  std::string payload = encode(message);
  try {
    socket.send(zmq::buffer(payload), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
}

// Reads what has arrived; returns how many messages of type T.
template <typename T>
int drain(zmq::socket_t& socket) {
  int seen = 0;
  while (true) {
    zmq::message_t frame;
    try {
      if (!socket.recv(frame, zmq::recv_flags::dontwait)) return seen;
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return seen;
    }
    auto message = decodeCoordinatorMessage(
        Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
    if (message && std::holds_alternative<T>(*message)) ++seen;
  }
}

Hello helloFor(const std::string& service) {
  Hello hello;
  hello.claimedHost = "abuse-peer";
  hello.region = "eu";
  hello.cluster = "eu-a";
  hello.agentVersion = "0.1.0";
  if (!service.empty()) hello.services.push_back(ServiceRelease{service, "", {}});
  hello.bootMillis = 1;
  return hello;
}

// Waits for the Welcome to the hello just sent (at most 10 s).
bool awaitWelcome(zmq::socket_t& socket) {
  auto until = SteadyClock::now() + std::chrono::seconds(10);
  while (SteadyClock::now() < until) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    if (drain<Welcome>(socket) > 0) return true;
  }
  return false;
}

TelemetryWindow windowAt(std::uint64_t sequence, std::uint64_t nowMillis) {
  TelemetryWindow w;
  w.service = "flood";
  w.release = "1.0.0";
  w.startMillis = nowMillis - 1000;
  w.endMillis = nowMillis;
  w.requests = 1000;
  w.status2xx = 1000;
  w.latencyBucketUpperMicros = {1000, 10000, 100000, 0};
  w.latencyBucketCounts = {900, 90, 10, 0};
  w.latencySampleMicros.assign(200, 1500);
  w.sequence = sequence;
  return w;
}

std::uint64_t wallMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"misbehaving agent-key holder for the abuse tests"};
  std::string mode, endpoint, keyFile, pubFile, serverFile, sha256;
  double seconds = 10;
  int connections = 4, requests = 200, count = 1000;
  app.add_option("mode", mode)->required()->check(
      CLI::IsMember({"telemetry", "chunks", "takeover", "results"}));
  app.add_option("--endpoint", endpoint)->required();
  app.add_option("--key", keyFile, "the host's secret key file")->required();
  app.add_option("--pub", pubFile, "the host's public key file")->required();
  app.add_option("--server-key", serverFile, "the coordinator's public key file")->required();
  app.add_option("--seconds", seconds);
  app.add_option("--connections", connections);
  app.add_option("--requests", requests);
  app.add_option("--sha256", sha256);
  app.add_option("--count", count);
  CLI11_PARSE(app, argc, argv);

  Keys keys;
  for (auto [path, out] : {std::pair{&keyFile, &keys.secret}, std::pair{&pubFile, &keys.publicKey},
                           std::pair{&serverFile, &keys.server}}) {
    auto key = readKeyFile(*path);
    if (!key) {
      std::fprintf(stderr, "%s: %s\n", path->c_str(), key.error().message.c_str());
      return 2;
    }
    *out = *key;
  }
  std::signal(SIGTERM, onTerm);
  zmq::context_t context(1);
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));

  if (mode == "chunks") {
    std::vector<std::unique_ptr<zmq::socket_t>> sockets;
    for (int c = 0; c < connections; ++c) sockets.push_back(connectDealer(context, keys, endpoint));
    long sent = 0;
    for (int i = 0; i < requests; ++i) {
      for (auto& socket : sockets) {
        sendMessage(*socket, AgentMessage{RequestChunk{sha256, 0, kArtifactChunkBytes}});
        ++sent;
      }
    }
    std::printf("requests %ld\n", sent);
    std::fflush(stdout);
    while (SteadyClock::now() < deadline && !stopRequested.load()) {  // never reads
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  auto socket = connectDealer(context, keys, endpoint);
  sendMessage(*socket, AgentMessage{helloFor(mode == "telemetry" ? "flood" : "")});
  if (!awaitWelcome(*socket)) {
    std::fprintf(stderr, "no Welcome from %s\n", endpoint.c_str());
    return 4;
  }

  if (mode == "telemetry") {
    long reports = 0;
    int overQuota = 0;
    std::uint64_t sequence = wallMillis();
    auto nextHeartbeat = SteadyClock::now();
    while (SteadyClock::now() < deadline && !stopRequested.load()) {
      TelemetryReport report;
      std::uint64_t now = wallMillis();
      for (int i = 0; i < 64; ++i) report.windows.push_back(windowAt(++sequence, now));
      sendMessage(*socket, AgentMessage{report});
      ++reports;
      if (SteadyClock::now() >= nextHeartbeat) {
        nextHeartbeat = SteadyClock::now() + std::chrono::seconds(1);
        sendMessage(*socket, AgentMessage{Heartbeat{now, {ServiceRelease{"flood", "", {}}}}});
      }
      overQuota += drain<OverQuota>(*socket);
    }
    std::printf("reports %ld over_quota %d\n", reports, overQuota);
    std::fflush(stdout);
    return 0;
  }

  if (mode == "takeover") {
    while (SteadyClock::now() < deadline) {
      sendMessage(*socket, AgentMessage{Heartbeat{wallMillis(), {}}});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (drain<SessionClosed>(*socket) > 0) {
        std::printf("closed\n");
        return 0;
      }
    }
    std::printf("not closed\n");
    return 3;
  }

  // results
  long sent = 0;
  for (int i = 0; i < count; ++i) {
    CommandResult result;
    result.command = CommandRef{"replayed", static_cast<std::uint64_t>(1'000'000 + i), 1};
    result.service = "web";
    result.outcome = Outcome::kSucceeded;
    result.message = std::string(512, 'x');
    result.events = {"installed", "activated"};
    for (int copy = 0; copy < 2; ++copy) {
      sendMessage(*socket, AgentMessage{result});
      ++sent;
    }
    drain<Welcome>(*socket);
  }
  std::printf("results %ld\n", sent);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the last ones leave
  return 0;
}
