#include "coordinator/rollout/gates.h"

#include <doctest/doctest.h>

#include <functional>
#include <random>

using namespace rollgate;
using namespace rollgate::rollout;

namespace {

const CheckSpec& check(const std::string& name) {
  static const GatesConfig gates = defaultGatesConfig();
  for (const auto& c : gates.checks) {
    if (c.name == name) return c;
  }
  FAIL("no default check " << name);
  return gates.checks.front();
}

GroupData counts(std::uint64_t requests, std::uint64_t errors5xx, std::uint64_t hosts = 1) {
  GroupData group;
  group.hostCount = hosts;
  group.windows = 5;
  group.requests = requests;
  group.status5xx = errors5xx;
  group.status2xx = requests - errors5xx;
  return group;
}

GroupData latency(double centreMicros, int n, std::uint64_t seed) {
  GroupData group;
  group.hostCount = 1;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < n; ++i) {
    double u = static_cast<double>(rng() >> 11) / 9007199254740992.0;
    group.latencyMicros.push_back(centreMicros * (0.6 + 0.8 * u));
  }
  return group;
}

PlanCache plans;  // shared by the tests below (plans depend only on alpha and looks)

}  // namespace

TEST_CASE("repeated looks: early looks need overwhelming evidence, the last nearly alpha") {
  PlanCache plans;
  // 60 of 2000 (3%) against 20 of 2000 (1%): p about 1e-6.
  auto early =
      evaluateCheck(check("http_5xx"), counts(2000, 60), counts(2000, 20), true, 1, 30, plans);
  auto last =
      evaluateCheck(check("http_5xx"), counts(2000, 60), counts(2000, 20), true, 30, 30, plans);
  CHECK(early.pValue == doctest::Approx(last.pValue));
  CHECK(early.alphaAtLook < 1e-8);
  CHECK(last.alphaAtLook > 0.005);
  CHECK(last.alphaAtLook <= 0.01);
  CHECK((early.verdict == Verdict::kPass));
  CHECK((last.verdict == Verdict::kFail));
  CHECK(early.explanation.find("look 1/30") != std::string::npos);
}

TEST_CASE("repeated looks: A/A stages looked at every window fail at most alpha of the time") {
  // 2,000 stages of 6 looks; each look adds a window of 1,000 requests with a 2% error rate on
  // both sides; Fisher (greater) at alpha 0.05 with no minimum effect.
  CheckSpec fisher = check("http_5xx");
  fisher.alpha = 0.05;
  fisher.minEffect = 0;
  fisher.minRatio = 0;
  fisher.minData = 1;
  PlanCache plans;
  std::mt19937_64 rng(7);
  auto draw = [&](int n, double p) {
    std::uint64_t k = 0;
    for (int i = 0; i < n; ++i) k += (static_cast<double>(rng() >> 11) / 9007199254740992.0) < p;
    return k;
  };
  const int stages = 2000;
  int falseAlarms = 0;
  for (int s = 0; s < stages; ++s) {
    GroupData canary = counts(0, 0), baseline = counts(0, 0);
    for (std::uint32_t look = 1; look <= 6; ++look) {
      canary.requests += 1000;
      canary.status5xx += draw(1000, 0.02);
      baseline.requests += 1000;
      baseline.status5xx += draw(1000, 0.02);
      auto result = evaluateCheck(fisher, canary, baseline, true, look, 6, plans);
      if (result.verdict == Verdict::kFail) {
        ++falseAlarms;
        break;
      }
    }
  }
  // alpha = 0.05 -> 100 expected at most; allow three standard errors (about 29).
  MESSAGE("A/A false alarms: " << falseAlarms << " of " << stages);
  CHECK(falseAlarms <= 130);
}

TEST_CASE("Fisher on the 5xx ratio: 3% against 0% fails with its numbers") {
  auto result =
      evaluateCheck(check("http_5xx"), counts(5000, 150), counts(5000, 0), true, 6, 6, plans);
  CHECK((result.verdict == Verdict::kFail));
  CHECK(result.pValue < 1e-30);
  CHECK(result.alphaAtLook > 0);
  CHECK(result.canaryValue == doctest::Approx(0.03));
  CHECK(result.baselineValue == 0.0);
  CHECK(result.effect.estimate == doctest::Approx(0.03));
  CHECK(result.canaryCount == 5000);
  CHECK(result.baselineCount == 5000);
  CHECK(result.explanation.find("Fisher greater p=") != std::string::npos);
  CHECK(result.effectName == "rate difference");
  CHECK(result.effect.low < 0.03);
  CHECK(result.effect.high > 0.03);
  CHECK(result.explanation.find("150/5000") != std::string::npos);
}

