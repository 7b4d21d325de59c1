// SimulatedAgents: many agent connections in one process for benchmarks. Each has its own CURVE
// key pair (written into the coordinator's agents_dir before it starts), its own DEALER socket on
// one shared ZeroMQ context, and speaks the real wire protocol (common/codec.h).
// Thread-safety: none; one thread owns every socket.
#pragma once

#include <sys/epoll.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/keys.h"
#include "common/messages.h"
#include "common/transport.h"
#include "tests/support/fleet/process.h"

namespace rollgate::bench {

inline constexpr std::size_t kBenchMaxMessageBytes = 64 * 1024 * 1024;

struct SimulatedAgent {
  std::string name;
  CurveKeyPair keys;
  std::unique_ptr<zmq::socket_t> socket;
};

// Generates `count` key pairs named `<prefix><i>` and writes `<agentsDir>/<name>.pub`.
inline std::vector<SimulatedAgent> makeSimulatedAgents(int count, const std::string& prefix,
                                                       const std::string& agentsDir) {
  std::vector<SimulatedAgent> agents(static_cast<std::size_t>(count));
  char buffer[32];
  for (int i = 0; i < count; ++i) {
    std::snprintf(buffer, sizeof buffer, "%s%04d", prefix.c_str(), i + 1);
    agents[static_cast<std::size_t>(i)].name = buffer;
    agents[static_cast<std::size_t>(i)].keys = generateCurveKeyPair();
    testing::writeFile(agentsDir + "/" + buffer + ".pub",
                       agents[static_cast<std::size_t>(i)].keys.publicKey + "\n");
  }
  return agents;
}

inline std::string encodeAgent(const AgentMessage& message) { return encode(message); }

inline void sendAgent(zmq::socket_t& socket, const AgentMessage& message) {
  std::string payload = encode(message);
  socket.send(zmq::buffer(payload), zmq::send_flags::none);
}

// The hello a simulated agent says.
inline Hello helloOf(const SimulatedAgent& agent, const std::vector<ServiceRelease>& services) {
  Hello hello;
  hello.claimedHost = agent.name;
  hello.region = "eu-west";
  hello.cluster = "eu-west-a";
  hello.agentVersion = "bench";
  hello.services = services;
  hello.bootMillis = 1;
  return hello;
}

// Connects every agent (CURVE client) and sends its Hello.
inline void connectAndHello(zmq::context_t& context, std::vector<SimulatedAgent>& agents,
                            const std::string& endpoint, const std::string& serverPublicKey,
                            const std::vector<ServiceRelease>& services) {
  for (auto& agent : agents) {
    agent.socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    agent.socket->set(zmq::sockopt::linger, 0);
    agent.socket->set(zmq::sockopt::sndhwm, 0);
    agent.socket->set(zmq::sockopt::rcvhwm, 0);
    configureCurveClient(*agent.socket, agent.keys.secretKey, agent.keys.publicKey,
                         serverPublicKey, kBenchMaxMessageBytes);
    agent.socket->connect(endpoint);
    sendAgent(*agent.socket, AgentMessage{helloOf(agent, services)});
  }
}

// Waits on every agent's socket at a cost that follows the sockets with something to read, not
// their number: each socket's ZMQ_FD in one epoll set. zmq_poll asks every socket for its events
// on every call; at 5,000 sockets a call took milliseconds of CPU, and a worker waiting 1 ms at a
// time for its aborts spun a core that the coordinator under test needed.
// ZMQ_FD says only that the socket has commands to process: a readable fd is checked with
// ZMQ_EVENTS, and the caller reads a socket until it is empty (see forEachMessage) and checks it
// again after sending on it (recheck), since a send can take in the signal of a message arriving.
class AgentPoller {
 public:
  explicit AgentPoller(std::vector<SimulatedAgent>& agents)
      : agents_(agents), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) throw std::runtime_error("epoll_create1 failed");
    for (std::size_t i = 0; i < agents_.size(); ++i) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      int fd = agents_[i].socket->get(zmq::sockopt::fd);
      if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
        throw std::runtime_error("epoll_ctl failed for socket " + std::to_string(i));
      }
      recheck_.push_back(i);  // a message may have come before the fd was watched
    }
  }
  ~AgentPoller() { ::close(epoll_); }
  AgentPoller(const AgentPoller&) = delete;
  AgentPoller& operator=(const AgentPoller&) = delete;

  // Socket i was sent on: its events are looked at in the next wait.
  void recheck(std::size_t i) { recheck_.push_back(i); }
  void recheckAll() {
    for (std::size_t i = 0; i < agents_.size(); ++i) recheck_.push_back(i);
  }

  // Waits up to `timeout` and calls on(index, message) for every coordinator message that
  // decodes, on every socket that has one; each such socket is read until it is empty.
  template <typename OnMessage>
  void forEachMessage(std::chrono::milliseconds timeout, OnMessage&& on) {
    forEachFrame(timeout, [&](std::size_t i, zmq::message_t& frame) {
      auto message = decodeCoordinatorMessage(
          Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
      if (message) on(i, *message);
    });
  }

  // The same for raw frames.
  template <typename OnFrame>
  void forEachFrame(std::chrono::milliseconds timeout, OnFrame&& on) {
    ready_.swap(recheck_);  // both keep their capacity: no allocation per wait
    recheck_.clear();
    epoll_event events[256];
    int n =
        ::epoll_wait(epoll_, events, 256, ready_.empty() ? static_cast<int>(timeout.count()) : 0);
    for (int k = 0; k < n; ++k) ready_.push_back(static_cast<std::size_t>(events[k].data.u64));
    for (std::size_t i : ready_) {
      auto& socket = *agents_[i].socket;
      if ((socket.get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) continue;
      zmq::message_t frame;
      while (socket.recv(frame, zmq::recv_flags::dontwait)) on(i, frame);
    }
  }

 private:
  std::vector<SimulatedAgent>& agents_;
  int epoll_;
  std::vector<std::size_t> recheck_;
  std::vector<std::size_t> ready_;  // forEachFrame's sockets to read (reused)
};

// Waits until every agent got its Welcome; returns how many did.
// A connection not welcomed says hello again after 3 s, then 6, 12 and at most 30 s (a hello can be
// lost while thousands of CURVE handshakes complete at once). The real agent says hello once its
// handshake succeeded (a socket monitor, which 5,000 sockets here cannot each have under the
// descriptor limit) and again 3 s later; these say it at connect, so a resend also reaches
// connections still in their handshake, whose hellos then arrive twice. Resending every 3 s, they
// sent thousands of such duplicates and the welcome took 11-17 s where the bare handshakes took
// 7-10 s; doubling the wait keeps the duplicates to the connections really waiting.
inline std::size_t waitForWelcomes(std::vector<SimulatedAgent>& agents,
                                   std::chrono::milliseconds timeout,
                                   const std::vector<ServiceRelease>& services = {}) {
  AgentPoller poller(agents);
  std::vector<bool> welcomed(agents.size(), false);
  std::size_t count = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto helloEvery = std::chrono::seconds(3);
  auto nextHello = std::chrono::steady_clock::now() + helloEvery;
  while (count < agents.size() && std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= nextHello) {
      helloEvery = std::min<std::chrono::seconds>(helloEvery * 2, std::chrono::seconds(30));
      nextHello = std::chrono::steady_clock::now() + helloEvery;
      for (std::size_t i = 0; i < agents.size(); ++i) {
        if (welcomed[i]) continue;
        sendAgent(*agents[i].socket, AgentMessage{helloOf(agents[i], services)});
        poller.recheck(i);
      }
    }
    poller.forEachMessage(std::chrono::milliseconds(100),
                          [&](std::size_t i, const CoordinatorMessage& message) {
                            if (std::holds_alternative<Welcome>(message) && !welcomed[i]) {
                              welcomed[i] = true;
                              ++count;
                            }
                          });
  }
  return count;
}

}  // namespace rollgate::bench
