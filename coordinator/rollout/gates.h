// Gate evaluation over telemetry: a group's windows (the canary group's, or the comparison
// group's) aggregate into counts and samples, and each configured check compares the two groups
// at one look of the analysis window, giving a verdict with every number behind it.
//
// The tests, effect sizes, minimum-data rule and the repeated-looks rule are common/stats/gate.h:
// Lan-DeMets alpha spending with the O'Brien-Fleming-type function over the K looks of an
// analysis window (common/stats/sequential.h), so that looking at every window keeps the whole
// window's false-alarm rate at the check's alpha, early looks need overwhelming evidence and the
// last look is close to the fixed-sample alpha. This file reads each metric out of a group's
// telemetry, hands it to that evaluator, and adds the one check it does not have (unit restarts
// beyond the comparison group's). Checks and results are the gate model (gate_model.h).
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

// Where one window's latency samples sit in GroupData::latencyMicros, and how many requests with a
// latency the window had (its reservoir is a uniform sample of them).
struct LatencyStratum {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::uint64_t requests = 0;
};

// What a group's windows add up to.
struct GroupData {
  std::uint64_t hostCount = 0;  // hosts in the group (reporting or not)
  std::uint64_t windows = 0;
  std::uint64_t requests = 0;
  std::uint64_t status2xx = 0;
  std::uint64_t status5xx = 0;
  std::uint64_t errorLogLines = 0;
  std::uint64_t restarts = 0;
  // Pooled raw samples. After addWindow, each window's own reservoir (a uniform sample of that
  // window's requests, at most the agent's 1024 a window); after poolLatencySamples, a uniform
  // sample of the whole group's requests.
  std::vector<double> latencyMicros;
  std::vector<LatencyStratum> latencyWindows;  // one per window added
  std::vector<double> cpuMillisPerSecond;      // one value per window
  std::vector<double> memoryBytes;             // one value per window
  // One Prometheus check's values: one per host and look (prometheus_gate.h fills it per check).
  std::vector<double> prometheusValues;
  // From the application's Sentry SDK (windows with sentry.enabled only).
  std::uint64_t sentryWindows = 0;
  std::uint64_t sentryErrors = 0;
  std::uint64_t sentryRequests = 0;  // requests of the windows with Sentry counts
  std::uint64_t sentrySessions = 0;
  std::uint64_t sentryCrashed = 0;
  std::uint64_t sentryFingerprintsDropped = 0;
  struct Fingerprint {
    std::uint64_t count = 0;
    std::string sampleMessage;
  };
  std::map<std::pair<std::string, std::string>, Fingerprint> fingerprints;  // (type, frame)
};

// Adds one window (already filtered for service, release and time span) to the group.
void addWindow(GroupData& group, const TelemetryWindow& window);

// Makes the pooled latency samples a uniform sample of the group's requests, of at most
// `maxSamples`: a window's reservoir holds at most 1024 of its requests whatever their number, so
// concatenated reservoirs over-represent quiet windows and hosts (a slow tail on a busy host would
// be diluted). Keeps from every window the same fraction f of its requests (proportional
// allocation): f is the smallest samples/requests ratio over the windows, lowered further so the
// total stays within maxSamples; each window's share is a seeded random subset of its reservoir
// (deterministic). The tail check's counts, and the Mann-Whitney check's ranks, then estimate the
// group's request distribution without bias. Cost: the busiest window sets f, so quieter windows
// give up samples in proportion.
void poolLatencySamples(GroupData& group, std::size_t maxSamples);

// Builds the repeated-looks plans once per (alpha, looks, sidedness) and keeps them.
class PlanCache {
 public:
  // Fails (naming the values) for an alpha or a number of looks the plan cannot take.
  Result<const stats::SequentialPlan*> get(const CheckSpec& check, std::uint32_t looks);

 private:
  std::map<std::tuple<double, std::uint32_t, bool>, stats::SequentialPlan> plans_;
};

// Checks a check's values the way the evaluator will (alpha, minimums, threshold).
// The Sentry checks (exceptions_per_request, crashed_sessions, new_error_types) are skipped when
// neither group has Sentry counts (the service has no Sentry endpoint), and have too little data
// when only one group has them.
Status validateCheck(const CheckSpec& check);

// Requests a static threshold needs to fail a step before the analysis window's last look.
inline constexpr std::uint64_t kThresholdEarlyRequests = 1000;

// Evaluates one check at look `look` of `looks`. `hasComparison` false: the step has no
// comparison host left, comparative checks are skipped (thresholds still apply; restarts count
// against zero). Anything the evaluator refuses becomes not_enough_data with the reason: never a
// pass.
CheckResult evaluateCheck(const CheckSpec& check, const GroupData& canary,
                          const GroupData& comparison, bool hasComparison, std::uint32_t look,
                          std::uint32_t looks, PlanCache& plans);

}  // namespace rollgate::rollout
