#include "tests/support/fleet/test_plan.h"

namespace rollgate::testing {

std::string testPlanToml(const TestPlan& plan) {
  const auto stage = [&](const char* name, int warmup, int analysis, bool batch) {
    return std::string("[") + name + "]\ninstall_timeout_seconds = " +
           std::to_string(plan.installTimeoutSeconds) + "\nwarmup_seconds = " +
           std::to_string(warmup) + "\nanalysis_seconds = " + std::to_string(analysis) + "\n" +
           (batch ? "batch = \"100%\"\n" : "");
  };
  return "window_seconds = 1\nsilence_seconds = " + std::to_string(plan.silenceSeconds) +
         "\nreport_grace_seconds = 2\n" +
         stage("canary", plan.canaryWarmupSeconds, plan.canaryAnalysisSeconds, false) +
         stage("cluster", plan.laterWarmupSeconds, plan.laterAnalysisSeconds, false) +
         stage("region", plan.laterWarmupSeconds, plan.laterAnalysisSeconds, true) +
         stage("fleet", plan.laterWarmupSeconds, plan.laterAnalysisSeconds, true);
}

}  // namespace rollgate::testing
