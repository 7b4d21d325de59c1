// Calibration of every default check with a significance test (5xx, error-log lines, latency,
// latency tail, CPU, memory, and Sentry's exceptions and crashed sessions): with the same build on both sides, over many
// simulated stages read the way the coordinator reads them (windows pooled by addWindow and
// poolLatencySamples, every look cumulative, the default check with its minimum effects off),
// the share of stages with a significant look stays at alpha, and the p-values of a continuous
// test are uniform (Kolmogorov-Smirnov). Latencies are whole milliseconds, as nginx logs them, so
// the rank test sees many ties; hosts differ in traffic, one above the agent's 1024-sample
// reservoir, so pooling has to weigh windows by their requests.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "coordinator/rollout/gates.h"
#include "coordinator/rollout/rollout.h"

using namespace rollgate;
using namespace rollgate::rollout;

namespace {

constexpr double kAlpha = 0.05;
constexpr int kStages = 1000;
constexpr int kLooks = 6;
constexpr std::size_t kReservoir = 1024;  // the agent's default sampleCapacity

CheckSpec noFloors(const std::string& name) {
  for (CheckSpec check : defaultGatesConfig().checks) {
    if (check.name != name) continue;
    check.alpha = kAlpha;
    check.minEffect = 0;
    check.minRatio = 0;
    return check;
  }
  FAIL("no default check " << name);
  return {};
}

// One host's window: `requests` requests with a 1% 5xx ratio, 2 error-log lines per 100 requests
// and lognormal latencies around 20 ms rounded to whole milliseconds, of which the reservoir keeps
// a uniform sample; CPU around 50 ms/s and memory around 64 MiB, the same on every host (a
// process's own noise, whatever its traffic); from the application's Sentry SDK, 1 error event
// per 100 requests, one session per 4 requests and 1 crashed session in 100.
TelemetryWindow window(std::mt19937_64& rng, std::uint64_t requests) {
  std::lognormal_distribution<double> millis(std::log(20.0), 0.35);
  std::binomial_distribution<std::uint64_t> errors(requests, 0.01);
  std::poisson_distribution<std::uint64_t> errorLines(0.02 * static_cast<double>(requests));
  std::normal_distribution<double> cpuMicros(500'000, 50'000);  // in a 10 s window
  std::normal_distribution<double> memoryBytes(64.0 * 1024 * 1024, 2.0 * 1024 * 1024);
  std::binomial_distribution<std::uint64_t> exceptions(requests, 0.01);
  TelemetryWindow w;
  w.sentry.enabled = true;
  w.sentry.errors = exceptions(rng);
  w.sentry.sessions = requests / 4;
  w.sentry.sessionsCrashed =
      std::binomial_distribution<std::uint64_t>(w.sentry.sessions, 0.01)(rng);
  w.errorLogLines = errorLines(rng);
  w.cpuMicros = static_cast<std::uint64_t>(std::max(1.0, cpuMicros(rng)));
  w.memoryBytes = static_cast<std::uint64_t>(memoryBytes(rng));
  w.startMillis = 0;
  w.endMillis = 10'000;
  w.requests = requests;
  w.status5xx = errors(rng);
  w.status2xx = requests - w.status5xx;
  w.latencyBucketCounts = {requests};
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(requests, kReservoir); ++i) {
    w.latencySampleMicros.push_back(static_cast<std::uint32_t>(std::round(millis(rng)) * 1000));
  }
  return w;
}

// max |F_n(p) - p| over the sorted p-values.
double ksUniform(std::vector<double> p) {
  std::sort(p.begin(), p.end());
  const double n = static_cast<double>(p.size());
  double d = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    d = std::max({d, (static_cast<double>(i) + 1) / n - p[i], p[i] - static_cast<double>(i) / n});
  }
  return d;
}

struct Calibration {
  int stagesWithAlarm = 0;
  std::vector<double> lastLookP;  // the fixed-sample p-value of every stage
  double shareAtMost(double x) const {
    return static_cast<double>(std::count_if(lastLookP.begin(), lastLookP.end(),
                                             [x](double p) { return p <= x; })) /
           static_cast<double>(lastLookP.size());
  }
};

}  // namespace

