// Prometheus checks in a rollout (part of Rollout, rollout.h): which hosts a step asks about,
// asking once per look (QueryPrometheus), and keeping the answers for the look's evaluation
// (prometheus_gate.h judges them).
#include <algorithm>

#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

void forEachPrometheusSample(
    const QueryPrometheus& action, const GatesConfig& gates,
    const std::function<void(const CheckSpec&, const PrometheusHost&, PrometheusSample)>& ask) {
  for (const auto& check : gates.checks) {
    if (check.metric != Metric::kPrometheus) continue;
    for (const auto& host : action.hosts) {
      PrometheusSample sample;
      sample.check = check.name;
      sample.step = action.step;
      sample.look = action.look;
      sample.host = host.name;
      ask(check, host, std::move(sample));
    }
  }
}

// A Prometheus comparison needs hosts on the old release now: a step compared with its targets'
// own pre-switch windows has none, and its comparative Prometheus checks are skipped.
std::vector<PrometheusHost> Rollout::prometheusHosts() const {
  const PlanStep& plan = currentPlanStep();
  std::vector<PrometheusHost> hosts;
  for (const auto& h : plan.targets) hosts.push_back({h.name, true, state_.spec.version});
  if (plan.comparisonKind != ComparisonKind::kOwnPreSwitch) {
    for (const auto& h : plan.comparison) hosts.push_back({h.name, false, h.fromRelease});
  }
  return hosts;
}

bool Rollout::hasPrometheusChecks() const {
  for (const auto& check : state_.gates.checks) {
    if (check.metric == Metric::kPrometheus) return true;
  }
  return false;
}

void Rollout::queryPrometheus(std::uint32_t look, Actions& out) {
  state_.step.lastQueriedLook = look;
  if (!hasPrometheusChecks()) return;
  QueryPrometheus query;
  query.rolloutId = state_.spec.rolloutId;
  query.service = state_.spec.service;
  query.step = state_.currentStep + 1;
  query.look = look;
  query.hosts = prometheusHosts();
  out.push_back(std::move(query));
}

Actions Rollout::onPrometheusSample(const PrometheusSample& sample, std::uint64_t /*nowMillis*/) {
  StepProgress& step = state_.step;
  if (state_.finished || state_.rollingBack || sample.step != state_.currentStep + 1 ||
      sample.look == 0 || sample.look > step.lastQueriedLook) {
    return {};
  }
  bool knownCheck = false;
  for (const auto& check : state_.gates.checks) {
    knownCheck |= check.metric == Metric::kPrometheus && check.name == sample.check;
  }
  auto hosts = prometheusHosts();
  bool knownHost = std::any_of(hosts.begin(), hosts.end(),
                               [&](const PrometheusHost& h) { return h.name == sample.host; });
  if (!knownCheck || !knownHost) return {};
  for (auto& stored : step.prometheus) {
    if (stored.check == sample.check && stored.host == sample.host && stored.look == sample.look) {
      stored = sample;
      return {};
    }
  }
  step.prometheus.push_back(sample);
  return {};
}

}  // namespace rollgate::rollout