TEST_CASE("a significant difference below the minimum effect passes") {
  // 0.05% vs 0.01% on a million requests: significant, but only 0.04 points (minimum 0.1).
  auto result = evaluateCheck(check("http_5xx"), counts(1'000'000, 500), counts(1'000'000, 100),
                              true, 6, 6, plans);
  CHECK(result.pValue < 1e-20);
  CHECK((result.verdict == Verdict::kPass));
  CHECK(result.significant);
  CHECK_FALSE(result.effectLargeEnough);
  CHECK(result.explanation.find("significant but too small") != std::string::npos);
}

TEST_CASE("too little data is its own verdict, never a pass") {
  auto fisher =
      evaluateCheck(check("http_5xx"), counts(100, 50), counts(5000, 0), true, 6, 6, plans);
  CHECK((fisher.verdict == Verdict::kNotEnoughData));
  CHECK(fisher.explanation.find("minimum 200 per side") != std::string::npos);
  auto mw = evaluateCheck(check("latency"), latency(50000, 10, 1), latency(50000, 500, 2), true, 6,
                          6, plans);
  CHECK((mw.verdict == Verdict::kNotEnoughData));
  auto fixed =
      evaluateCheck(check("http_5xx_static"), counts(0, 0), counts(5000, 0), true, 1, 6, plans);
  CHECK((fixed.verdict == Verdict::kNotEnoughData));
}

TEST_CASE("Mann-Whitney on latency: +20 ms fails, the same distribution passes") {
  auto slow = evaluateCheck(check("latency"), latency(70000, 500, 1), latency(50000, 500, 2), true,
                            6, 6, plans);
  CHECK((slow.verdict == Verdict::kFail));
  CHECK(slow.effectName == "Hodges-Lehmann shift");
  CHECK(slow.effect.estimate == doctest::Approx(20000).epsilon(0.1));
  CHECK(slow.statistic > 0);
  CHECK(slow.pValue < 1e-10);
  auto same = evaluateCheck(check("latency"), latency(50000, 500, 3), latency(50000, 500, 4), true,
                            6, 6, plans);
  CHECK((same.verdict == Verdict::kPass));
  // +2 ms on a huge sample is significant but below the 5 ms minimum.
  auto tiny = evaluateCheck(check("latency"), latency(52000, 20000, 5), latency(50000, 20000, 6),
                            true, 6, 6, plans);
  CHECK(tiny.pValue < 1e-6);
  CHECK((tiny.verdict == Verdict::kPass));
}

TEST_CASE("static thresholds") {
  CHECK((evaluateCheck(check("http_5xx_static"), counts(1000, 4), {}, true, 1, 6, plans).verdict ==
         Verdict::kPass));
  auto high = evaluateCheck(check("http_5xx_static"), counts(1000, 6), {}, true, 1, 6, plans);
  CHECK((high.verdict == Verdict::kFail));
  CHECK(high.explanation.find("at most") != std::string::npos);
  auto low2xx = evaluateCheck(check("http_2xx_static"), counts(1000, 110), {}, true, 1, 6, plans);
  CHECK((low2xx.verdict == Verdict::kFail));
  CHECK(low2xx.explanation.find("at least") != std::string::npos);
  CHECK(
      (evaluateCheck(check("http_2xx_static"), counts(1000, 100), {}, true, 1, 6, plans).verdict ==
       Verdict::kPass));
}

TEST_CASE("restarts beyond the comparison group's fail") {
  GroupData canary = counts(1000, 0), baseline = counts(1000, 0);
  CHECK((evaluateCheck(check("restarts"), canary, baseline, true, 1, 6, plans).verdict ==
         Verdict::kPass));
  canary.restarts = 1;
  CHECK((evaluateCheck(check("restarts"), canary, baseline, true, 1, 6, plans).verdict ==
         Verdict::kFail));
  baseline.restarts = 1;
  CHECK((evaluateCheck(check("restarts"), canary, baseline, true, 1, 6, plans).verdict ==
         Verdict::kPass));
}

TEST_CASE("with no comparison host, comparative checks are skipped and static ones still apply") {
  auto fisher = evaluateCheck(check("http_5xx"), counts(5000, 150), {}, false, 6, 6, plans);
  CHECK((fisher.verdict == Verdict::kSkipped));
  auto fixed = evaluateCheck(check("http_5xx_static"), counts(5000, 150), {}, false, 6, 6, plans);
  CHECK((fixed.verdict == Verdict::kFail));
}

