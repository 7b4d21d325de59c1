// `rollgate judge mannwhitney|fisher`: offline statistical tests (see judge_run.h).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/judge_run.h"

namespace rollgate::cli {

void addJudgeCommand(CLI::App& app) {
  CLI::App* judge = app.add_subcommand(
      "judge", "Run a gate's statistical test offline on sample files or counts");
  judge->require_subcommand(1);

  auto mannWhitney = std::make_shared<JudgeMannWhitneyOptions>();
  CLI::App* mw = judge->add_subcommand("mannwhitney",
                                       "Mann-Whitney U test: canary sample versus baseline sample");
  mw->add_option("--canary", mannWhitney->canaryFile, "File of canary values, one per line")
      ->required();
  mw->add_option("--baseline", mannWhitney->baselineFile, "File of baseline values, one per line")
      ->required();
  mw->add_option("--alternative", mannWhitney->alternative,
                 "greater (canary larger), less, or two-sided")
      ->capture_default_str();
  mw->add_option("--confidence", mannWhitney->confidence, "Level of the confidence intervals")
      ->capture_default_str();
  mw->add_flag("--json", mannWhitney->json, "Print one JSON document");
  mw->callback([mannWhitney] {
    const int code = runJudgeMannWhitney(*mannWhitney, std::cout, std::cerr);
    std::cout.flush();
    if (code != 0) throw CLI::RuntimeError(code);
  });

  auto fisher = std::make_shared<JudgeFisherOptions>();
  CLI::App* fe = judge->add_subcommand(
      "fisher", "Fisher's exact test: canary errors/total versus baseline errors/total");
  fe->add_option("--canary-errors", fisher->canaryErrors, "Canary requests in error")->required();
  fe->add_option("--canary-total", fisher->canaryTotal, "All canary requests")->required();
  fe->add_option("--baseline-errors", fisher->baselineErrors, "Baseline requests in error")
      ->required();
  fe->add_option("--baseline-total", fisher->baselineTotal, "All baseline requests")->required();
  fe->add_option("--alternative", fisher->alternative,
                 "greater (canary error odds higher), less, or two-sided")
      ->capture_default_str();
  fe->add_option("--confidence", fisher->confidence, "Level of the confidence intervals")
      ->capture_default_str();
  fe->add_flag("--json", fisher->json, "Print one JSON document");
  fe->callback([fisher] {
    const int code = runJudgeFisher(*fisher, std::cout, std::cerr);
    std::cout.flush();
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace rollgate::cli
