// bench_ingest: telemetry windows decoded and stored per second by a real coordinator with CURVE
// on. N simulated agent connections (one process, each with its own enrolled key) declare service
// "web" in their Hello, then send TelemetryReport messages of one realistic window each as fast
// as they can; the rate is windows counted in the coordinator's SQLite `telemetry` table over
// time. Printed beside it: raw ZeroMQ CURVE DEALER->ROUTER throughput (tcp loopback, this
// process) for the same payload size.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/abort/simulated_agents.h"
#include "tests/support/fleet/fleet.h"

using namespace rollgate;
using rollgate::testing::LocalFleet;
using Clock = std::chrono::steady_clock;

namespace {

double secondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

TelemetryWindow realisticWindow(std::uint64_t startMillis) {
  TelemetryWindow w;
  w.service = "web";
  w.release = "1.0.0";
  w.startMillis = startMillis;
  w.endMillis = startMillis + 10000;
  w.requests = 1843;
  w.status2xx = 1790;
  w.status3xx = 21;
  w.status4xx = 29;
  w.status5xx = 3;
  w.statusCodes = {{200, 1790}, {304, 21}, {404, 29}, {503, 3}};
  w.latencyBucketUpperMicros = {5000, 25000, 100000, 500000};
  w.latencyBucketCounts = {1502, 290, 48, 3};
  w.errorLogLines = 2;
  w.cpuMillis = 412;
  w.memoryBytes = 48u << 20;
  w.unitActive = true;
  w.mainPid = 4242;
  return w;
}

std::uint64_t countRows(const std::string& db) {
  auto out = testing::runCommand({"sqlite3", db, "SELECT COUNT(*) FROM telemetry"});
  if (out.exitCode != 0) return 0;
  return std::strtoull(out.out.c_str(), nullptr, 10);
}

// Raw ZeroMQ: one DEALER sends `count` payloads of `bytes` to one ROUTER over tcp loopback, CURVE
// on both ends; returns messages per second measured at the receiver.
double rawCurveRate(std::size_t count, std::size_t bytes) {
  zmq::context_t context(2);
  auto server = generateCurveKeyPair();
  auto client = generateCurveKeyPair();
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::curve_server, 1);
  router.set(zmq::sockopt::curve_secretkey, server.secretKey);
  router.set(zmq::sockopt::rcvhwm, 0);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:0");
  std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::thread sender([&] {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::curve_serverkey, server.publicKey);
    dealer.set(zmq::sockopt::curve_publickey, client.publicKey);
    dealer.set(zmq::sockopt::curve_secretkey, client.secretKey);
    dealer.set(zmq::sockopt::sndhwm, 0);
    dealer.set(zmq::sockopt::linger, 5000);
    dealer.connect(endpoint);
    std::string payload(bytes, 'x');
    for (std::size_t i = 0; i < count; ++i) dealer.send(zmq::buffer(payload), zmq::send_flags::none);
  });
  zmq::message_t identity;
  zmq::message_t body;
  Clock::time_point first;
  for (std::size_t i = 0; i < count; ++i) {
    (void)router.recv(identity);
    (void)router.recv(body);
    if (i == 0) first = Clock::now();
  }
  double seconds = secondsBetween(first, Clock::now());
  sender.join();
  return static_cast<double>(count - 1) / seconds;
}

