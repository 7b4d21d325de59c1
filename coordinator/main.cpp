// rollgate-coordinator: parses flags, builds the coordinator and runs it until SIGTERM/SIGINT.
#include <csignal>
#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/coordinator.h"
#include "rollgate_version.h"

namespace {
rollgate::coordinator::Coordinator* running = nullptr;
void onSignal(int) {
  if (running != nullptr) running->requestStop();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollgate-coordinator: stages rollouts across the fleet and gates them"};
  app.set_version_flag("--version", std::string("rollgate-coordinator ") + rollgate::kVersion);
  std::string configPath = rollgate::coordinator::kDefaultCoordinatorConfig;
  app.add_option("--config", configPath, "coordinator config (TOML)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto config = rollgate::coordinator::loadCoordinatorConfig(configPath);
  if (!config) {
    std::fprintf(stderr, "rollgate-coordinator: %s\n", config.error().message.c_str());
    return 2;
  }
  auto logger = rollgate::makeLogger("coordinator", config->logLevel);
  rollgate::SystemClock clock;
  rollgate::coordinator::Coordinator coordinator(*config, logger, clock);
  if (auto status = coordinator.start(); !status) {
    logger->critical("{}", status.error().message);
    return 1;
  }
  running = &coordinator;
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::signal(SIGPIPE, SIG_IGN);
  coordinator.run();
  running = nullptr;
  return 0;
}
