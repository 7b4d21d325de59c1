// The fault catalog: one row per class of bad build the default gates must stop at the canary,
// with the fault app's parameters that express it and the check expected to catch it. The
// detection benchmark (bench/detection) rolls each row out once on a real fleet; the catalog's
// integration tests (tests/integration/catalog) assert each row is stopped by its check. Faults
// seen through the application's Sentry SDK or its Prometheus metrics are signal_catalog.h's rows.
//
// Adding a fault class: give FaultSpec (fault_spec.h) the parameter, make rollgate-fault-app
// (fault_app.cpp) act on it, and add a row here; the benchmark and the tests pick it up.
// Thread-safety: immutable data.
#pragma once

#include <string>
#include <vector>

#include "tests/support/fleet/fault_spec.h"

namespace rollgate::testing {

// The request rate per host the catalog's parameters are designed for.
inline constexpr int kCatalogRequestsPerSecond = 100;

struct CatalogFault {
  std::string name;         // "5xx", "latency shift", ...
  std::string description;  // the parameters in words, for the benchmark's table
  FaultSpec fault;
  std::string expectedCheck;  // a default check's name
  // What the gates do when that check fails: "rolled_back" (critical) or "waiting_for_operator"
  // (warn: the step is held).
  std::string expectedDecision;
};

const std::vector<CatalogFault>& faultCatalog();

// The plan the catalog and its A/A runs use: 1 s windows, a 2 s warm-up and 8 s analysis at the
// canary, 1 s + 4 s in later stages (the shortest that gives the CPU and memory checks their 3
// windows a side: a 2 s analysis often has 2 and holds the step for want of data).
std::string catalogPlanToml();

}  // namespace rollgate::testing