int run(int hosts, int perHost) {
  // The per-host quotas ([limits]) raised out of the way: this measures the store's capacity.
  LocalFleet fleet("heartbeat_seconds = 600\nhost_timeout_seconds = 3600\n"
                   "[limits]\ntelemetry_windows_per_second = 1000000\n"
                   "telemetry_bytes_per_second = 1099511627776\nmessages_per_second = 10000000\n");
  auto agents = bench::makeSimulatedAgents(hosts, "tel-", fleet.dir().file("agents.d"));
  fleet.startCoordinator();
  if (!fleet.waitForCoordinator()) {
    std::fprintf(stderr, "coordinator did not answer\n");
    return 1;
  }
  zmq::context_t context(2);
  bench::connectAndHello(context, agents, "tcp://127.0.0.1:" + std::to_string(fleet.agentPort()),
                         fleet.coordinatorPublicKey(), {ServiceRelease{"web", "1.0.0", {}}});
  if (bench::waitForWelcomes(agents, std::chrono::seconds(60)) != agents.size()) {
    std::fprintf(stderr, "not every connection was welcomed\n");
    return 1;
  }
  std::string db = fleet.dir().file("state/coordinator.db");
  std::uint64_t before = countRows(db);

  // Encoded up front so the sender measures the coordinator, not our encoder.
  auto now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::size_t payloadBytes = 0;
  std::vector<std::vector<std::string>> payloads(agents.size());
  for (std::size_t h = 0; h < agents.size(); ++h) {
    payloads[h].reserve(static_cast<std::size_t>(perHost));
    for (int k = 0; k < perHost; ++k) {
      TelemetryReport report;
      report.windows.push_back(
          realisticWindow(now - static_cast<std::uint64_t>(perHost - k) * 10000));
      payloads[h].push_back(encode(AgentMessage{report}));
      payloadBytes = payloads[h].back().size();
    }
  }
  const std::uint64_t total = static_cast<std::uint64_t>(hosts) * static_cast<std::uint64_t>(perHost);
  std::printf("telemetry: %d connections x %d reports of one window, %zu bytes encoded each\n",
              hosts, perHost, payloadBytes);

  auto start = Clock::now();
  for (int k = 0; k < perHost; ++k) {
    for (std::size_t h = 0; h < agents.size(); ++h) {
      agents[h].socket->send(zmq::buffer(payloads[h][static_cast<std::size_t>(k)]),
                             zmq::send_flags::none);
    }
  }
  double sendSeconds = secondsBetween(start, Clock::now());
  std::uint64_t stored = 0;
  std::vector<std::pair<double, std::uint64_t>> samples;
  while (secondsBetween(start, Clock::now()) < 120) {
    stored = countRows(db) - before;
    samples.emplace_back(secondsBetween(start, Clock::now()), stored);
    if (stored >= total) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  double seconds = samples.back().first;
  std::printf("sender queued all %llu reports in %.2f s\n", static_cast<unsigned long long>(total),
              sendSeconds);
  std::printf("coordinator: %llu/%llu windows stored in %.2f s -> %.0f windows/s "
              "(counted with sqlite3 every ~50 ms)\n",
              static_cast<unsigned long long>(stored), static_cast<unsigned long long>(total),
              seconds, static_cast<double>(stored) / seconds);
  // Steady rate between 20% and 80% stored (leaves out start-up and the tail).
  double t20 = -1, t80 = -1;
  for (auto& [t, n] : samples) {
    if (t20 < 0 && n >= total / 5) t20 = t;
    if (t80 < 0 && n >= total * 4 / 5) t80 = t;
  }
  if (t20 >= 0 && t80 > t20) {
    std::printf("coordinator steady rate (20%%..80%% of windows): %.0f windows/s\n",
                static_cast<double>(total * 3 / 5) / (t80 - t20));
  }
  for (auto& agent : agents) agent.socket.reset();
  double raw = rawCurveRate(static_cast<std::size_t>(std::min<std::uint64_t>(total, 1000000)),
                            payloadBytes);
  std::printf("raw ZeroMQ CURVE (1 DEALER -> 1 ROUTER, tcp loopback, %zu-byte messages): %.0f msg/s\n",
              payloadBytes, raw);
  std::printf("goal: >= 350,000 windows/s stored -> %s\n",
              static_cast<double>(stored) / seconds >= 350000 ? "met" : "NOT met");
  return stored >= total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = argc > 1 ? std::atoi(argv[1]) : 50;
  int perHost = argc > 2 ? std::atoi(argv[2]) : 4000;
  try {
    return run(hosts, perHost);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ingest: %s\n", e.what());
    return 1;
  }
}
