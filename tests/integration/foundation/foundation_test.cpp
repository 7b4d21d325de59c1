// Foundation end to end: a real coordinator and real agents on loopback, real CURVE and ZAP.
#include <doctest/doctest.h>
#include <signal.h>

#include <random>
#include <thread>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/keys.h"
#include "common/transport.h"
#include "tests/support/fleet/fleet.h"

using namespace rollgate;
using namespace rollgate::testing;

namespace {

const nlohmann::json* findHost(const nlohmann::json& hosts, const std::string& name) {
  if (!hosts.contains("hosts")) return nullptr;
  for (const auto& host : hosts["hosts"]) {
    if (host.value("name", "") == name) return &host;
  }
  return nullptr;
}

// A raw CURVE DEALER with its own key, for sending what a real agent never would.
struct RawClient {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  CurveKeyPair keys = generateCurveKeyPair();
  // `enrollAs`: enroll the key under this name before connecting (a refused handshake is final).
  RawClient(const LocalFleet& fleet, bool curve, const std::string& enrollAs = "") {
    socket.set(zmq::sockopt::linger, 0);
    if (curve) {
      configureCurveClient(socket, keys.secretKey, keys.publicKey, fleet.coordinatorPublicKey(),
                           kMaxCoordinatorMessageBytes);
    }
    if (!enrollAs.empty()) {
      REQUIRE(fleet.cli({"hosts", "enroll", enrollAs, keys.publicKey}).exitCode == 0);
    }
    socket.connect("tcp://127.0.0.1:" + std::to_string(fleet.agentPort()));
  }
  void send(const std::string& payload) {
    socket.send(zmq::buffer(payload), zmq::send_flags::dontwait);
  }
  // True if anything at all came back within `millis`.
  bool heardBack(int millis) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(millis));
    return (item.revents & ZMQ_POLLIN) != 0;
  }
};

std::string randomFrame(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> size(0, 512);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string frame(size(rng), '\0');
  for (char& c : frame) c = static_cast<char>(byte(rng));
  // Half of them start like a real Cap'n Proto message so the decoder gets past the header.
  if (frame.size() >= 8 && rng() % 2 == 0) {
    frame[0] = frame[1] = frame[2] = frame[3] = 0;
    frame.resize(frame.size() / 8 * 8);
  }
  return frame;
}

}  // namespace

TEST_CASE("three agents register with their region and cluster") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  fleet.addAgent({"web-1", "eu-west", "eu-west-a"});
  fleet.addAgent({"web-2", "eu-west", "eu-west-b"});
  fleet.addAgent({"web-3", "us-east", "us-east-a"});
  for (auto name : {"web-1", "web-2", "web-3"}) fleet.startAgent(name);
  REQUIRE(fleet.waitForHealthy({"web-1", "web-2", "web-3"}));
  auto hosts = fleet.hosts();
  REQUIRE(hosts["hosts"].size() == 3);
  CHECK(findHost(hosts, "web-1")->at("region") == "eu-west");
  CHECK(findHost(hosts, "web-1")->at("cluster") == "eu-west-a");
  CHECK(findHost(hosts, "web-2")->at("cluster") == "eu-west-b");
  CHECK(findHost(hosts, "web-3")->at("region") == "us-east");
  CHECK(findHost(hosts, "web-3")->at("cluster") == "us-east-a");

  SUBCASE("the human table lists every host") {
    auto table = fleet.cli({"hosts"});
    CHECK(table.exitCode == 0);
    CHECK(table.out.find("web-2") != std::string::npos);
    CHECK(table.out.find("3 hosts, 3 healthy") != std::string::npos);
  }

  SUBCASE("an agent whose key is not enrolled never appears; the others keep working") {
    fleet.addAgent({"rogue", "eu-west", "eu-west-a", /*enroll=*/false});
    fleet.startAgent("rogue");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    CHECK(findHost(fleet.hosts(), "rogue") == nullptr);
    CHECK(fleet.waitForHealthy({"web-1", "web-2", "web-3"}));
    CHECK(fleet.coordinatorRunning());
    CHECK(readFile(fleet.agentLog("rogue")).find("registered") == std::string::npos);
  }

  SUBCASE("a revoked host is ignored at once, although its connection stays open") {
    REQUIRE(fleet.cli({"hosts", "revoke", "web-2"}).exitCode == 0);
    CHECK(findHost(fleet.hosts(), "web-2") == nullptr);
    // web-2 keeps heartbeating every second on its open connection; none of it may count.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    CHECK(findHost(fleet.hosts(), "web-2") == nullptr);
    CHECK(readFile(fleet.coordinatorLog()).find("dropped agent message from 'web-2'") !=
          std::string::npos);
    CHECK(fleet.waitForHealthy({"web-1", "web-3"}));
  }

  SUBCASE("agents come back by themselves after SIGKILL of the coordinator; the registry survives") {
    fleet.killCoordinator(SIGKILL);
    CHECK_FALSE(fleet.coordinatorRunning());
    fleet.startCoordinator();
    REQUIRE(fleet.waitForCoordinator());
    // Straight after the restart the registry already has every host (from SQLite).
    auto early = fleet.hosts();
    CHECK(early["hosts"].size() == 3);
    CHECK(fleet.waitForHealthy({"web-1", "web-2", "web-3"}));
    CHECK(findHost(fleet.hosts(), "web-3")->at("region") == "us-east");
  }
}