TEST_CASE("windows aggregate into counts and samples") {
  TelemetryWindow w;
  w.startMillis = 0;
  w.endMillis = 10'000;
  w.requests = 100;
  w.status2xx = 95;
  w.status5xx = 5;
  w.errorLogLines = 3;
  w.latencySampleMicros = {1000, 2000};
  w.cpuMillis = 500;
  w.memoryBytes = 1 << 20;
  w.restarts = 1;
  GroupData group;
  addWindow(group, w);
  addWindow(group, w);
  CHECK(group.windows == 2);
  CHECK(group.requests == 200);
  CHECK(group.status5xx == 10);
  CHECK(group.status2xx == 190);
  CHECK(group.errorLogLines == 6);
  CHECK(group.restarts == 2);
  CHECK(group.latencyMicros.size() == 4);
  REQUIRE(group.cpuMillisPerSecond.size() == 2);
  CHECK(group.cpuMillisPerSecond[0] == doctest::Approx(50.0));
  CHECK(group.memoryBytes[1] == doctest::Approx(1 << 20));
}

namespace {
// Windows of `seconds` each, with CPU given in clock ticks of 10 ms: `ticks[i]` for window i.
GroupData cpuWindows(const std::vector<std::uint64_t>& ticks, std::uint64_t seconds, bool micros) {
  GroupData group;
  group.hostCount = 1;
  std::uint64_t start = 1'700'000'000'000;
  for (auto t : ticks) {
    TelemetryWindow w;
    w.startMillis = start;
    w.endMillis = start + seconds * 1000;
    start = w.endMillis;
    w.cpuMillis = t * 10;
    if (micros) w.cpuMicros = t * 10'000;
    addWindow(group, w);
  }
  return group;
}
}  // namespace

TEST_CASE("cpu: one extra 10 ms tick per short window does not fail the default check") {
  // A mostly idle unit on 2 s windows: the baseline shows 0 or 1 tick, the canary 1 or 2 ticks
  // (one more each window): +5 ms/s, a ratio far above 1.2, and significant over 30 windows.
  std::vector<std::uint64_t> baseline, canary;
  for (int i = 0; i < 30; ++i) {
    baseline.push_back(i % 2);
    canary.push_back(i % 2 + 1);
  }
  for (bool micros : {false, true}) {
    CAPTURE(micros);
    GroupData c = cpuWindows(canary, 2, micros), b = cpuWindows(baseline, 2, micros);
    CHECK(c.cpuMillisPerSecond.front() == doctest::Approx(5.0));
    auto result = evaluateCheck(check("cpu"), c, b, true, 6, 6, plans);
    CHECK(result.significant);              // the difference is real ...
    CHECK_FALSE(result.effectLargeEnough);  // ... but below the floor of 20 ms/s
    CHECK((result.verdict == Verdict::kPass));
    // Without the floor, the ratio alone fails the build: the floor is what keeps it.
    CheckSpec ratioOnly = check("cpu");
    ratioOnly.minEffect = 0;
    CHECK((evaluateCheck(ratioOnly, c, b, true, 6, 6, plans).verdict == Verdict::kFail));
  }
  // The shortest window (1 s) with one tick more is 10 ms/s: still below the floor.
  CHECK(kCpuFloorMillisPerSecond > 10.0);
}

TEST_CASE("cpu and memory: a real rise above the floors still fails") {
  std::vector<std::uint64_t> baseline(30, 10), canary(30, 16);  // 100 vs 160 ms/s on 1 s windows
  GroupData c = cpuWindows(canary, 1, true), b = cpuWindows(baseline, 1, true);
  auto cpu = evaluateCheck(check("cpu"), c, b, true, 6, 6, plans);
  CHECK((cpu.verdict == Verdict::kFail));
  CHECK(cpu.effect.estimate == doctest::Approx(60.0));

  GroupData mc, mb;
  mc.hostCount = mb.hostCount = 1;
  for (int i = 0; i < 30; ++i) {
    mb.memoryBytes.push_back(100e6 + i * 4096.0);
    mc.memoryBytes.push_back(100e6 + (i + 1) * 4096.0);  // one page more: passes
  }
  CHECK((evaluateCheck(check("memory"), mc, mb, true, 6, 6, plans).verdict == Verdict::kPass));
  for (auto& bytes : mc.memoryBytes) bytes += 30e6;  // +30 MB, above both floors: fails
  CHECK((evaluateCheck(check("memory"), mc, mb, true, 6, 6, plans).verdict == Verdict::kFail));

  // A small unit: 5 MB against 7 MB is a ratio of 1.4 but below the 16 MiB floor.
  GroupData sc, sb;
  sc.hostCount = sb.hostCount = 1;
  for (int i = 0; i < 30; ++i) {
    sb.memoryBytes.push_back(5e6 + i * 4096.0);
    sc.memoryBytes.push_back(7e6 + i * 4096.0);
  }
  auto small = evaluateCheck(check("memory"), sc, sb, true, 6, 6, plans);
  CHECK(small.significant);
  CHECK((small.verdict == Verdict::kPass));
}

