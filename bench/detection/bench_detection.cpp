// bench_detection: the decision-quality benchmark. Every fault class of the catalog
// (tests/support/fleet/fault_catalog.h) is rolled out once on a real fleet, then a healthy build
// is rolled out `aa` times over itself (A/A). Then the signal rows (signal_rows.h): the Sentry
// faults and `sentry-aa` Sentry A/A builds, the Prometheus regression and `prometheus-aa`
// Prometheus A/A builds, each on its own fleet.
//   bench_detection [--faults-only | --aa-only] [--signals-only | --no-signals] [--aa N]
//                   [--sentry-aa N] [--prometheus-aa N] [--fault-runs N] [--rps N]
// --fault-runs applies to every fault row; --faults-only and --aa-only to the signal rows too.
// The fleet: 3 agents whose service is rollgate-fault-app, units of a private systemd manager,
// under `rps` requests per second per host (default 100), default gates, the catalog's plan
// (1 s windows; canary: 2 s warm-up, 8 s analysis; later stages 1 s + 4 s). Per fault: stopped at
// the canary or not, by which check and tier, and seconds from the canary's activation (every target on the new
// release) to the decision (rollback or hold). A/A: false rollbacks and false holds (a step
// waiting for an operator), each with its rate and the checks behind it.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "bench/detection/report.h"
#include "bench/detection/signal_rows.h"
#include "tests/support/fleet/fault_catalog.h"
#include "tests/support/fleet/rollout_runner.h"

using namespace rollgate::testing;
using rollgate::bench::AaTally;
using rollgate::bench::FaultRow;

namespace {

// Set by SIGINT or SIGTERM: the runs stop after the current rollout and the fleet is stopped
// (agents, coordinator, units) before the program exits with what it measured so far.
volatile std::sig_atomic_t stopRequested = 0;

struct Args {
  bool faults = true;
  bool aa = true;
  bool catalog = true;  // the fault app's rows
  bool signals = true;  // the Sentry and Prometheus rows
  int aaRuns = 100;
  int sentryAa = 5;
  int prometheusAa = 2;
  int faultRuns = 1;
  int rps = kCatalogRequestsPerSecond;
};

constexpr const char* kUsage =
    "usage: bench_detection [--faults-only | --aa-only] [--signals-only | --no-signals] [--aa N] "
    "[--sentry-aa N] [--prometheus-aa N] [--fault-runs N] [--rps N]\n";

bool parseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto number = [&](int& out) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      long value = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || value < 0) return false;
      out = static_cast<int>(value);
      return true;
    };
    bool ok = true;
    if (arg == "--faults-only") args.aa = false;
    else if (arg == "--aa-only") args.faults = false;
    else if (arg == "--signals-only") args.catalog = false;
    else if (arg == "--no-signals") args.signals = false;
    else if (arg == "--aa") ok = number(args.aaRuns);
    else if (arg == "--sentry-aa") ok = number(args.sentryAa);
    else if (arg == "--prometheus-aa") ok = number(args.prometheusAa);
    else if (arg == "--fault-runs") ok = number(args.faultRuns);
    else if (arg == "--rps") ok = number(args.rps) && args.rps > 0;
    else ok = false;
    if (!ok) {
      std::fprintf(stderr, "bench_detection: bad argument \"%s\"\n%s", arg.c_str(), kUsage);
      return false;
    }
  }
  return true;
}

void runFaults(WebFleet& web, const RolloutRun& run, const Args& args) {
  rollgate::bench::printFaultHeader();
  int caught = 0, total = 0;
  const auto& catalog = faultCatalog();
  for (std::size_t row = 0; row < catalog.size(); ++row) {
    const CatalogFault& fault = catalog[row];
    FaultRow printed{fault.name, fault.description, fault.expectedCheck, fault.expectedDecision};
    for (int r = 0; r < args.faultRuns && !stopRequested; ++r, ++total) {
      std::string version = "9." + std::to_string(row) + "." + std::to_string(r);
      caught += rollgate::bench::printFaultRow(
          printed, runRollout(web, run, version, web.makeRelease(version, fault.fault)));
    }
  }
  std::printf("\ncaught at the canary: %d/%d\n", caught, total);
}

// Per stage and check, over A/A steps: how many steps it was evaluated in, how many had a
// significant look (p <= the look's alpha, whatever the effect's size) and how many it failed.
struct StepCounts {
  int steps = 0;
  int significant = 0;
  int failed = 0;
};
using SignificanceTable = std::map<std::pair<std::string, std::string>, StepCounts>;

