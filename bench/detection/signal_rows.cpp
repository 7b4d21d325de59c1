#include "bench/detection/signal_rows.h"

#include <chrono>
#include <cstdio>

#include "bench/detection/report.h"
#include "tests/support/fleet/gates_toml.h"
#include "tests/support/fleet/prometheus_server.h"
#include "tests/support/fleet/signal_catalog.h"
#include "tests/support/sentry/sentry_fleet.h"

namespace rollgate::bench {
namespace {

using namespace rollgate::testing;

const std::vector<SentryHostSpec> kSentryHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};
const std::vector<WebHostSpec> kWebHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};

bool stopped(const SignalArgs& args) { return args.stopRequested && *args.stopRequested; }

FaultRow rowOf(const SentryCatalogFault& f) {
  return {f.name, f.description, f.expectedCheck, f.expectedDecision};
}

FaultRow rowOf(const PrometheusCatalogFault& f) {
  return {f.name, f.description, f.expectedCheck, f.expectedDecision};
}

// Rolls `count` A/A builds made by `release(version)` and prints their tally under `label`.
template <typename Fleet, typename MakeRelease>
void runAa(Fleet& fleet, const RolloutRun& run, int count, const std::string& label,
           const SignalArgs& args, MakeRelease release) {
  AaTally tally;
  for (int i = 0; i < count && !stopped(args); ++i) {
    std::string version = "1.0." + std::to_string(i + 1);
    auto started = std::chrono::steady_clock::now();
    auto outcome = runRollout(fleet, run, version, release(version));
    tally.add(outcome, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
              count);
  }
  tally.print(label);
}

}  // namespace

int runSentryRows(const SignalArgs& args) {
  std::printf("\nSentry rows: 3 hosts running sdk_app.py (Debian's python3-sentry-sdk) under a "
              "private systemd manager, 40 requests/s per host, background %s, the Sentry fleet's "
              "gates (http_5xx, restarts, exceptions, crash_free_sessions, new_error_types), plan: "
              "1 s windows; canary 3 s warm-up + 16 s analysis, later stages 2 s + 6 s\n",
              SentryFleet::kBackgroundMode);
  if (auto missing = SentryFleet::missingPrerequisite(); !missing.empty()) {
    if (args.faults) {
      printFaultHeader();
      for (const auto& fault : sentryCatalog()) printNotRun(rowOf(fault), missing);
    }
    if (args.aa) std::printf("Sentry A/A: not run (missing: %s)\n", missing.c_str());
    return 2;
  }
  auto started = SentryFleet::start(kSentryHosts, SentryFleet::Options{});
  if (!started) {
    std::fprintf(stderr, "bench_detection: Sentry fleet: %s\n", started.error().message.c_str());
    return 1;
  }
  SentryFleet& sentry = **started;
  if (auto status = sentry.installEverywhere("1.0.0", SentryFleet::kBackgroundMode); !status) {
    std::fprintf(stderr, "bench_detection: Sentry fleet: %s\n", status.error().message.c_str());
    return 1;
  }
  RolloutRun run;
  run.service = "shop";
  run.canaryHost = "eu-a-1";
  run.planFile = sentry.work().file("plan.toml");
  run.gatesFile = sentry.work().file("gates.toml");
  writeFile(run.planFile, sentryCatalogPlanToml());
  writeFile(run.gatesFile, SentryFleet::gatesToml());
  if (args.faults) {
    printFaultHeader();
    int caught = 0, total = 0;
    for (std::size_t row = 0; row < sentryCatalog().size(); ++row) {
      const auto& fault = sentryCatalog()[row];
      for (int r = 0; r < args.faultRuns && !stopped(args); ++r, ++total) {
        std::string version = "9." + std::to_string(row) + "." + std::to_string(r);
        auto outcome = runRollout(sentry.fleet(), run, version,
                                  sentry.makeRelease(version, fault.modeJson));
        caught += printFaultRow(rowOf(fault), outcome);
      }
    }
    std::printf("\nSentry rows caught at the canary: %d/%d\n", caught, total);
  }
  if (args.aa) {
    runAa(sentry.fleet(), run, args.sentryAa, "Sentry", args, [&](const std::string& version) {
      return sentry.makeRelease(version, SentryFleet::kBackgroundMode);
    });
  }
  return 0;
}

