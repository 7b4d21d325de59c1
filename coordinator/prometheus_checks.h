// PrometheusChecks: the coordinator's side of Prometheus checks (metric = "prometheus"). When a
// rollout starts it runs each check's query once with the canary's variables (and the baseline's,
// when the canary's answer is empty) and refuses the start with Prometheus's own error when the
// query is invalid; at every look it expands each check's template per host and hands the
// queries to the PrometheusWorker, and it gives the answers back as PrometheusSamples for the
// rollouts they belong to. Raw counters are found at start: a result series that kept its
// __name__ (functions such as rate() drop it) whose metadata type (/api/v1/metadata) is counter,
// or, without metadata, whose name ends in _total, _count, _sum or _bucket.
// Thread-safety: one thread (the coordinator's loop); no query blocks it (the start-time queries
// run on a thread of their own, the per-look ones on the PrometheusWorker).
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "common/result.h"
#include "coordinator/prometheus/prometheus_worker.h"
#include "coordinator/registry.h"
#include "coordinator/rollout/promql_template.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::coordinator {

// What a rollout's start needs to run its Prometheus checks once.
struct PrometheusStart {
  std::string service;
  std::string version;  // the new release (the canary's {{release}})
  std::string canaryHost;
  std::string baselineHost;     // may be empty
  std::string baselineRelease;  // the baseline's release
};

class PrometheusChecks {
 public:
  // Requires: registry outlives this.
  static Result<std::unique_ptr<PrometheusChecks>> start(PrometheusOptions options,
                                                         const Registry& registry, Logger logger);

  const PrometheusOptions& options() const { return worker_->options(); }

  // Runs every Prometheus check of `gates` once, on a thread of its own (each query bounded by
  // the timeout); the loop polls the future. Its result fails, naming the check, the query as
  // sent and Prometheus's error, when Prometheus refuses a query, or gives warnings: a query that
  // returns a raw counter, Prometheus unreachable (the rollout may start; its Prometheus checks
  // hold the stage while it stays unreachable). A template that cannot be expanded fails at once.
  std::future<Result<std::vector<std::string>>> checkAtStart(const rollout::GatesConfig& gates,
                                                             const PrometheusStart& start) const;

  // Sends a look's queries. Hosts whose template cannot be expanded get their sample at once.
  std::vector<rollout::PrometheusSample> query(const rollout::QueryPrometheus& action,
                                               const rollout::GatesConfig& gates);

  // The answers that arrived since the last call: (rollout id, sample).
  std::vector<std::pair<std::string, rollout::PrometheusSample>> answers();

 private:
  PrometheusChecks(std::unique_ptr<PrometheusWorker> worker, PrometheusClient client,
                   const Registry& registry, Logger logger);
  rollout::PromqlVariables variables(const std::string& host, const std::string& release,
                                     const std::string& service) const;

  // The queries a start runs, expanded on the loop's thread (the registry is not thread-safe).
  struct StartQuery {
    std::string check;
    std::string canary;    // with the canary's variables
    std::string baseline;  // with the baseline's; empty without a baseline
  };
  static Result<std::vector<std::string>> runAtStart(const PrometheusClient& client,
                                                     const std::vector<StartQuery>& queries);

  struct Pending {
    std::string rolloutId;
    rollout::PrometheusSample sample;  // everything but the value and the problem
  };
  std::unique_ptr<PrometheusWorker> worker_;
  PrometheusClient client_;
  const Registry& registry_;
  Logger logger_;
  std::uint64_t nextTag_ = 1;
  std::map<std::uint64_t, Pending> pending_;
};

}  // namespace rollgate::coordinator
