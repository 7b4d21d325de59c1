// rollgate: the operator's CLI. Builds one CLI11 app from the command groups and runs it.
#include <csignal>

#include "cli/commands.h"
#include "cli/install_commands.h"
#include "cli/rollout_commands.h"
#include "cli/train_commands.h"
#include "rollgate_version.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"rollgate: safe, staged rollouts with statistical canary gates"};
  app.set_version_flag("--version", std::string("rollgate ") + rollgate::kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  rollgate::cli::AdminOptions admin;
  rollgate::cli::addAdminOptions(app, admin);
  rollgate::cli::addKeygenCommand(app);
  rollgate::cli::addHostsCommands(app, admin);
  rollgate::cli::addTelemetryCommand(app, admin);
  rollgate::cli::addArtifactCommands(app, admin);
  rollgate::cli::addInstallCommands(app, admin);
  rollgate::cli::addAbortCommands(app, admin);
  rollgate::cli::addRolloutCommands(app, admin);
  rollgate::cli::addRevertCommand(app, admin);
  rollgate::cli::addConsoleCommand(app, admin);
  rollgate::cli::addBacktestCommand(app, admin);
  rollgate::cli::addJudgeCommand(app);
  rollgate::cli::addSignCommand(app);
  rollgate::cli::addBootstrapCommand(app, admin);
  rollgate::cli::addReleaseCommands(app, admin);
  rollgate::cli::addTrainCommands(app, admin);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
