// Rollouts from the command line: `rollgate rollout start|status|list|watch|pause|resume|promote|
// rollback|explain|history` and the top-level shortcuts `rollgate watch ID` and
// `rollgate explain ID` (rollout_command.cpp). They follow the conventions in commands.h.
//
// Protocol with the coordinator's admin endpoint (every failure is an AdminError{message}):
//  - start: the artifact is pushed first (pushArtifactFile, install_commands.h), then
//    StartRollout{service, version, planToml, gatesToml, canaryHost} (the files' text, empty =
//    defaults) -> JsonDocument {"rollout": <summary>};
//  - list: ListRollouts{} -> JsonDocument {"rollouts": [<summary>, ...]} (newest first);
//  - status, watch, explain, history: DescribeRollout{id} -> JsonDocument
//    {"rollout": <summary>, "plan": [{step, stage, batch, batches, region, targets, comparison}],
//     "checks": [{atMillis, step, stage, batch, batches, region, canaryHosts, comparisonHosts,
//                 result: <CheckResult>}], "events": [{atMillis, host, kind, text}]}
//    (checks and events oldest first; "step" 1-based in both plan and checks);
//  - pause, resume, promote, rollback: RolloutAction{id, action} -> AdminOk{message}.
// <summary> is rollout::summaryJson() and <CheckResult> the JSON of state_json.cpp.
//
// The render* functions below turn those documents into the text the commands print. They do no
// I/O and read no clock, so tests feed them canned documents. A missing key renders as "-".
// Thread-safety: none needed (the CLI is single-threaded).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/admin_client.h"

namespace rollgate::cli {

void addRolloutCommands(CLI::App& app, AdminOptions& admin);

// succeeded, rolled_back, aborted, failed (rollout::isTerminal).
bool isTerminalRolloutStatus(const std::string& status);
// 0 for "succeeded", kExitFailure for any other status (used by --wait and watch).
int rolloutExitCode(const std::string& status);

// "2026-11-21 23:05:40.123" (UTC); "-" for 0.
std::string formatUtcMillis(std::uint64_t unixMillis);
// "8s", "1m05s", "2h03m".
std::string formatDurationMillis(std::uint64_t millis);

// The reply to `rollout start`: id, service, version and the first step.
std::string renderRolloutStarted(const nlohmann::json& summary);
// `rollout list`: one table row per rollout of {"rollouts": [...]}.
std::string renderRolloutList(const nlohmann::json& listDocument);
// `rollout status` (and watch on a terminal): the current step, its hosts and every check.
std::string renderRolloutStatus(const nlohmann::json& summary);
// `rollout explain`: step by step, the hosts, each check's last result there, the decision.
std::string renderRolloutExplain(const nlohmann::json& describeDocument);
// `rollout history`: the events, timestamped.
std::string renderRolloutHistory(const nlohmann::json& describeDocument);
// `watch` when stdout is not a terminal: one line per change between two summaries (previous
// null: the first lines). Changes are the step, phase, status or hold, and each check's verdict
// or look.
std::vector<std::string> rolloutWatchChanges(const nlohmann::json& previous,
                                             const nlohmann::json& current);

}  // namespace rollgate::cli
