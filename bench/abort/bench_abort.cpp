// bench_abort: simulated agent connections (CURVE on, each with its own enrolled key) say hello
// to a real coordinator; then `rollgate abort --all --json` runs and each connection answers its
// Abort with AckAbort as soon as it arrives. The connections live in worker processes of at most
// 5,000 each (this binary again, `--worker`): one process cannot hold 10,000 ZeroMQ sockets under
// a 20,000 file-descriptor limit. Prints, from one run:
//  - the peer: CURVE handshakes per second against a bare ZeroMQ ROUTER that echoes one frame
//    (same I/O threads and backlog as the coordinator's agent socket, no rollgate code);
//  - how long until every connection was welcomed after the coordinator started;
//  - the coordinator's memory per connected host (RSS before and after);
//  - the coordinator's acknowledgement percentiles (from the CLI's JSON) and, measured by the
//    workers, the time from the CLI's start to each connection receiving its Abort.
// `--postgres` runs the same with the coordinator's state in a PostgreSQL started for the run.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq_addon.hpp>

#include "bench/abort/bench_postgres.h"
#include "bench/abort/simulated_agents.h"
#include "tests/support/fleet/fleet.h"
#include "tests/support/postgres/postgres_server.h"

using namespace rollgate;
using rollgate::testing::LocalFleet;
using rollgate::testing::Process;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPerWorker = 5000;
constexpr int kCoordinatorIoThreads = 1;  // as the coordinator's context (2 was slower here)

double millisBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::uint64_t wallMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

long rssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// ---- worker: `--worker MODE KEYFILE FIRST COUNT ENDPOINT SERVERKEY RESULTFILE`
// MODE raw: send one frame per connection, report when every one was answered.
// MODE agent: hello, welcome, then ack every Abort and write its arrival times (wall ms).

std::vector<bench::SimulatedAgent> loadAgents(const std::string& keyFile, int first, int count) {
  std::ifstream in(keyFile);
  std::vector<bench::SimulatedAgent> agents;
  std::string name, publicKey, secretKey;
  for (int i = 0; in >> name >> publicKey >> secretKey; ++i) {
    if (i < first || i >= first + count) continue;
    agents.push_back({name, CurveKeyPair{publicKey, secretKey}, nullptr});
  }
  return agents;
}