void countSignificance(const nlohmann::json& explain, SignificanceTable& table) {
  std::map<std::pair<std::uint32_t, std::string>, std::pair<std::string, StepCounts>> steps;
  for (const auto& record : explain.value("checks", nlohmann::json::array())) {
    const auto& result = record["result"];
    auto& [stage, counts] = steps[{record.value("step", 0u), result.value("name", "")}];
    stage = record.value("stage", "");
    counts.steps = 1;
    counts.significant |= result.value("significant", false) ? 1 : 0;
    counts.failed |= result.value("verdict", "") == "fail" ? 1 : 0;
  }
  for (const auto& [key, value] : steps) {
    StepCounts& total = table[{value.first, key.second}];
    total.steps += value.second.steps;
    total.significant += value.second.significant;
    total.failed += value.second.failed;
  }
}

void printSignificance(const SignificanceTable& table) {
  std::printf("\nA/A steps with a significant look, per stage and tested check (p <= the look's "
              "alpha; the effect floors decide whether that fails the check):\n"
              "| stage | check | steps | significant at a look | failed |\n|---|---|---|---|---|\n");
  for (const auto& [key, counts] : table) {
    if (key.second.find("static") != std::string::npos || key.second == "restarts") continue;
    std::printf("| %s | %s | %d | %d (%.1f%%) | %d |\n", key.first.c_str(), key.second.c_str(),
                counts.steps, counts.significant,
                100.0 * counts.significant / std::max(counts.steps, 1), counts.failed);
  }
}

void runAa(WebFleet& web, const RolloutRun& run, const Args& args) {
  AaTally tally;
  SignificanceTable significance;
  for (int i = 0; i < args.aaRuns && !stopRequested; ++i) {
    std::string version = "1.0." + std::to_string(i + 1);
    auto started = std::chrono::steady_clock::now();
    auto outcome = runRollout(web, run, version, web.makeRelease(version, FaultSpec{}));
    countSignificance(outcome.explain, significance);
    tally.add(outcome, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
              args.aaRuns);
  }
  tally.print("fault app");
  printSignificance(significance);
}

}  // namespace

int run(const Args& args);

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, args)) return 2;
  std::signal(SIGINT, [](int) { stopRequested = 1; });
  std::signal(SIGTERM, [](int) { stopRequested = 1; });
  try {
    return run(args);
  } catch (const std::exception& e) {  // after the fleet's destructor has stopped it
    std::fprintf(stderr, "bench_detection: %s\n", e.what());
    return 1;
  }
}

// The fault app's rows and A/A builds; 2 when the fleet cannot run here.
int runCatalog(const Args& args) {
  if (auto missing = WebFleet::missingPrerequisite(WebServer::kFaultApp); !missing.empty()) {
    std::fprintf(stderr, "bench_detection: the fault app's rows cannot run here: %s\n", missing.c_str());
    std::printf("fault app rows: not run (missing: %s)\n", missing.c_str());
    return 2;
  }
  WebFleet::Options options;
  options.requestsPerSecond = args.rps;
  options.server = WebServer::kFaultApp;
  auto started = WebFleet::start({{"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"},
                                  {"eu-b-1", "eu", "eu-b"}},
                                 options);
  if (!started) {
    std::fprintf(stderr, "bench_detection: %s\n", started.error().message.c_str());
    return 1;
  }
  WebFleet& web = **started;
  if (auto status = web.installEverywhere("1.0.0", ReleaseKind::kHealthy); !status) {
    std::fprintf(stderr, "bench_detection: %s\n", status.error().message.c_str());
    return 1;
  }
  RolloutRun run;
  run.planFile = web.work().file("plan.toml");
  run.canaryHost = "eu-a-1";
  writeFile(run.planFile, catalogPlanToml());
  web.startLoad();
  std::printf("fleet: 3 hosts running rollgate-fault-app, %d requests/s per host, default gates, "
              "catalog plan (1 s windows; canary 2 s warm-up + 8 s analysis, later stages 1 s + 4 s)\n", args.rps);
  if (args.faults) runFaults(web, run, args);
  if (args.aa) runAa(web, run, args);
  web.stopLoad();
  return 0;
}

// Each part on its own fleet, one after the other (a fleet is stopped before the next starts);
// the worst exit code: 1 a fleet failed, 2 a part could not run here, 0 all ran.
int run(const Args& args) {
  int worst = 0;
  auto note = [&](int code) { worst = code == 1 || worst == 1 ? 1 : std::max(worst, code); };
  if (args.catalog) note(runCatalog(args));
  if (args.signals && !stopRequested) {
    rollgate::bench::SignalArgs signalArgs;
    signalArgs.faults = args.faults;
    signalArgs.aa = args.aa;
    signalArgs.faultRuns = args.faultRuns;
    signalArgs.sentryAa = args.sentryAa;
    signalArgs.prometheusAa = args.prometheusAa;
    signalArgs.stopRequested = &stopRequested;
    note(rollgate::bench::runSentryRows(signalArgs));
    if (!stopRequested) note(rollgate::bench::runPrometheusRows(signalArgs));
  }
  return worst;
}
