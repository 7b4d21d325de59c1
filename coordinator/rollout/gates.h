// Gate evaluation over telemetry: a group's windows (the canary group's, or the comparison
// group's) aggregate into counts and samples, and each configured check compares the two groups
// at one look of the analysis window, giving a verdict with every number behind it.
//
// Repeated looks: checks run at every window of an analysis of K windows. Evaluating each look at
// the full alpha would inflate false alarms, so a look spends only part of the check's alpha:
// Lan-DeMets' O'Brien-Fleming-type spending function a(t) = 2 - 2 * Phi(z_{1-alpha/2} / sqrt(t)),
// with t = k / K the share of the analysis window that has elapsed. Look k tests at the level
// a(k/K) - a(j/K), j being the last look evaluated before it (skipped looks give their share to
// the next one). The levels of all looks sum to alpha, so by the union bound the whole stage's
// false-alarm rate stays at or below alpha however the looks are correlated (conservative, never
// anti-conservative). Early looks are very strict (a(1/30) is about 1e-45 for alpha 0.01), so an
// early rollback needs overwhelming evidence, and most of the alpha is kept for the end of the
// window. When common/stats/gate.h lands this is where its rule plugs in.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
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
  // Fisher: the odds ratio; Mann-Whitney: U of the canary sample; static: the canary's ratio;
  // restarts: the canary group's restarts.
  double statistic = 0.0;
  double pValue = 1.0;       // 1 for checks without a test
  double alphaAtLook = 0.0;  // the level this look tested at (0 for checks without a test)
  double canaryValue = 0.0;    // rate, median (metric unit) or restarts per host
  double baselineValue = 0.0;
  double effect = 0.0;          // canaryValue - baselineValue
  double effectRelative = 0.0;  // canaryValue / baselineValue - 1 (inf when baseline is 0)
  std::uint64_t canaryCount = 0;  // requests, samples or windows on each side
  std::uint64_t baselineCount = 0;
  std::string explanation;  // one line an operator can read
  bool operator==(const CheckResult&) const = default;
};

// The level look `look` of `looks` tests at, `previousLook` (0 for none) being the last look
// evaluated before it. Requires: previousLook < look <= looks.
double alphaAtLook(double alpha, std::uint32_t look, std::uint32_t previousLook,
                   std::uint32_t looks);

// Evaluates one check. `hasComparison` false: the step has no comparison hosts, comparative
// checks are skipped (static thresholds still apply; restarts count against zero).
CheckResult evaluateCheck(const CheckConfig& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t previousLook, std::uint32_t looks);

}  // namespace rollgate::rollout