int runPrometheusRows(const SignalArgs& args) {
  const PrometheusCatalogFault& fault = prometheusCatalogFault();
  std::printf("\nPrometheus rows: 3 hosts running nginx under a private systemd manager, 100 "
              "requests/s per host, each release exporting its own app_error_ratio on /metrics "
              "(%.2f in the starting and A/A builds), Debian's prometheus scraping every 1 s, the "
              "default gates plus app_errors (a Prometheus check, Mann-Whitney, min_effect 0.01, "
              "critical), plan: 1 s windows; canary 3 s warm-up + 12 s analysis, later stages "
              "1 s + 4 s\n",
              fault.baselineRatio);
  std::string missing = WebFleet::missingPrerequisite();
  if (missing.empty()) missing = PrometheusServer::missingPrerequisite();
  if (!missing.empty()) {
    if (args.faults) {
      printFaultHeader();
      printNotRun(rowOf(fault), missing);
    }
    if (args.aa) std::printf("Prometheus A/A: not run (missing: %s)\n", missing.c_str());
    return 2;
  }
  PrometheusServer prometheus;
  WebFleet::Options options;
  options.coordinatorExtraToml = prometheus.coordinatorToml();
  auto started = WebFleet::start(kWebHosts, options);
  if (!started) {
    std::fprintf(stderr, "bench_detection: Prometheus fleet: %s\n", started.error().message.c_str());
    return 1;
  }
  WebFleet& web = **started;
  if (auto status = web.installEverywhere("1.0.0", ReleaseKind::kHealthy,
                                          appErrorRatioMetricsSite(fault.baselineRatio));
      !status) {
    std::fprintf(stderr, "bench_detection: Prometheus fleet: %s\n", status.error().message.c_str());
    return 1;
  }
  std::vector<std::pair<std::string, int>> targets;
  for (const auto& host : kWebHosts) targets.emplace_back(host.name, web.port(host.name));
  prometheus.start(targets);
  if (!prometheus.waitForSeries("app_error_ratio", kWebHosts.size())) {
    std::fprintf(stderr, "bench_detection: prometheus has no series of every host:\n%s\n",
                 prometheus.log().c_str());
    return 1;
  }
  RolloutRun run;
  run.canaryHost = "eu-a-1";
  run.planFile = web.work().file("plan.toml");
  run.gatesFile = web.work().file("gates.toml");
  writeFile(run.planFile, prometheusCatalogPlanToml());
  writeFile(run.gatesFile, defaultGatesToml() + appErrorsCheckToml());
  web.startLoad();
  auto release = [&](const std::string& version, double ratio) {
    return web.makeRelease(version, ReleaseKind::kHealthy, appErrorRatioMetricsSite(ratio));
  };
  if (args.faults) {
    printFaultHeader();
    int caught = 0, total = 0;
    for (int r = 0; r < args.faultRuns && !stopped(args); ++r, ++total) {
      std::string version = "9.0." + std::to_string(r);
      caught += printFaultRow(rowOf(fault), runRollout(web, run, version, release(version, fault.faultRatio)));
    }
    std::printf("\nPrometheus rows caught at the canary: %d/%d\n", caught, total);
  }
  if (args.aa) {
    runAa(web.fleet(), run, args.prometheusAa, "Prometheus", args,
          [&](const std::string& version) { return release(version, fault.baselineRatio); });
  }
  web.stopLoad();
  return 0;
}

}  // namespace rollgate::bench
