// Rollouts from the command line: `rollgate rollout start|status|list|watch|pause|resume|promote|
// rollback|explain|history` and the top-level shortcuts `rollgate watch ID` and
// `rollgate explain ID` (rollout_command.cpp). They follow the conventions in commands.h.
//
// Protocol with the coordinator's admin endpoint (every failure is an AdminError{message}); the
// documents are the read model of common/rollout_view.h (docs/rollout-read-model.md):
//  - start: StartRollout{..., dryRun = true} -> AdminOk (or the refusal, before any upload); then
//    the artifact is pushed (pushArtifactFile, install_commands.h), then
//    StartRollout{service, version, planToml, gatesToml, canaryHost} (the files' text, empty =
//    defaults) -> JsonDocument {"rollout": <RolloutSummaryView>};
//  - list: ListRollouts{} -> JsonDocument {"rollouts": [<RolloutSummaryView>, ...]} (newest
//    first);
//  - status, watch, explain, history: DescribeRollout{id} -> JsonDocument <RolloutView>;
//  - pause, resume, promote, rollback: RolloutAction{id, action} -> AdminOk{message}.
// Replies are decoded into the model in one place; one that does not decode ends the command
// with a message naming the key.
//
// The render* functions below turn the model into the text the commands print. They do no I/O
// and read no clock, so tests feed them canned documents. Empty strings render as "-".
// Thread-safety: none needed (the CLI is single-threaded).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/admin_client.h"
#include "common/rollout_view.h"

namespace rollgate::cli {

void addRolloutCommands(CLI::App& app, AdminOptions& admin);

// Follows a rollout until it ends: DescribeRollout every `intervalMillis`. On a terminal stdout
// the screen is redrawn; otherwise (or with `linesTo` stderr for --wait --json) a line per change.
// A coordinator that cannot be reached is retried for a minute (it may be restarting). Returns the
// last summary; ends the command on an error reply.
RolloutSummaryView followRollout(const AdminOptions& admin, const std::string& id,
                                 std::FILE* linesTo, std::uint64_t intervalMillis);
// The text of `path` ("" for an empty path); ends the command with kExitUsage, naming `what` and
// the path, when it cannot be read.
std::string readTextFile(const std::string& path, const std::string& what);

// succeeded, rolled_back, aborted, failed (rollout::isTerminal).
bool isTerminalRolloutStatus(const std::string& status);
// 0 for "succeeded", kExitFailure for any other status (used by --wait and watch).
int rolloutExitCode(const std::string& status);

// "2026-11-21 23:05:40.123" (UTC); "-" for 0.
std::string formatUtcMillis(std::uint64_t unixMillis);
// "8s", "1m05s", "2h03m".
std::string formatDurationMillis(std::uint64_t millis);

// "FROZEN since <time> by <who>: <reason>\n", printed above the tables of `hosts` and
// `rollout list` while rollouts are frozen fleet-wide.
std::string renderFreezeLine(const FreezeState& freeze);
// The reply to `rollout start`: id, service, version and the first step.
std::string renderRolloutStarted(const RolloutSummaryView& summary);
// `rollout list`: one table row per rollout, under the freeze line while frozen.
std::string renderRolloutList(const std::vector<RolloutSummaryView>& rollouts,
                              const std::optional<FreezeState>& freeze = std::nullopt);
// `rollout status` (and watch on a terminal): the current step, its hosts and every check.
std::string renderRolloutStatus(const RolloutSummaryView& summary);
// `rollout explain`: step by step, the hosts, each check's last result there, and the events of
// each step (the decision).
std::string renderRolloutExplain(const RolloutView& view);
// `rollout history`: the events, timestamped.
std::string renderRolloutHistory(const RolloutView& view);
// `watch` when stdout is not a terminal: one line per change between two summaries (previous
// null: the first lines). Changes are the step, phase, status or hold, and each check's verdict
// or look.
std::vector<std::string> rolloutWatchChanges(const RolloutSummaryView* previous,
                                             const RolloutSummaryView& current);

}  // namespace rollgate::cli