TEST_CASE("cpu: windows with cpuMicros are read at microsecond resolution") {
  TelemetryWindow w;
  w.startMillis = 0;
  w.endMillis = 2000;
  w.cpuMillis = 1;
  w.cpuMicros = 1500;  // 1.5 ms in 2 s
  GroupData group;
  addWindow(group, w);
  REQUIRE(group.cpuMillisPerSecond.size() == 1);
  CHECK(group.cpuMillisPerSecond[0] == doctest::Approx(0.75));
}

namespace {

// A window of `requests` requests whose latencies (µs) come from `draw`; the reservoir keeps at
// most 1024 of them, as the agent's does (uniformly: here the first ones, the draws being iid).
TelemetryWindow latencyWindow(std::uint64_t requests, const std::function<double()>& draw) {
  TelemetryWindow w;
  w.startMillis = 0;
  w.endMillis = 10'000;
  w.requests = requests;
  w.latencyBucketCounts = {requests};
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(requests, 1024); ++i) {
    w.latencySampleMicros.push_back(static_cast<std::uint32_t>(draw()));
  }
  return w;
}

}  // namespace

TEST_CASE("pooled latency samples weigh each window by its requests, not its reservoir") {
  // A busy host (20,000 requests a window) whose slowest 2% take 2 s, and a quiet one (500 a
  // window) with no slow tail: 2/41 = 4.9% of the group's requests are slow. Concatenated
  // reservoirs (1024 + 500 samples) would say 1.3%.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto busy = [&] { return unit(rng) < 0.02 ? 2'000'000.0 : 20'000 + 1000 * unit(rng); };
  auto quiet = [&] { return 20'000 + 1000 * unit(rng); };
  GroupData group;
  for (int i = 0; i < 6; ++i) {
    addWindow(group, latencyWindow(20'000, busy));
    addWindow(group, latencyWindow(500, quiet));
  }
  CHECK(group.latencyMicros.size() == 6 * (1024 + 500));
  poolLatencySamples(group, 20'000);
  // f = 1024/20000: 1024 from each busy window, 26 (500 f, rounded) from each quiet one.
  CHECK(group.latencyMicros.size() == 6 * (1024 + 26));
  double slow = 0;
  for (double v : group.latencyMicros) slow += v >= 2'000'000 ? 1 : 0;
  double share = slow / static_cast<double>(group.latencyMicros.size());
  CHECK(share > 0.014);  // 2% x 1024/1050 = 1.95% expected; concatenated reservoirs gave 1.34%
  CHECK(share < 0.026);

  // The cap: at most maxSamples, still in proportion.
  GroupData capped;
  for (int i = 0; i < 4; ++i) addWindow(capped, latencyWindow(2000, quiet));
  poolLatencySamples(capped, 1000);
  CHECK(capped.latencyMicros.size() == 1000);
  CHECK(capped.latencyWindows.empty());
}

TEST_CASE("latency_tail: a slow tail with the median unchanged fails, where latency passes") {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  GroupData canary, comparison;
  canary.hostCount = 1;
  comparison.hostCount = 3;
  for (int i = 0; i < 6; ++i) {
    addWindow(canary, latencyWindow(300, [&] {
                double v = 50'000 * (0.6 + 0.8 * unit(rng));
                return unit(rng) < 0.02 ? 100 * v : v;
              }));
    for (int h = 0; h < 3; ++h) {
      addWindow(comparison, latencyWindow(300, [&] { return 50'000 * (0.6 + 0.8 * unit(rng)); }));
    }
  }
  poolLatencySamples(canary, 20'000);
  poolLatencySamples(comparison, 20'000);
  PlanCache plans;
  CheckResult tail = evaluateCheck(check("latency_tail"), canary, comparison, true, 6, 6, plans);
  INFO(tail.explanation);
  CHECK((tail.verdict == Verdict::kFail));
  CHECK((tail.tier == Tier::kCritical));
  CHECK(tail.explanation.rfind("latency tail: canary p99 ", 0) == 0);
  CheckResult median = evaluateCheck(check("latency"), canary, comparison, true, 6, 6, plans);
  INFO(median.explanation);
  CHECK((median.verdict == Verdict::kPass));

  CheckResult alone = evaluateCheck(check("latency_tail"), canary, comparison, false, 6, 6, plans);
  CHECK((alone.verdict == Verdict::kSkipped));
}
