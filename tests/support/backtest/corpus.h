// The backtest corpus: a simulated fleet (four hosts in two regions, 100 requests a second each,
// 1 s telemetry windows) on which good builds and bad builds of every fault class of the fault
// catalog (tests/support/fleet/fault_catalog.h: 5xx, latency shift, slow tail, crash loop,
// error-log spike, memory growth, CPU regression) are rolled out through the rollout engine with
// the default gates and the tests' four-stage plan. Every rollout's inputs are kept as the
// coordinator keeps them (journal.h: applyInput and worthKeeping), as JSON lines with a label
// line: good builds "good", bad builds "bad". A bad build's size is drawn between a mild and the
// catalog's size, so some are too small to be told from noise (the gates' recall is below 1).
// Deterministic for a seed. Fault parameters scale the catalog's FaultSpec rows.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/rollout/rollout_config.h"

namespace rollgate::testing {

struct CorpusOptions {
  std::size_t rollouts = 1000;
  std::uint64_t seed = 1;
  double badShare = 0.5;  // the rest are good builds
  // Every bad build's size is the catalog's times a factor drawn from [minScale, 1].
  double minScale = 0.2;
};

struct CorpusRollout {
  std::string id;
  std::string faultClass;  // "none" for a good build
  bool bad = false;
  std::string liveDecision;  // what the simulated live run decided: roll_back, hold, promote
  std::uint32_t liveStep = 0;
  std::uint32_t liveLook = 0;
  std::string liveCheck;
  std::vector<std::string> lines;  // its journal, start first, its label last
};

// The plan every corpus rollout runs with (1 s windows; canary 2 s warm-up + 8 s analysis, later
// stages 1 s + 4 s).
rollout::PlanConfig corpusPlan();

std::vector<CorpusRollout> generateCorpus(const CorpusOptions& options);

// Every rollout's lines, one after the other, as one JSON-lines text.
std::string corpusText(const std::vector<CorpusRollout>& corpus);

}  // namespace rollgate::testing
