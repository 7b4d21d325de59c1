// The release train's commands (docs/train.md):
//   rollgate release submit --service S --version V --commit SHA [--parent SHA] [--author A]
//       [--title T] [--fixes SHA] --tests passed|failed|pending [--artifact FILE [--signature F]]
//   rollgate release tests --service S --commit SHA --tests passed|failed|pending
//   rollgate release list --service S
//   rollgate train enable S [--config FILE] [--plan FILE] [--gates FILE] [--deployed SHA]
//   rollgate train disable|status|history|pause|resume|unlock S;  rollgate train lock S --reason R
// Protocol: TrainRequest{action, service, argsJson} -> JsonDocument. --json prints it as is;
// otherwise it is rendered as a table or a few lines.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/admin_client.h"

namespace rollgate::cli {

void addReleaseCommands(CLI::App& app, AdminOptions& admin);  // release submit|tests|list
void addTrainCommands(CLI::App& app, AdminOptions& admin);    // train ...

}  // namespace rollgate::cli
