// The four-stage plan of 1 s windows that fleet tests and benchmarks roll out with: the canary's
// warm-up and analysis, then cluster, region and fleet (each 100% of its hosts) with their own.
#pragma once

#include <string>

namespace rollgate::testing {

struct TestPlan {
  int silenceSeconds = 6;
  int installTimeoutSeconds = 60;
  int canaryWarmupSeconds = 2;
  int canaryAnalysisSeconds = 8;
  int laterWarmupSeconds = 1;    // cluster, region and fleet
  int laterAnalysisSeconds = 4;  // >= 4 gives the CPU and memory checks their min_data windows
};

// The plan as `rollout start --plan` reads it.
std::string testPlanToml(const TestPlan& plan = {});

}  // namespace rollgate::testing
