// PrometheusWorker and PrometheusClient against Debian's real prometheus (scraping itself on a
// free loopback port), a closed port and a listener that never answers: every query is answered,
// each ending within its timeout.
#include "coordinator/prometheus/prometheus_worker.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "tests/support/fleet/process.h"
#include "tests/support/skip.h"

using namespace rollgate;
using namespace rollgate::coordinator;
using namespace rollgate::testing;

namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";

// Collects `count` answers from `worker`, polling as the coordinator's loop does.
std::vector<PrometheusAnswer> collect(PrometheusWorker& worker, std::size_t count) {
  std::vector<PrometheusAnswer> answers;
  waitUntil(
      [&] {
        for (auto& answer : worker.take()) answers.push_back(std::move(answer));
        return answers.size() >= count;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(20));
  return answers;
}

// A TCP listener on a free loopback port that accepts connections into its backlog and never
// reads or answers.
struct SilentListener {
  int fd = -1;
  int port = 0;
  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd); }
};

}  // namespace

TEST_CASE("the worker answers every query from a real Prometheus, values and refusals alike") {
  if (!requireOrSkip(::access(kPrometheus, X_OK) == 0 ? "" : kPrometheus)) return;
  TempDir dir("rollgate-prometheus");
  int port = freePort();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  writeFile(dir.file("prometheus.yml"),
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n"
            "    static_configs:\n      - targets: ['" +
                listen + "']\n");
  std::filesystem::create_directories(dir.file("data"));
  Process prometheus =
      Process::spawn({kPrometheus, "--config.file=" + dir.file("prometheus.yml"),
                      "--storage.tsdb.path=" + dir.file("data"), "--web.listen-address=" + listen},
                     dir.file("prometheus.log"));
  PrometheusClient client(PrometheusOptions{"http://" + listen + "/", 2000});
  REQUIRE_MESSAGE(waitUntil(
                      [&] {
                        auto up = client.query("up{job=\"self\"}");
                        return up.ok() && !up.result.series.empty();
                      },
                      std::chrono::seconds(60), std::chrono::milliseconds(200)),
                  readFile(dir.file("prometheus.log")));

  auto worker = PrometheusWorker::start(client.options(), 4);
  REQUIRE(worker.ok());
  constexpr std::size_t kQueries = 40;
  for (std::uint64_t tag = 1; tag <= kQueries; ++tag) {
    // Every fifth query is invalid PromQL.
    std::string promql =
        tag % 5 == 0 ? "sum(up{job=\"self\"}" : "up{job=\"self\"} * " + std::to_string(tag);
    REQUIRE((*worker)->submit(PrometheusQuery{tag, promql}).ok());
  }
  auto answers = collect(**worker, kQueries);
  REQUIRE(answers.size() == kQueries);
  std::set<std::uint64_t> tags;
  for (const auto& answer : answers) {
    CAPTURE(answer.tag);
    tags.insert(answer.tag);
    if (answer.tag % 5 == 0) {
      CHECK((answer.outcome.failure == QueryFailure::kRefused));
      CHECK(answer.outcome.error.find("bad_data") != std::string::npos);
    } else {
      REQUIRE(answer.outcome.ok());
      auto value = singleValue(answer.outcome.result);
      REQUIRE(value.ok());
      CHECK(*value == doctest::Approx(static_cast<double>(answer.tag)));  // up is 1
    }
  }
  CHECK(tags.size() == kQueries);

  // Prometheus's own counters keep __name__ in a raw selector; metadata says they are counters.
  auto raw = client.query("prometheus_http_requests_total");
  REQUIRE(raw.ok());
  auto counters = client.rawCounters(raw.result);
  REQUIRE(counters.size() == 1);
  CHECK(counters[0] == "prometheus_http_requests_total");
  CHECK(*client.metricType("prometheus_http_requests_total") == "counter");
  auto rate = client.query("sum(rate(prometheus_http_requests_total[1m]))");
  REQUIRE(rate.ok());
  CHECK(client.rawCounters(rate.result).empty());
}

TEST_CASE("an unreachable or silent Prometheus answers every query as unreachable, in time") {
  int closed = freePort();
  auto refused =
      PrometheusWorker::start(PrometheusOptions{"http://127.0.0.1:" + std::to_string(closed), 500});
  REQUIRE(refused.ok());
  for (std::uint64_t tag = 1; tag <= 10; ++tag) {
    REQUIRE((*refused)->submit(PrometheusQuery{tag, "up"}).ok());
  }
  auto answers = collect(**refused, 10);
  REQUIRE(answers.size() == 10);
  for (const auto& answer : answers) {
    CHECK((answer.outcome.failure == QueryFailure::kUnreachable));
    CHECK(answer.outcome.error.find("127.0.0.1:" + std::to_string(closed) + " unreachable") !=
          std::string::npos);
  }

  // A listener that never answers: each query ends at its timeout.
  SilentListener silent;
  auto slow = PrometheusWorker::start(
      PrometheusOptions{"http://127.0.0.1:" + std::to_string(silent.port), 300}, 8);
  REQUIRE(slow.ok());
  for (std::uint64_t tag = 1; tag <= 16; ++tag) {
    REQUIRE((*slow)->submit(PrometheusQuery{tag, "up"}).ok());
  }
  answers = collect(**slow, 16);
  REQUIRE(answers.size() == 16);
  for (const auto& answer : answers) {
    CHECK((answer.outcome.failure == QueryFailure::kUnreachable));
    CHECK(answer.outcome.error.find("timed out") != std::string::npos);
  }
}
