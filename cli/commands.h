// The `rollgate` CLI's command groups. Each add*Command function registers one group of
// subcommands on the top-level CLI11 app; main.cpp only calls them in order.
//
// Conventions for every command:
//  - a failure prints one line to stderr that names the thing and the value, and the command
//    exits non-zero by throwing CLI::RuntimeError(code) from its callback (CLI11 exits quietly);
//  - read commands take --json and then print exactly one JSON document to stdout;
//  - nothing is printed to stdout but the command's result (progress goes to stderr).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/admin_client.h"

namespace rollgate::cli {

// Exit codes shared by all commands.
inline constexpr int kExitFailure = 1;     // the operation ran and failed (or a verdict is "fail")
inline constexpr int kExitUsage = 2;       // bad arguments or input files
inline constexpr int kExitUnavailable = 3; // the coordinator could not be reached

void addKeygenCommand(CLI::App& app);
void addHostsCommands(CLI::App& app, AdminOptions& admin);
void addTelemetryCommand(CLI::App& app, AdminOptions& admin);
void addAbortCommands(CLI::App& app, AdminOptions& admin);  // abort, freeze, unfreeze
void addJudgeCommand(CLI::App& app);                  // judge_command.cpp (statistics)
void addSignCommand(CLI::App& app);                   // sign_command.cpp (build signatures)
void addBootstrapCommand(CLI::App& app, AdminOptions& admin);  // bootstrap_command.cpp (SSH)

}  // namespace rollgate::cli
