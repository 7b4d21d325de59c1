#include "tests/support/fleet/signal_catalog.h"

#include "tests/support/fleet/test_plan.h"

namespace rollgate::testing {

const std::vector<SentryCatalogFault>& sentryCatalog() {
  static const std::vector<SentryCatalogFault> catalog = {
      {"new exception type",
       "4% of requests raise, 3 points of them a ZeroDivisionError the old build never raised",
       R"({"exception_rate": 0.01, "new_type_rate": 0.03, "crash_rate": 0.005})", "new_error_types",
       "waiting_for_operator"},
      {"exception rate", "16% of requests raise the background's KeyError (4% before)",
       R"({"exception_rate": 0.16, "crash_rate": 0.005})", "exceptions", "rolled_back"},
      {"crashed sessions", "10% of sessions crash (0.5% before), exceptions unchanged",
       R"({"exception_rate": 0.04, "crash_rate": 0.10})", "crash_free_sessions", "rolled_back"},
  };
  return catalog;
}

std::string sentryCatalogPlanToml() {
  return testPlanToml({.silenceSeconds = 8,
                       .canaryWarmupSeconds = 3,
                       .canaryAnalysisSeconds = 16,
                       .laterWarmupSeconds = 2,
                       .laterAnalysisSeconds = 6});
}

const PrometheusCatalogFault& prometheusCatalogFault() {
  static const PrometheusCatalogFault fault = {
      "Prometheus metric regression", "the build's own app_error_ratio 0.01 -> 0.05", 0.01, 0.05,
      "app_errors", "rolled_back"};
  return fault;
}

std::string prometheusCatalogPlanToml() {
  return testPlanToml({.silenceSeconds = 8, .canaryWarmupSeconds = 3, .canaryAnalysisSeconds = 12});
}

}  // namespace rollgate::testing
