// bench_ingest: telemetry windows decoded and stored per second by a real coordinator with CURVE
// on. N simulated agent connections (one process, each with its own enrolled key) declare service
// "web" in their Hello, then send TelemetryReport messages of one realistic window each as fast
// as they can; the rate is windows the coordinator acknowledged over time (it acknowledges a
// window only once committed to its store: SQLite, or with `--postgres` a PostgreSQL 15 started
// for the run), and the rows in its `telemetry` table are counted at the end. Printed beside it: raw
// ZeroMQ CURVE DEALER->ROUTER throughput (tcp loopback, this process) for the same payload size,
// measured before and after the run, and the stored rate as a share of their mean (the goal: 50 %
// or more).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/abort/bench_postgres.h"
#include "bench/abort/simulated_agents.h"
#include "coordinator/store/pg.h"
#include "coordinator/store/sqlite.h"
#include "tests/support/fleet/fleet.h"
#include "tests/support/postgres/postgres_server.h"

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

// The coordinator's telemetry rows, counted over a connection of our own before and after the run.
class RowCounter {
 public:
  static Result<RowCounter> open(const std::string& sqlitePath, const std::string& postgresUrl) {
    RowCounter counter;
    if (!postgresUrl.empty()) {
      auto conn = pg::Connection::open(postgresUrl);
      if (!conn) return conn.error();
      counter.pg_ = std::move(*conn);
    } else {
      auto db = Database::openReadOnly(sqlitePath);
      if (!db) return db.error();
      counter.sqlite_ = std::move(*db);
    }
    return counter;
  }
  std::uint64_t count() { return query("SELECT COUNT(*) FROM telemetry"); }

 private:
  std::uint64_t query(const std::string& sql) {
    if (pg_) {
      auto rows = pg_->exec(sql);
      return rows && rows->size() == 1 ? static_cast<std::uint64_t>(rows->integer(0, 0)) : 0;
    }
    auto stmt = sqlite_->prepare(sql);
    if (!stmt || !stmt->step()) return 0;
    return static_cast<std::uint64_t>(stmt->integer(0));
  }
  std::unique_ptr<pg::Connection> pg_;
  std::unique_ptr<Database> sqlite_;
};

