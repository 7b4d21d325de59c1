#include "bench/detection/report.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace rollgate::bench {

using testing::RolloutOutcome;

std::string verdictText(const RolloutOutcome& o) {
  if (o.decision == "rolled_back") return "rolled back";
  if (o.decision == "waiting_for_operator") return "held";
  return o.decision.empty() ? "no decision (" + o.error + ")" : o.decision;
}

void printFaultHeader() {
  std::printf("\n| fault | parameters | expected check | caught at the canary | by check (tier) | "
              "decision | s from canary activation to decision |\n|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
}

// The checks other than the deciding one that failed in the deciding step's stage.
std::set<std::string> alsoFailed(const RolloutOutcome& outcome) {
  std::set<std::string> names;
  for (const auto& record : outcome.explain.value("checks", nlohmann::json::array())) {
    if (record.value("stage", "") != outcome.stage) continue;
    const auto& result = record.contains("result") ? record["result"] : record;
    std::string name = result.value("name", "");
    if (result.value("verdict", "") == "fail" && name != outcome.check) names.insert(name);
  }
  return names;
}

bool printFaultRow(const FaultRow& row, const RolloutOutcome& outcome) {
  bool stopped = outcome.stage == "canary" && (outcome.decision == "rolled_back" ||
                                               outcome.decision == "waiting_for_operator");
  // Several checks may fail at the deciding look (a crashed request also answers 500): the
  // expected check failing beside the one the decision names is as expected.
  std::set<std::string> others = alsoFailed(outcome);
  bool expectedFailed = outcome.check == row.expectedCheck || others.count(row.expectedCheck) > 0;
  bool asExpected = stopped && expectedFailed && outcome.decision == row.expectedDecision;
  char seconds[32] = "-";
  if (stopped && outcome.decisionSeconds >= 0) {
    std::snprintf(seconds, sizeof seconds, "%.1f", outcome.decisionSeconds);
  }
  std::string by = outcome.check.empty() ? "-" : outcome.check + " (" + outcome.tier + ")";
  for (const auto& name : others) by += (name == *others.begin() ? ", also failed: " : ", ") + name;
  std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", row.name.c_str(), row.description.c_str(),
              row.expectedCheck.c_str(),
              stopped ? (asExpected ? "yes" : "yes, not as expected") : "NO", by.c_str(),
              verdictText(outcome).c_str(), seconds);
  std::fflush(stdout);
  return stopped;
}

void printNotRun(const FaultRow& row, const std::string& missing) {
  std::printf("| %s | %s | %s | not run (missing: %s) | - | - | - |\n", row.name.c_str(),
              row.description.c_str(), row.expectedCheck.c_str(), missing.c_str());
  std::fflush(stdout);
}

void AaTally::add(const RolloutOutcome& outcome, double seconds, int total) {
  ++runs_;
  sum_ += seconds;
  longest_ = std::max(longest_, seconds);
  promoted_ += outcome.decision == "succeeded";
  rolledBack_ += outcome.decision == "rolled_back";
  held_ += outcome.decision == "waiting_for_operator";
  other_ += outcome.decision != "succeeded" && outcome.decision != "rolled_back" &&
            outcome.decision != "waiting_for_operator";
  std::string why;
  if (outcome.decision != "succeeded") {
    why = " at " + outcome.stage + " by " + outcome.check + " (" + outcome.tier + ", " +
          outcome.verdict + ")";
    byCheck_[verdictText(outcome) + why] += 1;
  }
  std::printf("A/A %d/%d: %s%s, %.0f s\n", runs_, total, verdictText(outcome).c_str(), why.c_str(),
              seconds);
  std::fflush(stdout);
}

void AaTally::print(const std::string& label) const {
  int n = std::max(runs_, 1);
  std::printf("\n%s A/A rollouts: %d (%.0f s each on average, longest %.0f s); promoted %d\n",
              label.c_str(), runs_, sum_ / n, longest_, promoted_);
  std::printf("| A/A runs | promoted | false rollbacks | false rollback rate | false holds | "
              "false hold rate | no decision |\n|---|---|---|---|---|---|---|\n");
  std::printf("| %d | %d | %d | %.1f%% | %d | %.1f%% | %d |\n", runs_, promoted_, rolledBack_,
              100.0 * rolledBack_ / n, held_, 100.0 * held_ / n, other_);
  for (const auto& [what, count] : byCheck_) std::printf("  %dx %s\n", count, what.c_str());
  std::fflush(stdout);
}

}  // namespace rollgate::bench
