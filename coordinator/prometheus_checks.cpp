#include "coordinator/prometheus_checks.h"

#include "coordinator/rollout/promql_template.h"

namespace rollgate::coordinator {

Result<std::unique_ptr<PrometheusChecks>> PrometheusChecks::start(PrometheusOptions options,
                                                                  const Registry& registry,
                                                                  Logger logger) {
  PrometheusClient client(options);
  auto worker = PrometheusWorker::start(std::move(options));
  if (!worker) return worker.error();
  return std::unique_ptr<PrometheusChecks>(
      new PrometheusChecks(std::move(*worker), std::move(client), registry, std::move(logger)));
}

PrometheusChecks::PrometheusChecks(std::unique_ptr<PrometheusWorker> worker,
                                   PrometheusClient client, const Registry& registry, Logger logger)
    : worker_(std::move(worker)),
      client_(std::move(client)),
      registry_(registry),
      logger_(std::move(logger)) {}

rollout::PromqlVariables PrometheusChecks::variables(const std::string& host,
                                                     const std::string& release,
                                                     const std::string& service) const {
  return rollout::PromqlVariables{host, registry_.addressOf(host), release, service};
}

std::future<Result<std::vector<std::string>>> PrometheusChecks::checkAtStart(
    const rollout::GatesConfig& gates, const PrometheusStart& start) const {
  std::vector<StartQuery> queries;
  for (const auto& check : gates.checks) {
    if (check.metric != rollout::Metric::kPrometheus) continue;
    auto canary = rollout::expandPromqlTemplate(
        check.query, variables(start.canaryHost, start.version, start.service));
    if (!canary) {
      std::promise<Result<std::vector<std::string>>> failed;
      failed.set_value(makeError("Prometheus check " + check.name + ": " + canary.error().message));
      return failed.get_future();
    }
    StartQuery query{check.name, *canary, ""};
    if (!start.baselineHost.empty()) {
      auto baseline = rollout::expandPromqlTemplate(
          check.query, variables(start.baselineHost, start.baselineRelease, start.service));
      if (baseline) query.baseline = *baseline;
    }
    queries.push_back(std::move(query));
  }
  return std::async(std::launch::async, [client = client_, queries = std::move(queries)] {
    return runAtStart(client, queries);
  });
}

Result<std::vector<std::string>> PrometheusChecks::runAtStart(
    const PrometheusClient& client, const std::vector<StartQuery>& queries) {
  std::vector<std::string> warnings;
  for (const auto& query : queries) {
    QueryOutcome outcome = client.query(query.canary);
    if (outcome.failure == QueryFailure::kRefused) {
      return makeError("Prometheus check " + query.check + ": the query " + query.canary +
                       " is invalid: " + outcome.error);
    }
    if (outcome.failure == QueryFailure::kUnreachable) {
      warnings.push_back("Prometheus check " + query.check + ": could not run the query " +
                         query.canary + " (" + outcome.error +
                         "); the check holds the stage while Prometheus stays unreachable");
      continue;
    }
    // The canary is not on the new release yet: its answer may well be empty. The baseline's
    // shows what the query returns.
    if (outcome.result.series.empty() && !query.baseline.empty()) {
      QueryOutcome other = client.query(query.baseline);
      if (other.failure == QueryFailure::kRefused) {
        return makeError("Prometheus check " + query.check + ": the query " + query.baseline +
                         " is invalid: " + other.error);
      }
      if (other.ok()) outcome = std::move(other);
    }
    for (const auto& name : client.rawCounters(outcome.result)) {
      warnings.push_back("Prometheus check " + query.check +
                         ": the query returns the raw counter " + name +
                         "; wrap it in rate() or increase() (a counter only grows, so the canary "
                         "and the comparison differ by their uptime)");
    }
  }
  return warnings;
}

std::vector<rollout::PrometheusSample> PrometheusChecks::query(
    const rollout::QueryPrometheus& action, const rollout::GatesConfig& gates) {
  std::vector<rollout::PrometheusSample> immediate;
  rollout::forEachPrometheusSample(
      action, gates,
      [&](const rollout::CheckSpec& check, const rollout::PrometheusHost& host,
          rollout::PrometheusSample sample) {
        auto query = rollout::expandPromqlTemplate(
            check.query, variables(host.name, host.release, action.service));
        if (!query) {
          sample.problem = query.error().message;
          immediate.push_back(std::move(sample));
          return;
        }
        sample.query = *query;
        std::uint64_t tag = nextTag_++;
        if (auto submitted = worker_->submit(PrometheusQuery{tag, *query}); !submitted) {
          sample.problem = submitted.error().message;
          immediate.push_back(std::move(sample));
          return;
        }
        pending_.emplace(tag, Pending{action.rolloutId, std::move(sample)});
      });
  return immediate;
}

std::vector<std::pair<std::string, rollout::PrometheusSample>> PrometheusChecks::answers() {
  std::vector<std::pair<std::string, rollout::PrometheusSample>> out;
  for (auto& answer : worker_->take()) {
    auto found = pending_.find(answer.tag);
    if (found == pending_.end()) continue;
    Pending pending = std::move(found->second);
    pending_.erase(found);
    rollout::PrometheusSample& sample = pending.sample;
    if (!answer.outcome.ok()) {
      sample.problem = answer.outcome.error;
    } else if (auto value = singleValue(answer.outcome.result)) {
      sample.value = *value;
    } else {
      sample.problem = value.error().message;
    }
    if (!sample.problem.empty()) {
      logger_->debug("rollout {}: Prometheus check {} on host {} at look {}: {}", pending.rolloutId,
                     sample.check, sample.host, sample.look, sample.problem);
    }
    out.emplace_back(pending.rolloutId, std::move(sample));
  }
  return out;
}

}  // namespace rollgate::coordinator