TEST_CASE("an agent started before its key is enrolled registers once it is") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  fleet.addAgent({"late", "eu-west", "eu-west-a", /*enroll=*/false});
  fleet.startAgent("late");
  REQUIRE(waitUntil([&] {
    return readFile(fleet.agentLog("late")).find("refused this agent's key") != std::string::npos;
  }));
  REQUIRE(fleet.cli({"hosts", "enroll", "late", fleet.dir().file("late.pub")}).exitCode == 0);
  CHECK(fleet.waitForHealthy({"late"}));
}

TEST_CASE("hostile clients get nothing and do not disturb the coordinator") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  fleet.addAgent({"web-1", "eu-west", "eu-west-a"});
  fleet.startAgent("web-1");
  REQUIRE(fleet.waitForHealthy({"web-1"}));
  std::mt19937_64 rng(42);

  SUBCASE("NULL mechanism client sending 10,000 random frames") {
    RawClient client(fleet, /*curve=*/false);
    for (int i = 0; i < 10000; ++i) client.send(randomFrame(rng));
    CHECK_FALSE(client.heardBack(1000));
  }
  SUBCASE("CURVE client with an unknown key sending 10,000 random frames") {
    RawClient client(fleet, /*curve=*/true);
    for (int i = 0; i < 10000; ++i) client.send(randomFrame(rng));
    CHECK_FALSE(client.heardBack(1000));
  }
  SUBCASE("an enrolled key sending 10,000 random frames: each is dropped, none answered") {
    RawClient client(fleet, /*curve=*/true, "noisy");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 10000; ++i) client.send(randomFrame(rng));
    CHECK_FALSE(client.heardBack(1500));
    CHECK(readFile(fleet.coordinatorLog()).find("dropped agent message from host noisy") !=
          std::string::npos);
  }
  CHECK(fleet.coordinatorRunning());
  CHECK(fleet.waitForHealthy({"web-1"}));
}

TEST_CASE("a hello that claims another host's name is recorded under its own key's name") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  fleet.addAgent({"web-1", "eu-west", "eu-west-a"});
  fleet.startAgent("web-1");
  REQUIRE(fleet.waitForHealthy({"web-1"}));

  RawClient imposter(fleet, /*curve=*/true, "imposter");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Hello hello;
  hello.claimedHost = "web-1";
  hello.region = "evil-region";
  hello.cluster = "evil-cluster";
  hello.agentVersion = "0.0.0";
  imposter.send(encode(AgentMessage{hello}));
  REQUIRE(imposter.heardBack(5000));  // the coordinator welcomes it, as "imposter"
  zmq::message_t reply;
  REQUIRE(imposter.socket.recv(reply, zmq::recv_flags::dontwait));
  auto welcome = decodeCoordinatorMessage(
      Bytes(static_cast<const std::uint8_t*>(reply.data()), reply.size()));
  REQUIRE(welcome.ok());
  CHECK(std::get<Welcome>(*welcome).host == "imposter");

  auto hosts = fleet.hosts();
  REQUIRE(findHost(hosts, "imposter") != nullptr);
  CHECK(findHost(hosts, "imposter")->at("region") == "evil-region");
  CHECK(findHost(hosts, "imposter")->at("claimed_host") == "web-1");
  CHECK(findHost(hosts, "web-1")->at("region") == "eu-west");
}

TEST_CASE("only one coordinator may own a state directory") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  auto second = runCommand({binDir() + "/rollgate-coordinator", "--config", fleet.coordinatorConfig()},
                           {}, std::chrono::seconds(30));
  CHECK(second.exitCode == 1);
  CHECK(second.err.find("owned by another coordinator") != std::string::npos);
  CHECK(fleet.coordinatorRunning());
}

TEST_CASE("config errors name the file, the key and what was expected") {
  TempDir dir;
  writeFile(dir.file("bad.toml"), "[coordinator]\nheartbeat_seconds = \"5s\"\n");
  auto out = runCommand({binDir() + "/rollgate-coordinator", "--config", dir.file("bad.toml")});
  CHECK(out.exitCode == 2);
  CHECK(out.err.find(dir.file("bad.toml")) != std::string::npos);
  CHECK(out.err.find("coordinator.heartbeat_seconds") != std::string::npos);
  CHECK(out.err.find("expected an integer") != std::string::npos);

  writeFile(dir.file("typo.toml"), "[agent]\nregion = \"eu\"\ncluster = \"a\"\n"
                                   "coordinator = \"tcp://127.0.0.1:1\"\nheartbeat_secs = 5\n");
  out = runCommand({binDir() + "/rollgate-agent", "--config", dir.file("typo.toml")});
  CHECK(out.exitCode == 2);
  CHECK(out.err.find("unknown key 'agent.heartbeat_secs'") != std::string::npos);

  out = runCommand({binDir() + "/rollgate-agent", "--config", dir.file("missing.toml")});
  CHECK(out.exitCode == 2);
  CHECK(out.err.find(dir.file("missing.toml")) != std::string::npos);
}

TEST_CASE("the CLI says which coordinator it could not reach") {
  LocalFleet fleet;  // never started
  auto out = fleet.cli({"hosts", "--timeout", "0.5"});
  CHECK(out.exitCode == 3);
  CHECK(out.err.find("127.0.0.1:" + std::to_string(fleet.adminPort())) != std::string::npos);
}
