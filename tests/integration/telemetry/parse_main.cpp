// Test-only front end for the one-shot parse mode until rollgate-agent wires addParseCommand:
// `rollgate-telemetry-parse parse --format FORMAT FILE [--json]`.
#include <CLI/CLI.hpp>

#include "agent/telemetry/parse_command.h"

int main(int argc, char** argv) {
  CLI::App app("rollgate telemetry parse (test front end)");
  app.require_subcommand(1);
  rollgate::agent::addParseCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
