// The `rollgate` CLI's command groups. Each add*Command function registers one group of
// subcommands on the top-level CLI11 app; main.cpp only calls them in order.
//
// Conventions for every command:
//  - a failure prints one line to stderr that names the thing and the value, and the command
//    exits non-zero by throwing CLI::RuntimeError(code) from its callback (CLI11 exits quietly);
//  - every command that talks to the coordinator takes --json and then prints exactly one JSON
//    document to stdout (write commands that answer with a message: {"ok": true, "message": ...});
//  - nothing is printed to stdout but the command's result (progress goes to stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/admin_client.h"

namespace rollgate::cli {

// Exit codes shared by all commands.
inline constexpr int kExitFailure = 1;     // the operation ran and failed (or a verdict is "fail")
inline constexpr int kExitUsage = 2;       // bad arguments or input files
inline constexpr int kExitUnavailable = 3; // the coordinator could not be reached

// Sends one request to the coordinator and returns its final reply, or ends the command:
// kExitUnavailable when the coordinator cannot be reached or does not answer in time,
// kExitFailure with its message when it answers with an AdminError. A zero timeout, or any
// timeout when --timeout was given, means the --timeout option's.
AdminReply callAdminOrExit(const AdminOptions& admin, AdminRequest request,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
// The JSON object a JsonDocument reply carries; ends the command with kExitFailure, naming
// `what`, for any other reply.
nlohmann::json replyDocumentOrExit(const AdminReply& reply, const std::string& what);

void addKeygenCommand(CLI::App& app);
void addHostsCommands(CLI::App& app, AdminOptions& admin);
void addTelemetryCommand(CLI::App& app, AdminOptions& admin);
void addAbortCommands(CLI::App& app, AdminOptions& admin);  // abort, freeze, unfreeze
void addJudgeCommand(CLI::App& app);                  // judge_command.cpp (statistics)
void addSignCommand(CLI::App& app);                   // sign_command.cpp (build signatures)
void addBootstrapCommand(CLI::App& app, AdminOptions& admin);  // bootstrap_command.cpp (SSH)
void addRevertCommand(CLI::App& app, AdminOptions& admin);     // revert_command.cpp
void addConsoleCommand(CLI::App& app, AdminOptions& admin);    // console_command.cpp
void addBacktestCommand(CLI::App& app, AdminOptions& admin);   // backtest_command.cpp
// `rollout label`, on the `rollout` command (backtest_command.cpp).
void addRolloutLabelCommand(CLI::App& rollout, AdminOptions& admin);

// Prints the AdminOk message of `reply`, or {"ok": true, "message": ...} with `asJson`; ends the
// command with kExitFailure, naming `what`, for any other reply.
void printOkOrExit(const AdminReply& reply, bool asJson, const std::string& what);

}  // namespace rollgate::cli