TEST_CASE("A/A stages: every default comparative check keeps its false alarms at alpha") {
  // Every default check with a significance test (the static thresholds and the restarts check
  // have no alpha): a check added to the defaults is calibrated here without a change.
  std::vector<std::string> names;
  for (const CheckSpec& check : defaultGatesConfig().checks) {
    if (check.test == Test::kFisher || check.test == Test::kMannWhitney ||
        check.test == Test::kTailFisher) {
      names.push_back(check.name);
    }
  }
  // http_5xx, error_log, latency, latency_tail, cpu, memory, exceptions, crash_free_sessions
  CHECK(names.size() == 8);
  std::vector<CheckSpec> checks;
  for (const auto& name : names) checks.push_back(noFloors(name));
  std::vector<Calibration> calibration(checks.size());
  const std::vector<std::uint64_t> canaryRequests = {800};
  const std::vector<std::uint64_t> comparisonRequests = {300, 800, 2500};
  std::mt19937_64 rng(20261202);
  PlanCache plans;
  for (int stage = 0; stage < kStages; ++stage) {
    GroupData canaryWindows, comparisonWindows;
    canaryWindows.hostCount = canaryRequests.size();
    comparisonWindows.hostCount = comparisonRequests.size();
    std::vector<bool> alarmed(checks.size(), false);
    for (int look = 1; look <= kLooks; ++look) {
      for (auto requests : canaryRequests) addWindow(canaryWindows, window(rng, requests));
      for (auto requests : comparisonRequests) addWindow(comparisonWindows, window(rng, requests));
      GroupData canary = canaryWindows, comparison = comparisonWindows;
      poolLatencySamples(canary, kMaxSamplesPerSide);
      poolLatencySamples(comparison, kMaxSamplesPerSide);
      for (std::size_t c = 0; c < checks.size(); ++c) {
        CheckResult result =
            evaluateCheck(checks[c], canary, comparison, true, look, kLooks, plans);
        // Per-window metrics (CPU, memory) need min_data windows on the one canary host first.
        REQUIRE_MESSAGE((result.verdict != Verdict::kNotEnoughData || static_cast<std::uint64_t>(look) < checks[c].minData),
                        result.explanation);
        alarmed[c] = alarmed[c] || result.significant;
        if (look == kLooks) calibration[c].lastLookP.push_back(result.pValue);
      }
    }
    for (std::size_t c = 0; c < checks.size(); ++c) {
      calibration[c].stagesWithAlarm += alarmed[c] ? 1 : 0;
    }
  }
  const double tolerance = 3.0 * std::sqrt(kAlpha * (1 - kAlpha) / kStages);
  const double ksCritical = 1.63 / std::sqrt(static_cast<double>(kStages));  // 1% level
  for (std::size_t c = 0; c < checks.size(); ++c) {
    CAPTURE(names[c]);
    const Calibration& cal = calibration[c];
    const double rate = static_cast<double>(cal.stagesWithAlarm) / kStages;
    const double ks = ksUniform(cal.lastLookP);
    MESSAGE(names[c] << ": " << rate << " of " << kStages << " A/A stages alarmed at alpha "
                     << kAlpha << " over " << kLooks << " looks; last-look p-values: KS D=" << ks
                     << " (1% critical " << ksCritical << "), P(p<=0.01)=" << cal.shareAtMost(0.01)
                     << ", P(p<=0.05)=" << cal.shareAtMost(0.05)
                     << ", P(p<=0.5)=" << cal.shareAtMost(0.5));
    CHECK(rate <= kAlpha + tolerance);
    CHECK(rate > kAlpha / 5);  // calibrated, not blind
    // Fixed-sample p-values are valid at every level: P(p <= x) <= x.
    for (double x : {0.01, 0.05, 0.1, 0.25, 0.5}) {
      CAPTURE(x);
      CHECK(cal.shareAtMost(x) <= x + 3.0 * std::sqrt(x * (1 - x) / kStages));
    }
    // Mann-Whitney's p-value is continuous up to ties: uniform. Fisher's are discrete (their
    // distribution has steps, conservative at the levels in between), so only the above holds.
    if (checks[c].test == Test::kMannWhitney) CHECK(ks < ksCritical);
  }
}
