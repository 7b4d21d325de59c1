#include "tests/support/fleet/fault_catalog.h"

#include "tests/support/fleet/test_plan.h"

namespace rollgate::testing {
namespace {

FaultSpec with(void (*set)(FaultSpec&)) {
  FaultSpec spec;
  set(spec);
  return spec;
}

}  // namespace

const std::vector<CatalogFault>& faultCatalog() {
  static const std::vector<CatalogFault> catalog = {
      {"5xx", "3% of requests answered 500", with([](FaultSpec& f) { f.errorShare = 0.03; }),
       "http_5xx", "rolled_back"},
      {"latency shift", "every request 20 ms slower",
       with([](FaultSpec& f) { f.addedLatencyMillis = 20; }), "latency", "rolled_back"},
      {"slow tail", "3% of requests 250 ms slower", with([](FaultSpec& f) {
         f.slowShare = 0.03;
         f.slowMillis = 250;
       }),
       "latency_tail", "rolled_back"},
      {"crash loop", "the process exits 3 s after each start",
       with([](FaultSpec& f) { f.crashAfterSeconds = 3; }), "restarts", "rolled_back"},
      {"error-log spike", "one [error] line per 20 requests",
       with([](FaultSpec& f) { f.errorLogLinesPerRequest = 0.05; }), "error_log",
       "waiting_for_operator"},
      {"memory growth", "resident memory +8 MiB/s (up to 256 MiB)",
       with([](FaultSpec& f) { f.memoryMibPerSecond = 8; }), "memory", "waiting_for_operator"},
      {"CPU regression", "0.6 ms more CPU per request (60 ms/s at 100 requests/s)",
       with([](FaultSpec& f) { f.cpuMicrosPerRequest = 600; }), "cpu", "waiting_for_operator"},
  };
  return catalog;
}

std::string catalogPlanToml() { return testPlanToml(); }

}  // namespace rollgate::testing
