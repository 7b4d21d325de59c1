// SimulatedAgents: many agent connections in one process for benchmarks. Each has its own CURVE
// key pair (written into the coordinator's agents_dir before it starts), its own DEALER socket on
// one shared ZeroMQ context, and speaks the real wire protocol (common/codec.h).
// Thread-safety: none; one thread owns every socket.
#pragma once

#include <zmq.h>

#include <chrono>
#include <cstdio>
#include <memory>
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

inline std::vector<zmq_pollitem_t> pollItems(std::vector<SimulatedAgent>& agents) {
  std::vector<zmq_pollitem_t> items;
  items.reserve(agents.size());
  for (auto& agent : agents) {
    items.push_back(zmq_pollitem_t{agent.socket->handle(), 0, ZMQ_POLLIN, 0});
  }
  return items;
}

// Polls every agent's socket once (waiting up to `timeout`) and calls on(index, message) for each
// coordinator message that decodes.
template <typename OnMessage>
void pollMessages(std::vector<SimulatedAgent>& agents, std::vector<zmq_pollitem_t>& items,
                  std::chrono::milliseconds timeout, OnMessage&& on) {
  zmq::poll(items.data(), items.size(), timeout);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
    zmq::message_t frame;
    while (agents[i].socket->recv(frame, zmq::recv_flags::dontwait)) {
      auto message = decodeCoordinatorMessage(
          Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
      if (message) on(i, *message);
    }
  }
}

// Waits until every agent got its Welcome; returns how many did.
// As the real agent does, a connection not welcomed within 3 s of its hello says hello again (a
// hello can be lost while thousands of CURVE handshakes complete at once).
inline std::size_t waitForWelcomes(std::vector<SimulatedAgent>& agents,
                                   std::chrono::milliseconds timeout,
                                   const std::vector<ServiceRelease>& services = {}) {
  auto items = pollItems(agents);
  std::vector<bool> welcomed(agents.size(), false);
  std::size_t count = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto nextHello = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (count < agents.size() && std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= nextHello) {
      nextHello = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      for (std::size_t i = 0; i < agents.size(); ++i) {
        if (!welcomed[i]) sendAgent(*agents[i].socket, AgentMessage{helloOf(agents[i], services)});
      }
    }
    pollMessages(agents, items, std::chrono::milliseconds(100),
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
