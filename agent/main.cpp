// rollgate-agent: runs the host agent (default), or one of its one-shot tools: `keygen` writes
// the host's CURVE key pair, `parse` checks an access log against a format.
#include <unistd.h>

#include <csignal>
#include <CLI/CLI.hpp>

#include "agent/agent.h"
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
    logger->critical("{}", status.error().message);
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
