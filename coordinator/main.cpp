// rollgate-coordinator: parses flags, builds the coordinator and runs it until SIGTERM/SIGINT;
// `init` writes a working config and keys instead; `backtest --windows FILE` replays a recorded
// history offline (for one too big for `rollgate backtest --windows`) and prints the report as
// JSON (docs/backtest.md).
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>
#include <cstdio>
#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/backtests.h"
#include "coordinator/coordinator.h"
#include <fstream>
#include <sstream>
#include "coordinator/init_command.h"
#include "coordinator/standby.h"
#include "coordinator/store/migrate_store.h"
#include "coordinator/store/pg.h"
#include "rollgate_version.h"

namespace {
std::atomic<rollgate::coordinator::Coordinator*> running{nullptr};
std::atomic<bool> stopping{false};
void onSignal(int) {
  stopping.store(true);
  if (auto* coordinator = running.load()) coordinator->requestStop();
}

// Coordinators sharing PostgreSQL ([store] url): wait as a standby until this one takes the
// lease, lead until stopped or the lease is lost, then wait as a standby again.
int runShared(const rollgate::coordinator::CoordinatorConfig& config,
              const rollgate::Logger& logger, const rollgate::Clock& clock) {
  using namespace rollgate::coordinator;
  LeaseSettings settings{config.storeUrl, config.coordinatorId, config.advertiseAdmin,
                         static_cast<std::uint64_t>(config.leaseSeconds) * 1000,
                         rollgate::console::advertisedUrl(config.console)};
  bool first = true;
  while (!stopping.load()) {
    auto lease = LeaderLease::open(settings, clock);
    if (!lease) {
      // At start a wrong URL or password is fatal (the message is PostgreSQL's); later, a lost
      // server is waited for.
      if (first) {
        logger->critical("{}", lease.error().message);
        return 1;
      }
      logger->error("{}; trying again in 1 s", lease.error().message);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (first) {
      logger->info("coordinator {} shares {} (lease {} s)", config.coordinatorId,
                   rollgate::pg::redactUrl(config.storeUrl), config.leaseSeconds);
    }
    first = false;
    auto led = serveAsStandby(config, **lease, stopping, clock, logger);
    if (!led) {
      logger->critical("{}", led.error().message);
      return 1;
    }
    if (!*led) break;
    (*lease)->startRenewing();
    Coordinator coordinator(config, logger, clock);
    coordinator.useLease(lease->get());
    if (auto status = coordinator.start(); !status) {
      logger->error("cannot lead: {}; giving the lease up", status.error().message);
      (*lease)->release();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    running.store(&coordinator);
    if (stopping.load()) coordinator.requestStop();
    coordinator.run();
    running.store(nullptr);
    if (!coordinator.steppedDown()) {
      (*lease)->release();  // a clean stop: a standby takes over at once
      break;
    }
    logger->warn("stepped down from epoch {}; waiting as a standby", (*lease)->epoch());
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollgate-coordinator: stages rollouts across the fleet and gates them"};
  app.set_version_flag("--version", std::string("rollgate-coordinator ") + rollgate::kVersion);
  std::string configPath = rollgate::coordinator::kDefaultCoordinatorConfig;
  app.add_option("--config", configPath, "coordinator config (TOML)")->capture_default_str();

  auto* init = app.add_subcommand(
      "init", "write a working coordinator.toml, the coordinator's and an operator's key pairs "
              "and the allowlist directories (never overwrites a file)");
  rollgate::coordinator::InitOptions initOptions;
  init->add_option("--dir", initOptions.dir, "directory for the config and keys")
      ->capture_default_str();
  init->add_option("--state-dir", initOptions.stateDir,
                   "state directory (default: /var/lib/rollgate, or DIR/state when --dir is not "
                   "/etc/rollgate)");
  init->add_option("--agent-endpoint", initOptions.agentEndpoint, "where agents connect")
      ->capture_default_str();
  init->add_option("--admin-endpoint", initOptions.adminEndpoint, "where the CLI connects")
      ->capture_default_str();
  init->add_option("--broadcast-endpoint", initOptions.broadcastEndpoint,
                   "where agents subscribe to aborts and freezes")
      ->capture_default_str();
  init->add_option("--window-seconds", initOptions.windowSeconds,
                   "the fleet's telemetry window (agents and plans follow it)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  int exitCode = 0;
  init->callback([&] {
    auto report = rollgate::coordinator::initCoordinator(initOptions);
    if (!report) {
      std::fprintf(stderr, "%s\n", report.error().message.c_str());
      exitCode = 1;
      return;
    }
    std::fputs(report->c_str(), stdout);
  });
  auto* backtest = app.add_subcommand(
      "backtest", "replay a JSON-lines history (docs/backtest.md) with other gates or plan, "
                  "offline; prints the report as JSON");
  struct BacktestFiles {
    std::string windows, gates, plan;
    std::uint64_t windowSeconds = 10;
  };
  BacktestFiles files;
  rollgate::BacktestRequest backtestRequest;
  backtest->add_option("--windows", files.windows, "the history (JSON lines)")->required();
  backtest->add_option("--gates", files.gates, "gates TOML to try");
  backtest->add_option("--plan", files.plan, "plan TOML to try");
  backtest->add_option("--service", backtestRequest.service, "only this service");
  backtest->add_option("--window-seconds", files.windowSeconds, "the history's telemetry window")
      ->capture_default_str();
  backtest->add_flag("--compare", backtestRequest.compare, "the figures of the gates as they ran too");
  backtest->callback([&] {
    auto read = [&](const std::string& path, std::string& out) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "rollgate-coordinator: cannot read %s\n", path.c_str());
        exitCode = 2;
        return false;
      }
      std::ostringstream text;
      text << in.rdbuf();
      out = text.str();
      return true;
    };
    if (!read(files.windows, backtestRequest.windowsJsonl)) return;
    backtestRequest.windowsName = files.windows;
    if (!files.gates.empty() && !read(files.gates, backtestRequest.gatesToml)) return;
    backtestRequest.gatesName = files.gates;
    if (!files.plan.empty() && !read(files.plan, backtestRequest.planToml)) return;
    backtestRequest.planName = files.plan;
    rollgate::coordinator::BacktestSettings settings;
    settings.windowSeconds = files.windowSeconds;
    rollgate::SystemClock wall;
    auto report =
        rollgate::coordinator::runBacktest(backtestRequest, nullptr, settings, wall.nowMillis());
    if (!report) {
      std::fprintf(stderr, "rollgate-coordinator: %s\n", report.error().message.c_str());
      exitCode = 1;
      return;
    }
    std::printf("%s\n", rollgate::toJson(*report).dump(2).c_str());
  });
  auto* migrate = app.add_subcommand(
      "migrate-store", "copy this coordinator's SQLite state (state_dir in --config) into an empty "
                       "PostgreSQL database, for coordinators sharing it ([store] url)");
  std::string migrateUrl;
  migrate->add_option("--to", migrateUrl, "postgresql://USER@HOST:PORT/DATABASE")->required();
  migrate->callback([&] {
    auto config = rollgate::coordinator::loadCoordinatorConfig(configPath);
    if (!config) {
      std::fprintf(stderr, "rollgate-coordinator: %s\n", config.error().message.c_str());
      exitCode = 2;
      return;
    }
    auto summary = rollgate::coordinator::migrateSqliteToPostgres(
        config->stateDir, migrateUrl,
        [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
    if (!summary) {
      std::fprintf(stderr, "rollgate-coordinator: migrate-store: %s\n",
                   summary.error().message.c_str());
      exitCode = 1;
      return;
    }
    std::printf("%s\n", summary->c_str());
  });
  CLI11_PARSE(app, argc, argv);
  if (!app.get_subcommands().empty()) return exitCode;

  auto config = rollgate::coordinator::loadCoordinatorConfig(configPath);
  if (!config) {
    std::fprintf(stderr, "rollgate-coordinator: %s\n", config.error().message.c_str());
    return 2;
  }
  auto logger = rollgate::makeLogger("coordinator", config->logLevel);
  rollgate::SystemClock clock;
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::signal(SIGPIPE, SIG_IGN);
  if (!config->storeUrl.empty()) return runShared(*config, logger, clock);
  rollgate::coordinator::Coordinator coordinator(*config, logger, clock);
  if (auto status = coordinator.start(); !status) {
    // Printed whatever log_level says: a daemon never exits non-zero without saying why.
    if (logger->should_log(spdlog::level::critical)) {
      logger->critical("{}", status.error().message);
    } else {
      std::fprintf(stderr, "rollgate-coordinator: %s\n", status.error().message.c_str());
    }
    return 1;
  }
  running.store(&coordinator);
  if (stopping.load()) coordinator.requestStop();
  coordinator.run();
  running.store(nullptr);
  return 0;
}