// CPU seconds (user + system, every thread) of process `pid` so far.
double cpuSeconds(pid_t pid) {
  return static_cast<double>(testing::cpuTicks(pid)) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Bytes process `pid` caused to be written to storage so far (/proc/<pid>/io write_bytes).
double writtenBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  double value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
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

int run(int hosts, int perHost, bool postgres) {
  std::unique_ptr<testing::PostgresServer> pg;
  testing::SharedStore shared;
  if (postgres && !bench::startPostgres(pg, shared)) return 1;
  std::printf("store: %s\n", postgres ? "PostgreSQL 15 (loopback)" : "SQLite");
  // The per-host quotas ([limits]) raised out of the way: this measures the store's capacity.
  LocalFleet fleet("heartbeat_seconds = 600\nhost_timeout_seconds = 3600\n"
                   "[limits]\ntelemetry_windows_per_second = 1000000\n"
                   "telemetry_bytes_per_second = 1099511627776\nmessages_per_second = 10000000\n",
                   shared);
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
  auto counter = RowCounter::open(fleet.dir().file("state/coordinator.db"),
                                  postgres ? pg->url() : std::string());
  if (!counter) {
    std::fprintf(stderr, "cannot read the coordinator's store: %s\n",
                 counter.error().message.c_str());
    return 1;
  }
  std::uint64_t rowsBefore = counter->count();

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
      report.windows.back().sequence = static_cast<std::uint64_t>(k) + 1;  // acknowledged
      payloads[h].push_back(encode(AgentMessage{report}));
      payloadBytes = payloads[h].back().size();
    }
  }
  const std::uint64_t total = static_cast<std::uint64_t>(hosts) * static_cast<std::uint64_t>(perHost);
  std::printf("telemetry: %d connections x %d reports of one window, %zu bytes encoded each\n",
              hosts, perHost, payloadBytes);
  // The peer is measured before the run and after it: on a shared machine its rate moves by more
  // than the coordinator's, and the mean of the two brackets the run in time.
  const auto rawCount = static_cast<std::size_t>(std::min<std::uint64_t>(total, 1000000));
  const double rawBefore = rawCurveRate(rawCount, payloadBytes);

  // Sent as fast as the coordinator stores them, with at most kInFlight windows sent and not yet
  // stored: beyond TelemetryStore::kMaxQueued waiting windows the coordinator turns windows away
  // (real agents keep them and send them again; these do not).
  constexpr std::uint64_t kInFlight = 50'000;
  auto start = Clock::now();
  double coordinatorCpuBefore = cpuSeconds(fleet.coordinatorPid());
  double ownCpuBefore = cpuSeconds(::getpid());
  double writtenBefore = writtenBytes(fleet.coordinatorPid());
  std::uint64_t sent = 0;
  double sendSeconds = 0;
  double boundSeconds = 0;  // the sender waiting for the in-flight bound
  std::uint64_t stored = 0;
  std::vector<std::pair<double, std::uint64_t>> samples;
  // Stored: the sum of the acknowledged sequences (AckTelemetry comes once a window is committed),
  // read from the sockets without a query that would take CPU from the coordinator or its database.
  std::vector<std::uint64_t> acked(agents.size(), 0);
  bench::AgentPoller poller(agents);
  auto sample = [&] {
    poller.recheckAll();  // the sockets were sent on since
    poller.forEachMessage(
        std::chrono::milliseconds(0), [&](std::size_t i, const CoordinatorMessage& message) {
          if (const auto* ack = std::get_if<AckTelemetry>(&message)) {
            stored += ack->throughSequence - std::min(acked[i], ack->throughSequence);
            acked[i] = std::max(acked[i], ack->throughSequence);
          }
        });
    samples.emplace_back(secondsBetween(start, Clock::now()), stored);
  };
  auto nextSample = start;
  while (secondsBetween(start, Clock::now()) < 120) {
    if (Clock::now() >= nextSample) {
      sample();
      nextSample += std::chrono::milliseconds(50);
      if (stored >= total) break;
    }
    if (sent < total && sent - std::min(sent, stored) < kInFlight) {
      for (int n = 0; n < 1000 && sent < total; ++n, ++sent) {
        std::size_t h = sent % agents.size();
        std::size_t k = sent / agents.size();
        agents[h].socket->send(zmq::buffer(payloads[h][k]), zmq::send_flags::none);
      }
      if (sent == total) sendSeconds = secondsBetween(start, Clock::now());
    } else {
      auto waitStart = Clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (sent < total) {
        boundSeconds += secondsBetween(waitStart, Clock::now());
        sample();  // how many are in flight now
      }
    }
  }
  double seconds = samples.back().first;
  double coordinatorCores = (cpuSeconds(fleet.coordinatorPid()) - coordinatorCpuBefore) / seconds;
  double ownCores = (cpuSeconds(::getpid()) - ownCpuBefore) / seconds;
  double written = writtenBytes(fleet.coordinatorPid()) - writtenBefore;
  stored = counter->count() - rowsBefore;  // the rows themselves, at the end
  std::printf("sender queued all %llu reports in %.2f s (at most %llu in flight; %.2f s of it "
              "waiting for the coordinator to store)\n",
              static_cast<unsigned long long>(total), sendSeconds,
              static_cast<unsigned long long>(kInFlight), boundSeconds);
  std::printf("coordinator: %llu/%llu windows stored in %.2f s -> %.0f windows/s "
              "(acknowledgements read every ~2-50 ms; rows counted at the end)\n",
              static_cast<unsigned long long>(stored), static_cast<unsigned long long>(total),
              seconds, static_cast<double>(stored) / seconds);
  std::printf("CPU over the run: coordinator %.2f cores, this process (senders) %.2f cores, of %ld\n",
              coordinatorCores, ownCores, ::sysconf(_SC_NPROCESSORS_ONLN));
  if (!postgres) {
    std::printf("storage written by the coordinator: %.0f MB, %.0f bytes per window, %.0f MB/s\n",
                written / 1e6, written / static_cast<double>(std::max<std::uint64_t>(stored, 1)),
                written / 1e6 / seconds);
  }
  // Steady rate between 20% and 80% stored (leaves out start-up and the tail).
  double t20 = -1, t80 = -1;
  for (auto& [t, n] : samples) {
    if (t20 < 0 && n >= total / 5) t20 = t;
    if (t80 < 0 && n >= total * 4 / 5) t80 = t;
  }
  double steady = 0;
  if (t20 >= 0 && t80 > t20) {
    steady = static_cast<double>(total * 3 / 5) / (t80 - t20);
    std::printf("coordinator steady rate (20%%..80%% of windows): %.0f windows/s\n", steady);
  }
  double rate = static_cast<double>(stored) / seconds;
  for (auto& agent : agents) agent.socket.reset();
  const double rawAfter = rawCurveRate(rawCount, payloadBytes);
  const double raw = (rawBefore + rawAfter) / 2;
  std::printf("raw ZeroMQ CURVE (1 DEALER -> 1 ROUTER, tcp loopback, %zu-byte messages): %.0f msg/s "
              "before the run, %.0f after, mean %.0f\n",
              payloadBytes, rawBefore, rawAfter, raw);
  std::printf("stored / raw CURVE, same run: %.0f%% over the whole run, %.0f%% steady "
              "(goal >= 50%%: %s)\n",
              100 * rate / raw, 100 * steady / raw, rate >= raw / 2 ? "met" : "NOT met");
  return stored >= total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> numbers;
  bool postgres = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--postgres") {
      postgres = true;
    } else {
      numbers.push_back(std::atoi(argv[i]));
    }
  }
  int hosts = numbers.size() > 0 ? numbers[0] : 50;
  int perHost = numbers.size() > 1 ? numbers[1] : 4000;
  try {
    return run(hosts, perHost, postgres);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ingest: %s\n", e.what());
    return 1;
  }
}
