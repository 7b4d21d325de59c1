// Gate evaluation over telemetry: a group's windows (the canary group's, or the comparison
// group's) aggregate into counts and samples, and each configured check compares the two groups
// at one look of the analysis window, giving a verdict with every number behind it.
//
// The tests, effect sizes, minimum-data rule and the repeated-looks rule are common/stats/gate.h:
// Lan-DeMets alpha spending with the O'Brien-Fleming-type function over the K looks of an
// analysis window (common/stats/sequential.h), so that looking at every window keeps the whole
// window's false-alarm rate at the check's alpha, early looks need overwhelming evidence and the
// last look is close to the fixed-sample alpha. This file maps rollout checks onto it and adds
// the one check it does not have (unit restarts beyond the comparison group's).
// Thread-safety: plain values and pure functions; a PlanCache belongs to one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/stats/gate.h"
#include "common/stats/sequential.h"
#include "coordinator/rollout/rollout_config.h"

namespace rollgate::rollout {

// What a group's windows add up to.
struct GroupData {
  std::uint64_t hostCount = 0;  // hosts in the group (reporting or not)
  std::uint64_t windows = 0;
  std::uint64_t requests = 0;
  std::uint64_t status2xx = 0;
  std::uint64_t status5xx = 0;
  std::uint64_t errorLogLines = 0;
  std::uint64_t restarts = 0;
  std::vector<double> latencyMicros;       // pooled raw samples
  std::vector<double> cpuMillisPerSecond;  // one value per window
  std::vector<double> memoryBytes;         // one value per window
};

// Adds one window (already filtered for service, release and time span) to the group.
void addWindow(GroupData& group, const TelemetryWindow& window);

enum class Verdict : std::uint8_t {
  kPass,
  kFail,
  kNotEnoughData,  // never a pass
  kSkipped,        // a comparative check in a step with no comparison host left
};
std::string_view verdictName(Verdict verdict);

struct CheckResult {
  std::string name;
  Metric metric = Metric::kHttp5xxRatio;
  Test test = Test::kFisher;
  Alternative alternative = Alternative::kGreater;
  Tier tier = Tier::kCritical;
  Verdict verdict = Verdict::kNotEnoughData;
  std::uint32_t look = 0;   // 1-based
  std::uint32_t looks = 0;  // K
  // Fisher: the odds ratio; Mann-Whitney: U of the canary sample; thresholds: the canary's
  // ratio; restarts: the canary group's restarts. NaN where undefined (a zero margin).
  double statistic = 0.0;
  double pValue = 1.0;       // 1 for checks without a test
  double alphaAtLook = 0.0;  // the nominal level of this look (NaN for checks without a test)
  bool significant = false;
  bool effectLargeEnough = false;
  double canaryValue = 0.0;    // rate, median (metric unit) or restarts per host
  double baselineValue = 0.0;  // the same for the comparison group (NaN for thresholds)
  // Counts: rate difference and rate ratio; samples: Hodges-Lehmann shift and median ratio;
  // restarts: restarts per host difference and ratio. Intervals at 95% (NaN when none).
  std::string effectName;
  double effect = 0.0;
  double effectLow = 0.0;
  double effectHigh = 0.0;
  std::string ratioName;
  double ratio = 0.0;
  double ratioLow = 0.0;
  double ratioHigh = 0.0;
  std::uint64_t canaryCount = 0;  // requests, samples or windows on each side
  std::uint64_t baselineCount = 0;
  std::uint64_t canaryEvents = 0;  // count metrics only
  std::uint64_t baselineEvents = 0;
  std::string explanation;  // one line an operator can read and check by hand
  bool operator==(const CheckResult&) const = default;
};

// Builds the repeated-looks plans once per (alpha, looks, sidedness) and keeps them.
class PlanCache {
 public:
  // Fails (naming the values) for an alpha or a number of looks the plan cannot take.
  Result<const stats::SequentialPlan*> get(const CheckConfig& check, std::uint32_t looks);

 private:
  std::map<std::tuple<double, std::uint32_t, bool>, stats::SequentialPlan> plans_;
};

// The common/stats spec of a check (for Fisher, Mann-Whitney and thresholds).
stats::CheckSpec toStatsSpec(const CheckConfig& check);
// Checks a check's values the way the evaluator will (alpha, minimums, threshold).
Status validateCheck(const CheckConfig& check);

// Requests a static threshold needs to fail a step before the analysis window's last look.
inline constexpr std::uint64_t kThresholdEarlyRequests = 1000;

// Evaluates one check at look `look` of `looks`. `hasComparison` false: the step has no
// comparison host left, comparative checks are skipped (thresholds still apply; restarts count
// against zero). Anything the evaluator refuses becomes not_enough_data with the reason: never a
// pass.
CheckResult evaluateCheck(const CheckConfig& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks, PlanCache& plans);

}  // namespace rollgate::rollout
