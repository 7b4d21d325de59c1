// Prometheus checks in a step: what the coordinator asks Prometheus at a look (one instant query
// per check and host, the template expanded with that host's variables), what comes back (one
// value per check, host and look, or why there is none), and the check's verdict at a look.
//
// Values are per-look samples per host: at every look the coordinator queries every canary and
// comparison host once; a look's value is the query's value at that moment. A check pools, on
// each side, every value of its hosts over the step's looks so far, and judges them like any
// sample metric (gate.h): Mann-Whitney between the canary's values and the comparison's, or a
// static threshold on the canary's `quantile` (median by default) of its values, decided at the
// last look. A look without a value (empty result, NaN, an error, Prometheus unreachable) adds
// nothing: too few values is not_enough_data, never a pass, and the explanation says why the
// values are missing (the latest problem of each host that has one).
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "coordinator/rollout/gates.h"

namespace rollgate::rollout {

using stats::HostValues;

// One host of a step that Prometheus checks are asked about, with its variables.
struct PrometheusHost {
  std::string name;
  bool canary = false;  // a target of the step (new release) or a comparison host (old release)
  std::string release;  // the release it runs during the step
  bool operator==(const PrometheusHost&) const = default;
};

// One check's answer for one host at one look.
struct PrometheusSample {
  std::string check;
  std::uint32_t step = 0;  // 1-based step of the rollout
  std::uint32_t look = 0;  // 1-based look of the step's analysis window
  std::string host;
  std::string query;  // as sent (empty when the template could not be expanded)
  double value = std::numeric_limits<double>::quiet_NaN();  // NaN: no data
  std::string problem;  // why there is no value; empty when there is one
  bool operator==(const PrometheusSample&) const = default;
};

// Evaluates Prometheus check `check` at look `look` of `looks` from the step's samples (samples
// of other checks and of later looks are ignored). `hosts` are the step's hosts in the order
// explain lists them. The result carries each host's query and values (CheckResult::hostValues).
CheckResult evaluatePrometheusCheck(const CheckSpec& check,
                                    const std::vector<PrometheusSample>& samples,
                                    const std::vector<PrometheusHost>& hosts, bool hasComparison,
                                    std::uint32_t look, std::uint32_t looks, PlanCache& plans);

}  // namespace rollgate::rollout
