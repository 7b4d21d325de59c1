// A real agent listing two coordinators, against two scripted ones on loopback (CURVE, the real
// wire protocol) that share one key, as coordinators on PostgreSQL do: the new leader welcomes it
// with epoch 6; when that leader is gone the agent fails over to the old one, which still
// believes it leads, welcomes it with epoch 5 and sends it a command at once, as a coordinator
// resends its pending commands after a hello. The agent refuses the session and acts on nothing
// it sent: no result comes back for the command. When the new leader is back, the same kind of
// command from it is answered, so the silence above is a refusal and not a lost message.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/keys.h"
#include "common/transport.h"
#include "tests/support/fleet/process.h"

using namespace rollgate;
using namespace rollgate::testing;

namespace {

// A coordinator reduced to what this test needs: it welcomes every hello with its epoch, then
// sends the commands queued for the agent, and records the results it gets.
class ScriptedCoordinator {
 public:
  ScriptedCoordinator(std::string secretKey, int port, std::uint64_t epoch)
      : secretKey_(std::move(secretKey)), port_(port), epoch_(epoch) {}
  ~ScriptedCoordinator() { stop(); }

  void start() {
    stop_ = false;
    thread_ = std::thread([this] { run(); });
  }
  // Closes its socket: the agent sees a coordinator that is gone.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Sent right after the next welcome (and at once if the agent is connected and welcomed).
  void queueCommand(Command command) {
    std::lock_guard lock(mutex_);
    queued_.push_back(std::move(command));
  }
  std::vector<CommandResult> results() {
    std::lock_guard lock(mutex_);
    return results_;
  }
  int hellos() const { return hellos_; }

 private:
  void run() {
    zmq::context_t context(1);
    zmq::socket_t router(context, zmq::socket_type::router);
    configureCurveServer(router, secretKey_, "scripted", 1 << 20);  // no ZAP handler: any key
    router.bind("tcp://127.0.0.1:" + std::to_string(port_));
    std::string agent;
    while (!stop_) {
      zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      zmq::message_t routing;
      zmq::message_t payload;
      while (router.recv(routing, zmq::recv_flags::dontwait) &&
             router.recv(payload, zmq::recv_flags::dontwait)) {
        auto message = decodeAgentMessage(
            Bytes(static_cast<const std::uint8_t*>(payload.data()), payload.size()));
        if (!message) continue;
        if (const auto* hello = std::get_if<Hello>(&*message)) {
          ++hellos_;
          agent = routing.to_string();
          send(router, agent,
               CoordinatorMessage{Welcome{hello->claimedHost, epoch_, 1000, 10000, false}});
          sendQueued(router, agent);
        } else if (const auto* result = std::get_if<CommandResult>(&*message)) {
          std::lock_guard lock(mutex_);
          results_.push_back(*result);
        }
      }
    }
  }
  void sendQueued(zmq::socket_t& router, const std::string& agent) {
    std::vector<Command> commands;
    {
      std::lock_guard lock(mutex_);
      commands.swap(queued_);
    }
    for (auto& command : commands) send(router, agent, CoordinatorMessage{std::move(command)});
  }
  static void send(zmq::socket_t& router, const std::string& agent,
                   const CoordinatorMessage& message) {
    std::string payload = encode(message);
    router.send(zmq::buffer(agent), zmq::send_flags::sndmore);
    router.send(zmq::buffer(payload), zmq::send_flags::dontwait);
  }

  std::string secretKey_;
  int port_;
  std::uint64_t epoch_;
  std::atomic<bool> stop_{false};
  std::atomic<int> hellos_{0};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Command> queued_;
  std::vector<CommandResult> results_;
};

Command activate(const std::string& rolloutId, std::uint64_t epoch) {
  Command command;
  command.ref = CommandRef{rolloutId, 1, epoch};
  command.service = "web";  // not declared by the agent: answered with a failed result at once
  command.body = ActivateRelease{"1.0.0"};
  return command;
}

}  // namespace

TEST_CASE("an agent refuses the session and the commands of a coordinator older than its leader") {
  TempDir dir("rollgate-agent-epochs");
  CurveKeyPair keys = generateCurveKeyPair();
  REQUIRE(writeKeyPair(dir.file("coordinator"), keys, true).ok());
  auto keygen = runCommand({binDir() + "/rollgate-agent", "keygen", "--out", dir.file("agent")});
  REQUIRE_MESSAGE(keygen.exitCode == 0, keygen.out << keygen.err);

  const int newPort = freePort();
  const int oldPort = freePort();
  ScriptedCoordinator leader(keys.secretKey, newPort, 6);
  ScriptedCoordinator oldLeader(keys.secretKey, oldPort, 5);
  leader.start();
  oldLeader.start();

  writeFile(dir.file("agent.toml"),
            "[agent]\nhost = \"web-1\"\nregion = \"eu\"\ncluster = \"eu-a\"\n"
            "coordinator = [\"tcp://127.0.0.1:" +
                std::to_string(newPort) + "\", \"tcp://127.0.0.1:" + std::to_string(oldPort) +
                "\"]\n" + "broadcast = [\"tcp://127.0.0.1:" + std::to_string(freePort()) +
                "\", \"tcp://127.0.0.1:" + std::to_string(freePort()) + "\"]\n" +
                "coordinator_key = \"" + dir.file("coordinator.pub") + "\"\n" + "key = \"" +
                dir.file("agent.key") + "\"\n" + "state_dir = \"" + dir.file("state") +
                "\"\nheartbeat_seconds = 1\nsystemd = \"none\"\n");
  const std::string log = dir.file("agent.log");
  Process agent =
      Process::spawn({binDir() + "/rollgate-agent", "--config", dir.file("agent.toml")}, log);
  auto logHas = [&](const std::string& text) {
    return readFile(log).find(text) != std::string::npos;
  };
  REQUIRE_MESSAGE(waitUntil([&] { return logHas("(epoch 6)"); }, std::chrono::seconds(30)),
                  readFile(log));

  // The leader goes away; the old one, which still believes it leads, has a command to resend.
  oldLeader.queueCommand(activate("r-old", 5));
  leader.stop();
  CHECK_MESSAGE(
      waitUntil([&] { return logHas("older than epoch 6 that leads; refusing its session"); },
                std::chrono::seconds(30)),
      readFile(log));
  CHECK(oldLeader.hellos() >= 1);
  // Whatever the old leader sent is not acted on: no result, no command in the agent's log.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK_MESSAGE(oldLeader.results().empty(), readFile(log));
  CHECK_FALSE(logHas("command r-old #1 (epoch 5) for service web"));

  // The leader is back: the agent follows it, and the same command from it is answered.
  leader.queueCommand(activate("r-new", 6));
  leader.start();
  CHECK_MESSAGE(waitUntil([&] { return !leader.results().empty(); }, std::chrono::seconds(30)),
                readFile(log));
  auto results = leader.results();
  REQUIRE_FALSE(results.empty());
  CHECK(results.front().command.rolloutId == "r-new");
  CHECK(results.front().message.find("not declared") != std::string::npos);
  CHECK(oldLeader.results().empty());
  agent.stop();
  oldLeader.stop();
}
