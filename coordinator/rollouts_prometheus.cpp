// Prometheus checks of the rollouts (part of Rollouts, rollouts.h): the start-time queries, each
// look's queries, and their answers handed to the rollouts they belong to.
#include <set>

#include "coordinator/rollouts.h"
#include "coordinator/rollout/journal.h"

namespace rollgate::coordinator {

Result<Rollouts::PrometheusProbe> Rollouts::checkPrometheus(
    const rollout::GatesConfig& gates, const StartRollout& request,
    const rollout::RolloutPlan& plan) const {
  std::string first;
  for (const auto& check : gates.checks) {
    if (check.metric == rollout::Metric::kPrometheus && first.empty()) first = check.name;
  }
  if (first.empty()) return PrometheusProbe{};
  if (prometheus_ == nullptr) {
    return makeError("check " + first +
                     " is a Prometheus check, but the coordinator has no Prometheus: set url in "
                     "the [prometheus] table of its config");
  }
  PrometheusStart start{request.service, request.version, plan.canaryHost, plan.baselineHost, ""};
  for (const auto& step : plan.steps) {
    for (const auto& host : step.comparison) {
      if (host.name == plan.baselineHost) start.baselineRelease = host.fromRelease;
    }
  }
  return prometheus_->checkAtStart(gates, start);
}

void Rollouts::queryPrometheus(Entry& entry, const rollout::QueryPrometheus& action) {
  rollout::Rollout& r = *entry.rollout;
  std::vector<rollout::PrometheusSample> immediate;
  if (prometheus_ != nullptr) {
    immediate = prometheus_->query(action, r.state().gates);
  } else {
    // Resumed under a config without [prometheus]: every value is missing, and says why.
    rollout::forEachPrometheusSample(
        action, r.state().gates,
        [&](const rollout::CheckSpec&, const rollout::PrometheusHost&,
            rollout::PrometheusSample sample) {
          sample.problem = "the coordinator has no Prometheus configured ([prometheus] url)";
          immediate.push_back(std::move(sample));
        });
  }
  std::uint64_t now = clock_.nowMillis();
  for (const auto& sample : immediate) {
    rollout::RolloutInput input;
    input.kind = rollout::InputKind::kPrometheus;
    input.atMillis = now;
    input.sample = sample;
    (void)feed(entry, input);
  }
}

void Rollouts::takePrometheusAnswers() {
  if (prometheus_ == nullptr) return;
  std::uint64_t now = clock_.nowMillis();
  std::set<std::string> changed;
  for (const auto& [id, sample] : prometheus_->answers()) {
    auto it = rollouts_.find(id);
    if (it == rollouts_.end()) continue;
    rollout::RolloutInput input;
    input.kind = rollout::InputKind::kPrometheus;
    input.atMillis = now;
    input.sample = sample;
    (void)feed(it->second, input);
    changed.insert(id);
  }
  for (const auto& id : changed) save(rollouts_.at(id));
}

}  // namespace rollgate::coordinator
