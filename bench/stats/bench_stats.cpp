// bench_stats: times rollgate's statistics on canary-sized inputs and SciPy on the same inputs
// in the same run. Usage: bench_stats [repetitions]
//   Mann-Whitney U, 2 x 100,000 latencies (rounded to 0.1 ms, so with ties), sort included;
//   Fisher's exact test, totals 10^7 per side (10,300 vs 10,000 errors), greater and two-sided;
//   also the Hodges-Lehmann shift on the same samples and a 12-look alpha-spending plan.
// SciPy runs in /usr/bin/python3 (Debian's python3-scipy); without it the line says
// "scipy: not installed". Figures are the minimum over the repetitions (the least disturbed).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/stats/effect.h"
#include "common/stats/fisher.h"
#include "common/stats/mann_whitney.h"
#include "common/stats/sequential.h"
#include "common/stats/sorting.h"

namespace {

using Clock = std::chrono::steady_clock;
using rollgate::stats::Alternative;

// Minimum wall time of one call, in milliseconds, over `repetitions` batches of `inner` calls.
double minMillis(int repetitions, int inner, const std::function<void()>& call) {
  double best = 1e300;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < inner; ++i) call();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    best = std::min(best, ms / inner);
  }
  return best;
}

std::string runCommand(const std::string& command) {
  std::string output;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  ::pclose(pipe);
  return output;
}

constexpr const char* kScipyScript = R"PY(
import sys, time
import numpy as np
from scipy.stats import mannwhitneyu, fisher_exact
x = np.fromfile(sys.argv[1], dtype=np.float64)
y = np.fromfile(sys.argv[2], dtype=np.float64)
reps = int(sys.argv[3])
best = 1e300
for _ in range(reps):
    t = time.perf_counter(); r = mannwhitneyu(x, y, use_continuity=True, alternative='greater', method='auto'); best = min(best, time.perf_counter() - t)
