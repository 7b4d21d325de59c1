// rollgate-agent: runs the host agent (default), or one of its one-shot tools: `init` writes a
// working agent.toml and the host's key pair, `keygen` writes the key pair alone, `parse` checks
// an access log against a format.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "agent/init_command.h"
#include "common/clock.h"
#include "common/keys.h"
#include "common/logging.h"
#include "rollgate_version.h"

#if __has_include("agent/telemetry/parse_command.h")
#include "agent/telemetry/parse_command.h"
#define ROLLGATE_HAVE_PARSE_COMMAND 1
#endif

namespace {
rollgate::agent::Agent* running = nullptr;
void onSignal(int) {
  if (running != nullptr) running->requestStop();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollgate-agent: installs builds and reports telemetry for this host"};
  app.set_version_flag("--version", std::string("rollgate-agent ") + rollgate::kVersion);
  std::string configPath = rollgate::agent::kDefaultAgentConfig;
  app.add_option("--config", configPath, "agent config (TOML)")->capture_default_str();

  auto* keygen = app.add_subcommand("keygen", "write this host's CURVE key pair");
  std::string prefix = "/etc/rollgate/agent";
  bool ifMissing = false;
  bool force = false;
  keygen->add_option("--out", prefix, "writes PREFIX.key (0600) and PREFIX.pub")
      ->capture_default_str();
  keygen->add_flag("--if-missing", ifMissing, "do nothing if PREFIX.key exists");
  keygen->add_flag("--force", force, "replace an existing key pair");
  int exitCode = 0;
  keygen->callback([&] {
    auto result = rollgate::keygenCommand(prefix, ifMissing, force);
    if (!result) {
      std::fprintf(stderr, "rollgate-agent keygen: %s\n", result.error().message.c_str());
      exitCode = 1;
      return;
    }
    std::fputs(result->c_str(), stdout);
  });
  auto* init = app.add_subcommand(
      "init", "write a working agent.toml and this host's key pair (never overwrites a file)");
  rollgate::agent::InitOptions initOptions;
  init->add_option("--dir", initOptions.dir, "directory for agent.toml and the keys")
      ->capture_default_str();
  init->add_option("--host", initOptions.host, "this host's name (its key is enrolled under it)")
      ->required();
  init->add_option("--region", initOptions.region, "region, e.g. eu-west")->required();
  init->add_option("--cluster", initOptions.cluster, "cluster, e.g. eu-west-a")->required();
  init->add_option("--coordinator", initOptions.coordinator, "tcp://HOST:7400")->required();
  init->add_option("--broadcast", initOptions.broadcast,
                   "tcp://HOST:7402 (default: the coordinator's host, port 7402)");
  init->add_option("--coordinator-key", initOptions.coordinatorKey,
                   "the coordinator's public key file (default: DIR/coordinator.pub)");
  init->add_option("--state-dir", initOptions.stateDir,
                   "state directory (default: /var/lib/rollgate/agent, or DIR/agent-state)");
  init->add_option("--systemd", initOptions.systemd,
                   "system: the system manager's bus; user: $DBUS_SESSION_BUS_ADDRESS or "
                   "$XDG_RUNTIME_DIR/bus; none: restart_command per service")
      ->check(CLI::IsMember({"system", "user", "none"}))
      ->capture_default_str();
  init->add_option("--service", initOptions.service, "one service to declare (more by editing)");
  init->add_option("--unit", initOptions.unit, "its systemd unit (default: SERVICE.service)");
  init->add_option("--install-root", initOptions.installRoot,
                   "where its releases/<version>/ and current live");
  init->add_option("--access-log", initOptions.accessLog, "its access log");
  init->add_option("--access-log-format", initOptions.accessLogFormat,
                   "combined | combined_rt | json | an nginx log_format")
      ->capture_default_str();
  init->add_option("--error-log", initOptions.errorLog, "its error log");
  init->add_option("--health-url", initOptions.healthUrl, "asked after every restart, 2xx = healthy");
  init->add_option("--restart-command", initOptions.restartCommand,
                   "with --systemd none: program and arguments, split at spaces");
  init->callback([&] {
    auto report = rollgate::agent::initAgent(initOptions);
    if (!report) {
      std::fprintf(stderr, "%s\n", report.error().message.c_str());
      exitCode = 1;
      return;
    }
    std::fputs(report->c_str(), stdout);
  });
#ifdef ROLLGATE_HAVE_PARSE_COMMAND
  rollgate::agent::addParseCommand(app);
#endif
  CLI11_PARSE(app, argc, argv);
  if (!app.get_subcommands().empty()) return exitCode;

  auto config = rollgate::agent::loadAgentConfig(configPath);
  if (!config) {
    std::fprintf(stderr, "rollgate-agent: %s\n", config.error().message.c_str());
    return 2;
  }
  auto logger = rollgate::makeLogger("agent", config->logLevel);
  rollgate::SystemClock clock;
  rollgate::agent::Agent agent(*config, logger, clock);
  if (auto status = agent.start(); !status) {
    // Printed whatever log_level says: a daemon never exits non-zero without saying why.
    if (logger->should_log(spdlog::level::critical)) {
      logger->critical("{}", status.error().message);
    } else {
      std::fprintf(stderr, "rollgate-agent: %s\n", status.error().message.c_str());
    }
    return 1;
  }
  running = &agent;
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::signal(SIGPIPE, SIG_IGN);
  agent.run();
  running = nullptr;
  return 0;
}
