// bench_abort: 1,000 agent connections simulated in one process (CURVE on, each with its own
// enrolled key) say hello to a real coordinator; then `rollgate abort --all --json` runs and each
// connection answers its Abort with AckAbort as soon as it arrives. Prints the coordinator's
// acknowledgement percentiles (from the CLI's JSON) and, measured here, the time from the CLI's
// start to each connection receiving its Abort. `--postgres` runs the same with the coordinator's
// state in a PostgreSQL started for the run (one coordinator leading, [store] url).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/abort/simulated_agents.h"
#include "tests/support/fleet/fleet.h"
#include "tests/support/postgres/postgres_server.h"

using namespace rollgate;
using rollgate::testing::LocalFleet;
using rollgate::testing::Process;
using Clock = std::chrono::steady_clock;

namespace {

double millisBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

int run(int count, bool postgres) {
  std::unique_ptr<testing::PostgresServer> pg;
  testing::SharedStore shared;
  if (postgres) {
    auto server = testing::PostgresServer::start();
    if (!server) {
      std::fprintf(stderr, "PostgreSQL: %s\n", server.error().message.c_str());
      return 1;
    }
    pg = std::move(*server);
    shared.urls = {pg->url()};
    shared.leaseSeconds = 10;
  }
  std::printf("store: %s\n", postgres ? "PostgreSQL 15 (loopback)" : "SQLite");
  // No heartbeats needed during the run: the host timeout is far away.
  LocalFleet fleet("heartbeat_seconds = 600\nhost_timeout_seconds = 3600\n", shared);
  auto agents = bench::makeSimulatedAgents(count, "sim-", fleet.dir().file("agents.d"));
  fleet.startCoordinator();
  if (!fleet.waitForCoordinator()) {
    std::fprintf(stderr, "coordinator did not answer\n");
    return 1;
  }
  zmq::context_t context(2);
  context.set(zmq::ctxopt::max_sockets, count + 64);
  auto connectStart = Clock::now();
  bench::connectAndHello(context, agents, "tcp://127.0.0.1:" + std::to_string(fleet.agentPort()),
                         fleet.coordinatorPublicKey(), {});
  std::size_t welcomed = bench::waitForWelcomes(agents, std::chrono::seconds(90));
  std::printf("connections: %zu of %d welcomed (CURVE handshakes + hello, hello again after 3 s "
              "without a welcome) in %.2f s\n",
              welcomed, count, millisBetween(connectStart, Clock::now()) / 1000);
  std::fflush(stdout);
  if (welcomed != agents.size()) {
    for (auto& agent : agents) agent.socket.reset();  // before the context goes
    return 1;
  }

  auto items = bench::pollItems(agents);
  std::vector<double> receivedMillis(agents.size(), -1);
  std::size_t received = 0;
  std::string cliLog = fleet.dir().file("abort-cli.out");
  std::vector<std::string> argv{testing::binDir() + "/rollgate", "abort", "--all", "--reason",
                                "bench", "--json"};
  auto start = Clock::now();
  Process cli = Process::spawn(argv, cliLog, fleet.cliEnvironment());
  while (Clock::now() - start < std::chrono::seconds(60)) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(received == agents.size() ? 20 : 1));
    auto now = Clock::now();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
      zmq::message_t frame;
      while (agents[i].socket->recv(frame, zmq::recv_flags::dontwait)) {
        auto message = decodeCoordinatorMessage(
            Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
        if (!message) continue;
        if (const auto* abort = std::get_if<Abort>(&*message)) {
          bench::sendAgent(*agents[i].socket, AgentMessage{AckAbort{abort->abortId, {}}});
          if (receivedMillis[i] < 0) {
            receivedMillis[i] = millisBetween(start, now);
            ++received;
          }
        }
      }
    }
    if (received == agents.size() && !cli.running()) break;
  }
  int code = cli.wait(std::chrono::seconds(15));
  double cliMillis = millisBetween(start, Clock::now());
  std::string out = testing::readFile(cliLog);
  auto brace = out.find('{');
  auto json = nlohmann::json::parse(brace == std::string::npos ? std::string("x") : out.substr(brace),
                                    nullptr, false);
  std::printf("rollgate abort --all --json: exit %d after %.0f ms (wall, incl. CLI start)\n", code,
              cliMillis);
  if (json.is_discarded()) {
    std::printf("CLI output is not JSON:\n%s\n", out.c_str());
    return 1;
  }
  std::printf("coordinator (CLI JSON): acknowledged %llu/%llu, ack_ms p50 %llu, p99 %llu, max %llu, "
              "elapsed %llu ms\n",
              json.value("acknowledged", 0ULL), json.value("targets", 0ULL),
              json["ack_ms"].value("p50", 0ULL), json["ack_ms"].value("p99", 0ULL),
              json["ack_ms"].value("max", 0ULL), json.value("elapsed_ms", 0ULL));
  std::vector<double> got;
  for (double m : receivedMillis) if (m >= 0) got.push_back(m);
  std::printf("in-process: %zu/%zu connections got their Abort; from CLI start: p50 %.1f ms, "
              "p99 %.1f ms, max %.1f ms\n",
              received, agents.size(), percentile(got, 0.5), percentile(got, 0.99),
              percentile(got, 1.0));
  std::printf("goal: p99 < 100 ms (coordinator's ack p99) -> %s\n",
              json["ack_ms"].value("p99", 1000000ULL) < 100 &&
                      json.value("acknowledged", 0ULL) == agents.size()
                  ? "met"
                  : "NOT met");
  for (auto& agent : agents) agent.socket.reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 1000;
  bool postgres = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--postgres") {
      postgres = true;
    } else {
      count = std::atoi(argv[i]);
    }
  }
  try {
    return run(count, postgres);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_abort: %s\n", e.what());
    return 1;
  }
}
