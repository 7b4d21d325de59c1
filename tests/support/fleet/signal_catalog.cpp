#include "tests/support/fleet/signal_catalog.h"

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

const char* sentryCatalogPlanToml() {
  return R"(window_seconds = 1
silence_seconds = 8
report_grace_seconds = 2
[canary]
install_timeout_seconds = 60
warmup_seconds = 3
analysis_seconds = 16
[cluster]
install_timeout_seconds = 60
warmup_seconds = 2
analysis_seconds = 6
[region]
install_timeout_seconds = 60
warmup_seconds = 2
analysis_seconds = 6
batch = "100%"
[fleet]
install_timeout_seconds = 60
warmup_seconds = 2
analysis_seconds = 6
batch = "100%"
)";
}

const PrometheusCatalogFault& prometheusCatalogFault() {
  static const PrometheusCatalogFault fault = {
      "Prometheus metric regression", "the build's own app_error_ratio 0.01 -> 0.05", 0.01, 0.05,
      "app_errors", "rolled_back"};
  return fault;
}

const char* prometheusCatalogPlanToml() {
  return R"(window_seconds = 1
silence_seconds = 8
report_grace_seconds = 2
[canary]
install_timeout_seconds = 60
warmup_seconds = 3
analysis_seconds = 12
[cluster]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 4
[region]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 4
batch = "100%"
[fleet]
install_timeout_seconds = 60
warmup_seconds = 1
analysis_seconds = 4
batch = "100%"
)";
}

}  // namespace rollgate::testing
