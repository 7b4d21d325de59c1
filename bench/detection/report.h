// The detection benchmark's tables: one line per fault rollout (caught at the canary or not, by
// which check and tier, seconds from the canary's activation to the decision) and the A/A tally
// (promoted, false rollbacks, false holds). Shared by the fault app's rows and the signal rows.
// Thread-safety: none; one thread.
#pragma once

#include <map>
#include <string>

#include "tests/support/fleet/rollout_runner.h"

namespace rollgate::bench {

struct FaultRow {
  std::string name;
  std::string description;
  std::string expectedCheck;
  std::string expectedDecision;  // "rolled_back" or "waiting_for_operator"
};

void printFaultHeader();
// Prints the row for one rollout of `row` (the deciding check, and the others that failed in that
// stage); returns whether it was stopped at the canary.
bool printFaultRow(const FaultRow& row, const testing::RolloutOutcome& outcome);
// A row that could not run here: what is missing; never counted as caught.
void printNotRun(const FaultRow& row, const std::string& missing);

// "rolled back", "held", the status, or "no decision (why)".
std::string verdictText(const testing::RolloutOutcome& outcome);

class AaTally {
 public:
  // Counts one A/A rollout that took `seconds` and prints its line ("A/A i/n: ...").
  void add(const testing::RolloutOutcome& outcome, double seconds, int total);
  // The summary: runs, promoted, false rollbacks and holds with their rates, and the checks.
  void print(const std::string& label) const;
  int runs() const { return runs_; }

 private:
  int runs_ = 0, promoted_ = 0, rolledBack_ = 0, held_ = 0, other_ = 0;
  double sum_ = 0, longest_ = 0;
  std::map<std::string, int> byCheck_;
};

}  // namespace rollgate::bench
