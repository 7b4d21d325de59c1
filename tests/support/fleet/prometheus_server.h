// PrometheusServer: Debian's prometheus run on a free loopback port with its own config and
// temporary directory, scraping one target per host (1 s scrape interval, the target labelled
// host="<name>"); and the nginx fragment with which a release exports its own app_error_ratio on
// /metrics (the exporter is the build being rolled out). For Prometheus checks' tests and the
// detection benchmark.
// Thread-safety: none; one thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/fleet/fleet.h"
#include "tests/support/fleet/process.h"

namespace rollgate::testing {

class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  // Empty when prometheus (and curl, to ask it) can run here, else what is missing.
  static std::string missingPrerequisite();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The coordinator's [prometheus] table pointing at this server.
  std::string coordinatorToml() const;
  // Starts prometheus scraping http://127.0.0.1:<port>/metrics of each (host, port).
  void start(const std::vector<std::pair<std::string, int>>& targets);
  void stop() { process_.stop(); }
  // Waits until `series` series of `metric` are in Prometheus.
  bool waitForSeries(const std::string& metric, std::size_t series);
  // An instant query's data.result (an empty array when it fails or has no answer).
  nlohmann::json query(const std::string& promql) const;
  std::string log() const;

 private:
  TempDir dir_{"rollgate-prometheus"};
  int port_ = freePort();
  Process process_;
};

// An nginx server-block fragment serving /metrics with app_error_ratio `errorRatio` (a gauge) and
// a constant app_requests_total counter.
std::string appErrorRatioMetricsSite(double errorRatio);

// A Prometheus check on the host's own app_error_ratio series (by its name and by the address its
// agent connects from, 127.0.0.1 here): Mann-Whitney of the canary's per-look values against the
// baseline's, failing (critical) on a rise of at least 0.01.
const char* appErrorsCheckToml();

}  // namespace rollgate::testing
