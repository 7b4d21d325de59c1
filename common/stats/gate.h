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
// Static thresholds compare the canary's own value and ignore alpha and the baseline.
// Thread-safety: pure functions on values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"
#include "common/stats/alternative.h"
#include "common/stats/effect.h"
#include "common/stats/sequential.h"

namespace rollgate::stats {

enum class CheckTest { kFisher, kMannWhitney, kThresholdMax, kThresholdMin };
enum class Tier { kCritical, kWarn, kDebug };
enum class Verdict { kPass, kFail, kNotEnoughData };

// "fisher", "mann_whitney", "threshold_max", "threshold_min".
Result<CheckTest> parseCheckTest(std::string_view text);
std::string_view toString(CheckTest test);
// "critical", "warn", "debug".
Result<Tier> parseTier(std::string_view text);
std::string_view toString(Tier tier);
// "pass", "fail", "not_enough_data".
std::string_view toString(Verdict verdict);

struct CheckSpec {
  std::string name;    // e.g. "5xx-ratio"
  std::string metric;  // what is measured, used in explanations, e.g. "5xx ratio"
  CheckTest test = CheckTest::kFisher;
  Alternative alternative = Alternative::kGreater;  // "greater" = canary worse for error rates
  double alpha = 0.05;  // the false-alarm rate of the whole stage, over all its looks
  SpendingFunction spending = SpendingFunction::kObrienFleming;
  // Minimum effect in the tested direction. Counts: absolute = difference of rates (0.001 = 0.1
  // percentage points), relative = ratio of rates (1.5 = 50% more). Samples: absolute =
  // Hodges-Lehmann shift in the metric's unit, relative = ratio of medians. Relative minimums
  // are >= 1 and apply as canary/baseline for "greater", baseline/canary for "less", either way
  // for "two-sided".
  std::optional<double> minimumAbsoluteEffect;
  std::optional<double> minimumRelativeEffect;
  // Minimum data: requests per side (counts) or samples per side (distributions). Static
  // thresholds look at the canary only.
  std::uint64_t minimumPerSide = 0;
  Tier tier = Tier::kCritical;
  // Static checks: the limit on the canary's rate (counts) or on its `quantile` (samples).
  double threshold = 0.0;
  double quantile = 0.5;
  double confidence = 0.95;  // level of the effect-size confidence intervals
};

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

struct CheckResult {
  std::string name;
  std::string metric;
  CheckTest test = CheckTest::kFisher;
  Tier tier = Tier::kCritical;
  Alternative alternative = Alternative::kGreater;
  Verdict verdict = Verdict::kNotEnoughData;
  // Fisher: the odds ratio; Mann-Whitney: U of the canary; thresholds: the observed value.
  double statistic = 0.0;
  double pValue = 1.0;       // tests only (1 for not_enough_data and thresholds)
  double alphaAtLook = 0.0;  // nominal level used at this look (tests only)
  int look = 0;
  int plannedLooks = 0;
  bool significant = false;
  bool effectLargeEnough = false;
  // Counts: rate difference and rate ratio; samples: Hodges-Lehmann shift and median ratio
  // (the ratio has no interval: low and high are NaN).
  std::string absoluteEffectName;
  EffectEstimate absoluteEffect;
  std::string relativeEffectName;
  EffectEstimate relativeEffect;
  double canaryValue = 0.0;       // rate, median, or thresholded value
  double baselineValue = 0.0;     // rate or median (NaN for thresholds)
  std::uint64_t canaryCount = 0;  // requests or samples
  std::uint64_t baselineCount = 0;
  std::uint64_t canaryEvents = 0;  // counts only
  std::uint64_t baselineEvents = 0;
  std::string explanation;  // one line naming the numbers, ending in ": <verdict>"
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
