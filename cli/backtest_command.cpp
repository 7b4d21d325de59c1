// `rollgate backtest` (docs/backtest.md): asks the coordinator to replay kept rollouts (or a
// --windows history, up to kMaxBacktestWindowsBytes) with other gates and plan, and prints the
// report (backtest_render.h). Protocol: BacktestRequest -> JsonDocument (BacktestView). The
// coordinator runs it off its loop on a read-only store connection; nothing is sent to any host
// and nothing stored changes. A bigger history: `rollgate-coordinator backtest --windows FILE`.
// `rollgate rollout label ID good|bad [--reason TEXT]`: LabelRollout -> AdminOk.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/backtest_render.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"
#include "common/codec.h"

namespace rollgate::cli {

using nlohmann::json;

namespace {

struct Options {
  std::string gatesFile, planFile, service, since, until, windowsFile;
  bool json = false;
  bool compare = false;
};

std::uint64_t nowMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void run(const AdminOptions& admin, const Options& options) {
  BacktestRequest body;
  if (!options.gatesFile.empty()) {
    body.gatesToml = readTextFile(options.gatesFile, "gates file");
    body.gatesName = options.gatesFile;
  }
  if (!options.planFile.empty()) {
    body.planToml = readTextFile(options.planFile, "plan file");
    body.planName = options.planFile;
  }
  if (options.compare && options.gatesFile.empty() && options.planFile.empty()) {
    fail(kExitUsage, "--compare needs --gates FILE or --plan FILE to compare with");
  }
  body.service = options.service;
  const std::uint64_t now = nowMillis();
  if (!options.since.empty()) {
    auto since = parseBacktestTime("--since", options.since, now);
    if (!since) fail(kExitUsage, since.error().message);
    body.sinceMillis = *since;
  }
  if (!options.until.empty()) {
    auto until = parseBacktestTime("--until", options.until, now);
    if (!until) fail(kExitUsage, until.error().message);
    body.untilMillis = *until;
  }
  if (!options.windowsFile.empty()) {
    struct stat st {};
    if (::stat(options.windowsFile.c_str(), &st) == 0 &&
        static_cast<std::uint64_t>(st.st_size) > kMaxBacktestWindowsBytes) {
      fail(kExitUsage, "windows file " + options.windowsFile + " has " +
                           std::to_string(st.st_size) + " bytes, more than the " +
                           std::to_string(kMaxBacktestWindowsBytes) +
                           " one request carries; replay it offline: rollgate-coordinator "
                           "backtest --windows " + options.windowsFile);
    }
    body.windowsJsonl = readTextFile(options.windowsFile, "windows file");
    body.windowsName = options.windowsFile;
    if (body.windowsJsonl.empty()) fail(kExitUsage, "windows file " + options.windowsFile + " is empty");
  }
  body.compare = options.compare;
  AdminRequest request;
  request.body = std::move(body);
  // A replay of many rollouts takes a while: at least two minutes unless --timeout says.
  json document = replyDocumentOrExit(
      callAdminOrExit(admin, std::move(request), std::chrono::milliseconds(120'000)), "backtest");
  auto view = backtestViewFromJson(document);
  if (!view) fail(kExitFailure, "the coordinator's reply to backtest: " + view.error().message);
  if (options.json) {
    std::printf("%s\n", toJson(*view).dump(2).c_str());
  } else {
    std::fputs(renderBacktest(*view).c_str(), stdout);
  }
}

}  // namespace

void addBacktestCommand(CLI::App& app, AdminOptions& admin) {
  auto options = std::make_shared<Options>();
  auto* command = app.add_subcommand(
      "backtest", "how other gates or another plan would have judged past rollouts (replayed "
                  "through the same engine; sends nothing, changes nothing)");
  command->add_option("--gates", options->gatesFile, "gates TOML to try (default: as each ran)");
  command->add_option("--plan", options->planFile,
                      "plan TOML to try: warm-up, analysis and looks (default: as each ran)");
  command->add_option("--service", options->service, "only this service");
  command->add_option("--since", options->since, "rollouts started from (2026-12-01, ...Z, 7d)");
  command->add_option("--until", options->until, "rollouts started before (as --since)");
  command->add_option("--windows", options->windowsFile,
                      "replay this JSON-lines history instead of the kept rollouts "
                      "(docs/backtest.md)");
  command->add_flag("--compare", options->compare, "the current gates' figures beside the new");
  command->add_flag("--json", options->json, "print JSON");
  command->callback([&admin, options] { run(admin, *options); });
}

void addRolloutLabelCommand(CLI::App& rollout, AdminOptions& admin) {
  struct LabelOptions {
    std::string id, label, reason;
    bool json = false;
  };
  auto options = std::make_shared<LabelOptions>();
  auto* command = rollout.add_subcommand(
      "label", "label a rollout good or bad for the backtest (overrides the automatic label)");
  command->add_option("ID", options->id, "rollout id")->required();
  command->add_option("LABEL", options->label, "good or bad")
      ->required()
      ->check(CLI::IsMember({"good", "bad"}));
  command->add_option("--reason", options->reason, "why");
  command->add_flag("--json", options->json, "print JSON");
  command->callback([&admin, options] {
    AdminRequest request;
    request.body = LabelRollout{options->id, options->label, options->reason};
    printOkOrExit(callAdminOrExit(admin, std::move(request)), options->json,
                  "label rollout " + options->id);
  });
}

}  // namespace rollgate::cli
