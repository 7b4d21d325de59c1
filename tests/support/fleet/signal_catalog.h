// The fault catalog's signal rows: bad builds seen through the application's own signals rather
// than the fault app's requests. Sentry rows are releases of the Sentry fleet's application
// (tests/support/sentry/sdk_app.py, its mode.json) against a steady background of handled
// exceptions; the Prometheus row is a release whose own /metrics exporter regresses
// (prometheus_server.h), checked by a Prometheus check added to the default gates. The detection
// benchmark (bench/detection) rolls each row out; tests/integration/catalog/CMakeLists.txt says
// where each row is tested.
// Thread-safety: immutable data.
#pragma once

#include <string>
#include <vector>

namespace rollgate::testing {

struct SentryCatalogFault {
  std::string name;         // "new exception type", ...
  std::string description;  // the parameters in words, for the benchmark's table
  std::string modeJson;     // the release's mode.json
  std::string expectedCheck;
  std::string expectedDecision;  // "rolled_back" or "waiting_for_operator"
};

// Every Sentry row is rolled out over SentryFleet::kBackgroundMode, which is also the A/A build.
const std::vector<SentryCatalogFault>& sentryCatalog();
// The Sentry rows' plan: 1 s windows; canary 3 s warm-up + 16 s analysis (the exceptions and
// crash checks need 200 requests and 50 sessions a side at 40 requests/s), later stages 2 s + 6 s.
std::string sentryCatalogPlanToml();

struct PrometheusCatalogFault {
  std::string name;
  std::string description;
  double baselineRatio = 0;  // app_error_ratio of the starting release (and of the A/A build)
  double faultRatio = 0;     // of the bad build
  std::string expectedCheck;
  std::string expectedDecision;
};

const PrometheusCatalogFault& prometheusCatalogFault();
// The Prometheus row's plan: 1 s windows; canary 3 s warm-up + 12 s analysis, later stages 1 s +
// 4 s (the default cpu and memory checks' 3 windows a side need 4 s).
std::string prometheusCatalogPlanToml();

}  // namespace rollgate::testing
