#include "coordinator/rollout/prometheus_gate.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace rollgate::rollout {

CheckResult evaluatePrometheusCheck(const CheckSpec& check,
                                    const std::vector<PrometheusSample>& samples,
                                    const std::vector<PrometheusHost>& hosts, bool hasComparison,
                                    std::uint32_t look, std::uint32_t looks, PlanCache& plans) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, std::size_t> index;
  std::vector<HostValues> perHost;
  std::vector<std::uint32_t> latestLook(hosts.size(), 0);
  for (const auto& host : hosts) {
    index[host.name] = perHost.size();
    HostValues values;
    values.host = host.name;
    values.canary = host.canary;
    values.values.assign(look, kNaN);
    values.problem = "no answer from Prometheus yet";
    perHost.push_back(std::move(values));
  }
  GroupData canary, comparison;
  for (const auto& host : hosts) (host.canary ? canary : comparison).hostCount += 1;
  for (const auto& sample : samples) {
    if (sample.check != check.name || sample.look == 0 || sample.look > look) continue;
    auto found = index.find(sample.host);
    if (found == index.end()) continue;
    HostValues& values = perHost[found->second];
    values.values[sample.look - 1] = sample.value;
    if (sample.look >= latestLook[found->second]) {
      latestLook[found->second] = sample.look;
      values.query = sample.query;
      values.problem = std::isfinite(sample.value) ? std::string() : sample.problem;
    }
  }
  for (const auto& values : perHost) {
    GroupData& group = values.canary ? canary : comparison;
    for (double value : values.values) {
      if (std::isfinite(value)) group.prometheusValues.push_back(value);
    }
  }
  CheckResult result = evaluateCheck(check, canary, comparison, hasComparison, look, looks, plans);
  const bool comparative = hasComparison && check.test == Test::kMannWhitney;
  if (result.verdict == Verdict::kNotEnoughData) {
    // Each problem once, with the hosts that have it.
    std::vector<std::pair<std::string, std::string>> problems;  // (problem, hosts)
    for (const auto& values : perHost) {
      if (values.problem.empty() || (!values.canary && !comparative)) continue;
      auto same = std::find_if(problems.begin(), problems.end(),
                               [&](const auto& p) { return p.first == values.problem; });
      if (same == problems.end()) {
        problems.emplace_back(values.problem, values.host);
      } else {
        same->second += ", " + values.host;
      }
    }
    std::string why;
    for (const auto& [problem, names] : problems) {
      why += (why.empty() ? "" : "; ") + names + ": " + problem;
    }
    if (!why.empty()) {
      // Before the closing ": not_enough_data", so the line still ends in its verdict.
      std::size_t at = result.explanation.rfind(": not_enough_data");
      if (at == std::string::npos) at = result.explanation.size();
      result.explanation.insert(at, " (" + why + ")");
    }
  }
  result.hostValues = std::move(perHost);
  return result;
}

}  // namespace rollgate::rollout