int runWorker(char** argv) {
  std::string mode = argv[0];
  auto agents = loadAgents(argv[1], std::atoi(argv[2]), std::atoi(argv[3]));
  std::string endpoint = argv[4];
  std::string serverKey = argv[5];
  std::string resultFile = argv[6];
  zmq::context_t context(2);  // the client side's handshakes are not the figure measured
  context.set(zmq::ctxopt::max_sockets, static_cast<int>(agents.size()) + 64);
  auto start = Clock::now();
  if (mode == "raw") {
    for (auto& agent : agents) {
      agent.socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
      agent.socket->set(zmq::sockopt::linger, 0);
      configureCurveClient(*agent.socket, agent.keys.secretKey, agent.keys.publicKey, serverKey,
                           bench::kBenchMaxMessageBytes);
      agent.socket->connect(endpoint);
      agent.socket->send(zmq::str_buffer("x"), zmq::send_flags::none);
    }
    bench::AgentPoller poller(agents);
    std::vector<bool> answered(agents.size(), false);
    std::size_t count = 0;
    while (count < agents.size() && Clock::now() - start < std::chrono::seconds(90)) {
      poller.forEachFrame(std::chrono::milliseconds(100),
                          [&](std::size_t i, const zmq::message_t&) {
                            if (!answered[i]) ++count;
                            answered[i] = true;
                          });
    }
    std::printf("answered %zu of %zu in %.3f s\n", count, agents.size(),
                millisBetween(start, Clock::now()) / 1000);
    std::fflush(stdout);
    // Then every ping the server sends is echoed at once, as an agent acks an abort.
    std::size_t pinged = 0;
    auto deadline = Clock::now() + std::chrono::seconds(120);
    while (pinged < agents.size() && Clock::now() < deadline) {
      poller.forEachFrame(std::chrono::milliseconds(100),
                          [&](std::size_t i, zmq::message_t& frame) {
                            agents[i].socket->send(frame, zmq::send_flags::none);
                            ++pinged;
                          });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // echoes leave before close
    for (auto& agent : agents) agent.socket.reset();
    return count == agents.size() ? 0 : 1;
  }
  bench::connectAndHello(context, agents, endpoint, serverKey, {});
  std::size_t welcomed = bench::waitForWelcomes(agents, std::chrono::seconds(90));
  std::printf("welcomed %zu of %zu in %.3f s\n", welcomed, agents.size(),
              millisBetween(start, Clock::now()) / 1000);
  std::fflush(stdout);
  bench::AgentPoller poller(agents);
  std::vector<std::uint64_t> receivedAt(agents.size(), 0);
  std::size_t received = 0;
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (received < agents.size() && Clock::now() < deadline) {
    poller.forEachMessage(
        std::chrono::milliseconds(100), [&](std::size_t i, const CoordinatorMessage& message) {
          const auto* abort = std::get_if<Abort>(&message);
          if (abort == nullptr) return;
          bench::sendAgent(*agents[i].socket, AgentMessage{AckAbort{abort->abortId, {}}});
          if (receivedAt[i] == 0) {
            receivedAt[i] = wallMillis();
            ++received;
          }
        });
  }
  // Acks still queued go out before the sockets close.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::ofstream out(resultFile);
  for (std::uint64_t at : receivedAt) out << at << "\n";
  out.close();
  std::printf("aborts %zu of %zu\n", received, agents.size());
  std::fflush(stdout);
  for (auto& agent : agents) agent.socket.reset();
  return 0;
}

// ---- the parent

struct Workers {
  std::vector<Process> processes;
  std::vector<std::string> logs;
  std::vector<std::string> results;
};

Workers spawnWorkers(const std::string& mode, const std::string& dir, const std::string& keyFile,
                     int count, const std::string& endpoint, const std::string& serverKey) {
  Workers workers;
  for (int first = 0, index = 0; first < count; first += kPerWorker, ++index) {
    std::string tag = mode + "-" + std::to_string(index);
    workers.logs.push_back(dir + "/worker-" + tag + ".out");
    workers.results.push_back(dir + "/worker-" + tag + ".result");
    workers.processes.push_back(
        Process::spawn({"/proc/self/exe", "--worker", mode, keyFile, std::to_string(first),
                        std::to_string(std::min(kPerWorker, count - first)), endpoint, serverKey,
                        workers.results.back()},
                       workers.logs.back()));
  }
  return workers;
}

// Waits until every worker's log has a line starting with `word`; sums its "N of M in T s".
struct Reported {
  std::size_t done = 0;
  double slowestSeconds = 0;
  bool all = false;
};
Reported waitForReports(const Workers& workers, const std::string& word,
                        std::chrono::seconds timeout) {
  Reported reported;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    reported = Reported{0, 0, true};
    for (const auto& log : workers.logs) {
      std::string text = testing::readFile(log);
      auto at = text.find(word + " ");
      if (at == std::string::npos) {
        reported.all = false;
        continue;
      }
      std::size_t done = 0, of = 0;
      double seconds = 0;
      std::sscanf(text.c_str() + at + word.size(), " %zu of %zu in %lf", &done, &of, &seconds);
      reported.done += done;
      reported.slowestSeconds = std::max(reported.slowestSeconds, seconds);
    }
    if (reported.all || Clock::now() >= deadline) return reported;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The peer: a bare CURVE ROUTER echoing every frame, with the coordinator's I/O threads (1) and
// agent-socket backlog (4096). Once every connection is answered, it sends each one a frame and
// times the echoes from the moment the first is sent: the transport's own round trip to every
// connection, the floor under the abort's acknowledgement times.
struct Peer {
  double handshakesPerSecond = 0;
  double roundTripP50 = 0;
  double roundTripP99 = 0;
};
Peer runPeer(const std::string& dir, const std::string& keyFile, int count) {
  zmq::context_t context(kCoordinatorIoThreads);
  auto keys = generateCurveKeyPair();
  zmq::socket_t router(context, zmq::socket_type::router);
  configureCurveServer(router, keys.secretKey, "bench",
                       bench::kBenchMaxMessageBytes);  // no ZAP handler: any key
  router.set(zmq::sockopt::backlog, 4096);
  router.set(zmq::sockopt::sndhwm, 0);
  router.bind("tcp://127.0.0.1:*");
  std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::atomic<bool> stop{false};
  std::atomic<bool> ping{false};
  std::vector<std::string> identities;
  std::vector<double> roundTrips;
  std::thread echo([&] {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    Clock::time_point pingStart;
    bool pinging = false;
    while (!stop) {
      if (ping && !pinging) {
        pinging = true;
        pingStart = Clock::now();
        for (const auto& id : identities) {
          router.send(zmq::buffer(id), zmq::send_flags::sndmore);
          router.send(zmq::str_buffer("p"), zmq::send_flags::none);
        }
      }
      zmq::poll(&item, 1, std::chrono::milliseconds(pinging ? 1 : 50));
      std::vector<zmq::message_t> frames;
      while (zmq::recv_multipart(router, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        if (pinging) {
          roundTrips.push_back(millisBetween(pingStart, Clock::now()));
        } else {
          identities.push_back(frames[0].to_string());
          zmq::send_multipart(router, frames);
        }
        frames.clear();
      }
      if (pinging && roundTrips.size() >= identities.size()) stop = true;
    }
  });
  long rssBefore = rssKiB(::getpid());
  auto start = Clock::now();
  Workers workers = spawnWorkers("raw", dir, keyFile, count, endpoint, keys.publicKey);
  Reported answered = waitForReports(workers, "answered", std::chrono::seconds(120));
  double seconds = millisBetween(start, Clock::now()) / 1000;
  long rssAfter = rssKiB(::getpid());
  ping = true;
  for (auto& process : workers.processes) process.wait(std::chrono::seconds(150));
  stop = true;
  echo.join();
  Peer peer;
  peer.handshakesPerSecond = static_cast<double>(answered.done) / answered.slowestSeconds;
  peer.roundTripP50 = percentile(roundTrips, 0.5);
  peer.roundTripP99 = percentile(roundTrips, 0.99);
  std::printf(
      "peer: bare CURVE ROUTER (%d I/O thread, backlog 4096): %zu of %d handshakes + one "
      "echo in %.2f s (slowest worker %.2f s) = %.0f handshakes/s\n",
      kCoordinatorIoThreads, answered.done, count, seconds, answered.slowestSeconds,
      peer.handshakesPerSecond);
  std::printf("peer: its process grew by %.1f KiB per connection (libzmq's own state)\n",
              static_cast<double>(rssAfter - rssBefore) / count);
  std::printf(
      "peer: one frame to every connection, echoed: %zu of %d, round trip p50 %.1f ms, "
      "p99 %.1f ms\n",
      roundTrips.size(), count, peer.roundTripP50, peer.roundTripP99);
  std::fflush(stdout);
  return peer;
}

int run(int count, bool postgres) {
  std::unique_ptr<testing::PostgresServer> pg;
  testing::SharedStore shared;
  if (postgres && !bench::startPostgres(pg, shared)) return 1;
  std::printf("store: %s; %d connections in %d worker processes\n",
              postgres ? "PostgreSQL 15 (loopback)" : "SQLite", count,
              (count + kPerWorker - 1) / kPerWorker);
  // No heartbeats needed during the run: the host timeout is far away.
  LocalFleet fleet("heartbeat_seconds = 600\nhost_timeout_seconds = 3600\n", shared);
  auto agents = bench::makeSimulatedAgents(count, "sim-", fleet.dir().file("agents.d"));
  std::string keyFile = fleet.dir().file("bench-agents.keys");
  {
    std::ofstream keys(keyFile);
    for (const auto& agent : agents) {
      keys << agent.name << " " << agent.keys.publicKey << " " << agent.keys.secretKey << "\n";
    }
  }
  Peer peer = runPeer(fleet.dir().path(), keyFile, count);

  fleet.startCoordinator();
  if (!fleet.waitForCoordinator()) {
    std::fprintf(stderr, "coordinator did not answer\n");
    return 1;
  }
  long rssBefore = rssKiB(fleet.coordinatorPid());
  auto connectStart = Clock::now();
  Workers workers = spawnWorkers("agent", fleet.dir().path(), keyFile, count,
                                 "tcp://127.0.0.1:" + std::to_string(fleet.agentPort()),
                                 fleet.coordinatorPublicKey());
  Reported welcomed = waitForReports(workers, "welcomed", std::chrono::seconds(120));
  std::printf(
      "connections: %zu of %d welcomed in %.2f s from the workers' start (slowest worker "
      "%.2f s; CURVE handshake + hello + welcome, hello again after 3 s without one)\n",
      welcomed.done, count, millisBetween(connectStart, Clock::now()) / 1000,
      welcomed.slowestSeconds);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // registrations stored, logs written
  long rssAfter = rssKiB(fleet.coordinatorPid());
  std::printf(
      "coordinator memory: RSS %.1f MiB before, %.1f MiB with %d hosts connected = %.1f "
      "KiB per host\n",
      rssBefore / 1024.0, rssAfter / 1024.0, count,
      static_cast<double>(rssAfter - rssBefore) / count);
  std::fflush(stdout);
  if (welcomed.done != static_cast<std::size_t>(count)) {
    for (auto& process : workers.processes) process.stop(std::chrono::seconds(5));
    return 1;
  }

  std::string cliLog = fleet.dir().file("abort-cli.out");
  std::vector<std::string> argv{
      testing::binDir() + "/rollgate", "abort", "--all", "--reason", "bench", "--json"};
  std::uint64_t startWall = wallMillis();
  auto start = Clock::now();
  Process cli = Process::spawn(argv, cliLog, fleet.cliEnvironment());
  int code = cli.wait(std::chrono::seconds(90));
  double cliMillis = millisBetween(start, Clock::now());
  for (auto& process : workers.processes) process.wait(std::chrono::seconds(150));
  std::vector<double> got;
  for (const auto& result : workers.results) {
    std::ifstream in(result);
    std::uint64_t at = 0;
    while (in >> at) {
      if (at > 0) got.push_back(at >= startWall ? static_cast<double>(at - startWall) : 0.0);
    }
  }
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
  std::printf(
      "coordinator (CLI JSON): acknowledged %llu/%llu, ack_ms p50 %llu, p99 %llu, max %llu, "
      "elapsed %llu ms\n",
      json.value("acknowledged", 0ULL), json.value("targets", 0ULL),
      json["ack_ms"].value("p50", 0ULL), json["ack_ms"].value("p99", 0ULL),
      json["ack_ms"].value("max", 0ULL), json.value("elapsed_ms", 0ULL));
  std::printf(
      "workers: %zu/%d connections got their Abort; from CLI start: p50 %.1f ms, "
      "p99 %.1f ms, max %.1f ms\n",
      got.size(), count, percentile(got, 0.5), percentile(got, 0.99), percentile(got, 1.0));
  std::printf(
      "beside the peer: welcome %.2f s against %.2f s of bare handshakes; ack p99 %llu ms "
      "against a bare round trip p99 of %.1f ms\n",
      welcomed.slowestSeconds, count / peer.handshakesPerSecond, json["ack_ms"].value("p99", 0ULL),
      peer.roundTripP99);
  std::printf("goal: every one welcomed within 10 s -> %s; ack p99 < 100 ms -> %s\n",
              welcomed.done == static_cast<std::size_t>(count) && welcomed.slowestSeconds < 10
                  ? "met"
                  : "NOT met",
              json["ack_ms"].value("p99", 1000000ULL) < 100 &&
                      json.value("acknowledged", 0ULL) == static_cast<unsigned long long>(count)
                  ? "met"
                  : "NOT met");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 9 && std::string(argv[1]) == "--worker") {
    try {
      return runWorker(argv + 2);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_abort worker: %s\n", e.what());
      return 1;
    }
  }
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