print('mw_ms', best * 1e3, r.pvalue)
for alt in ('greater', 'two-sided'):
    table = [[10300, 10**7 - 10300], [10000, 10**7 - 10000]]
    best = 1e300
    for _ in range(reps):
        n = 200
        t = time.perf_counter()
        for _ in range(n): p = fisher_exact(table, alt)[1]
        best = min(best, (time.perf_counter() - t) / n)
    print('fisher_ms', alt, best * 1e3, p)
)PY";

}  // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  constexpr std::size_t kSize = 100000;
  std::mt19937_64 random(20261121);
  std::lognormal_distribution<double> baselineLatency(std::log(40.0), 0.5);
  std::lognormal_distribution<double> canaryLatency(std::log(40.4), 0.5);
  std::vector<double> canary(kSize);
  std::vector<double> baseline(kSize);
  for (double& v : canary) v = std::round(canaryLatency(random) * 10.0) / 10.0;
  for (double& v : baseline) v = std::round(baselineLatency(random) * 10.0) / 10.0;

  double mwP = 0.0;
  const double mwMs = minMillis(repetitions, 1, [&] {
    mwP = rollgate::stats::mannWhitneyU(canary, baseline, Alternative::kGreater)->pValue;
  });
  const std::vector<double> x = rollgate::stats::sortedCopy(canary);
  const std::vector<double> y = rollgate::stats::sortedCopy(baseline);
  double shift = 0.0;
  const double hlMs = minMillis(std::max(1, repetitions / 3), 1,
                                [&] { shift = rollgate::stats::hodgesLehmannShift(x, y); });
  double fisherGreaterP = 0.0;
  double fisherTwoSidedP = 0.0;
  constexpr std::uint64_t kTotal = 10000000;
  const double fisherGreaterMs = minMillis(repetitions, 200, [&] {
    fisherGreaterP =
        rollgate::stats::fisherExact(10300, kTotal, 10000, kTotal, Alternative::kGreater)->pValue;
  });
  const double fisherTwoSidedMs = minMillis(repetitions, 200, [&] {
    fisherTwoSidedP =
        rollgate::stats::fisherExact(10300, kTotal, 10000, kTotal, Alternative::kTwoSided)->pValue;
  });
  const double planMs = minMillis(std::max(1, repetitions / 3), 1, [&] {
    (void)rollgate::stats::SequentialPlan::make(0.05, 12, false);
  });

  std::printf("rollgate Mann-Whitney U, 2 x %zu values (sort included): %.2f ms  p=%.10g\n", kSize,
              mwMs, mwP);
  std::printf("rollgate Fisher exact, totals 1e7, greater:   %.4f ms  p=%.10g\n", fisherGreaterMs,
              fisherGreaterP);
  std::printf("rollgate Fisher exact, totals 1e7, two-sided: %.4f ms  p=%.10g\n", fisherTwoSidedMs,
              fisherTwoSidedP);
  std::printf("rollgate Hodges-Lehmann shift, 2 x %zu values: %.2f ms  shift=%.4g\n", kSize, hlMs,
              shift);
  std::printf("rollgate alpha-spending plan, 12 looks: %.3f ms\n", planMs);

  if (std::system("/usr/bin/python3 -c 'import scipy' >/dev/null 2>&1") != 0) {
    std::printf("scipy: not installed\n");
    return 0;
  }
  char pattern[] = "/tmp/bench-stats-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    std::printf("scipy: cannot create a temporary directory\n");
    return 1;
  }
  const std::filesystem::path dir = pattern;
  auto writeDoubles = [&](const char* name, const std::vector<double>& values) {
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(double)));
    return (dir / name).string();
  };
  const std::string canaryPath = writeDoubles("canary.f64", canary);
  const std::string baselinePath = writeDoubles("baseline.f64", baseline);
  { std::ofstream(dir / "bench.py") << kScipyScript; }
  const std::string output =
      runCommand("/usr/bin/python3 " + (dir / "bench.py").string() + " " + canaryPath + " " +
                 baselinePath + " " + std::to_string(std::max(3, repetitions / 3)) + " 2>&1");
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);

  double scipyMw = -1.0;
  double scipyMwP = -1.0;
  double scipyFisher[2] = {-1.0, -1.0};
  double scipyFisherP[2] = {-1.0, -1.0};
  std::size_t start = 0;
  while (start < output.size()) {
    const std::size_t end = output.find('\n', start);
    const std::string line = output.substr(start, end - start);
    start = end == std::string::npos ? output.size() : end + 1;
    char alt[32] = {};
    double ms = 0.0;
    double p = 0.0;
    if (std::sscanf(line.c_str(), "mw_ms %lf %lf", &ms, &p) == 2) {
      scipyMw = ms;
      scipyMwP = p;
    } else if (std::sscanf(line.c_str(), "fisher_ms %31s %lf %lf", alt, &ms, &p) == 3) {
      const int index = std::string(alt) == "greater" ? 0 : 1;
      scipyFisher[index] = ms;
      scipyFisherP[index] = p;
    }
  }
  if (scipyMw < 0 || scipyFisher[0] < 0 || scipyFisher[1] < 0) {
    std::printf("scipy: failed to run:\n%s", output.c_str());
    return 1;
  }
  std::printf(
      "scipy    Mann-Whitney U, 2 x %zu values: %.2f ms  p=%.10g  (rollgate %.1fx faster)\n", kSize,
      scipyMw, scipyMwP, scipyMw / mwMs);
  std::printf(
      "scipy    Fisher exact, totals 1e7, greater:   %.4f ms  p=%.10g  (rollgate %.1fx faster)\n",
      scipyFisher[0], scipyFisherP[0], scipyFisher[0] / fisherGreaterMs);
  std::printf(
      "scipy    Fisher exact, totals 1e7, two-sided: %.4f ms  p=%.10g  (rollgate %.1fx faster)\n",
      scipyFisher[1], scipyFisherP[1], scipyFisher[1] / fisherTwoSidedMs);
  return 0;
}
