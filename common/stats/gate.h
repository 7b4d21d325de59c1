// Gate checks: the pure evaluator the coordinator calls for every check at every telemetry
// window of a stage. A check names a metric, a test and a tier; the evaluator applies the
// minimum-data rule, the test at the significance level the repeated-looks plan allows at this
// look (see sequential.h), and the minimum effect, and returns a verdict with every number that
// led to it and a one-line explanation an operator can check by hand.
//
// Verdict rules:
//  - not_enough_data when a side has fewer requests/samples than the check's minimum (or none):
//    it is never a pass; the coordinator waits and eventually pauses for an operator;
//  - fail when the test is significant at this look's nominal alpha AND the effect is at least
//    the check's minimum effect in the tested direction (every minimum given must be met);
//  - pass otherwise: a significant but tiny effect passes. Before the last look, "pass" means
//    "no failure so far"; the stage is decided by the last look.
// The tail test (tail_fisher) asks whether the canary has more samples above the q-quantile than
// the comparison. Its threshold t is the q-quantile of the canary and comparison samples POOLED,
// not of the comparison alone: t is then a function of the pooled multiset only, so the number of
// samples above t is fixed by it, and when the two builds are the same every assignment of the
// canary/comparison labels to the pooled samples is equally likely; the canary's count above t is
// then exactly hypergeometric, which is the null distribution of Fisher's exact test given its
// margins. So at one look its false-alarm rate is at most alpha whatever the latency distribution
// and however many ties (latencies logged in whole milliseconds) it has; across looks the
// alpha-spending plan applies as to every test. A threshold taken from the comparison alone would
// fix the comparison's count instead and leave the canary's count more spread than Fisher assumes
// (too many false alarms). Requires of the samples: each is a uniform draw from its group's
// requests (the agent keeps a reservoir sample per window; coordinator/rollout/gates.h says how
// windows are pooled). Fails only when significant and both minimums are met: the canary's
// q-quantile above the comparison's by minEffect, and its fraction above t minRatio times the
// comparison's.
// Static thresholds compare the canary's own value and ignore alpha and the baseline. The restarts
// test is not evaluated here (coordinator/rollout/gates.cpp counts restarts per host).
// The types (CheckSpec, CheckResult, Metric, Test, Tier, Verdict) are the gate model, gate_model.h.
// Thread-safety: pure functions on values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"
#include "common/stats/gate_model.h"
#include "common/stats/sequential.h"

namespace rollgate::stats {

// Counts: "events" are what the metric counts (5xx responses, errors, or 2xx responses for a
// success-ratio threshold) out of all requests.
struct CountsData {
  std::uint64_t canaryEvents = 0;
  std::uint64_t canaryTotal = 0;
  std::uint64_t baselineEvents = 0;
  std::uint64_t baselineTotal = 0;
};

// Samples (latencies, CPU, memory); need not be sorted. The spans must outlive the call.
struct SamplesData {
  std::span<const double> canary;
  std::span<const double> baseline;
};

struct CheckInput {
  std::variant<CountsData, SamplesData> data;  // cumulative over the stage so far
  int look = 1;                                // 1-based window number within the stage
  int plannedLooks = 1;                        // the stage's maximum number of looks
};

// Checks the spec's own values (alpha, minimums, confidence, quantile, threshold).
Status validateCheckSpec(const CheckSpec& spec);

// The repeated-looks plan for a check over a stage of plannedLooks windows.
Result<SequentialPlan> makeCheckPlan(const CheckSpec& spec, int plannedLooks);

// Evaluates one check at one look. `plan` must come from makeCheckPlan(spec,
// input.plannedLooks) (build it once per stage). Fails, naming the value, on an invalid spec,
// a look outside [1, plannedLooks], events above a total, a NaN or infinite sample, or data of
// the wrong kind for the test.
Result<CheckResult> evaluateCheck(const CheckSpec& spec, const CheckInput& input,
                                  const SequentialPlan& plan);
// As above, building the plan on the fly (for tools and tests).
Result<CheckResult> evaluateCheck(const CheckSpec& spec, const CheckInput& input);

}  // namespace rollgate::stats
