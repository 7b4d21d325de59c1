// bench_backtest: how fast `rollgate backtest` replays. Generates the backtest corpus
// (tests/support/backtest/corpus.h: good and bad builds of every fault class, labelled) of N
// rollouts (default 1000), then times runBacktest() over it as the coordinator runs it (parse the
// JSON lines, replay every rollout with its own gates and with changed gates, score): windows per
// second and rollouts per second, beside one real canary stage of the demo plan (2 s warm-up +
// 10 s analysis) and of the default plan (60 s + 300 s). The changed gates loosen the latency tail
// check (alpha 0.05 instead of 0.01, a 10 ms floor instead of 50 ms), which trades precision for
// recall on the corpus (docs/backtest.md).
//   bench_backtest [ROLLOUTS] [--write FILE] [--write-gates FILE]
//   (--write: keep the corpus as JSON lines; --write-gates: the changed gates as TOML, for
//   `rollgate-coordinator backtest --windows FILE --gates GATES --compare --window-seconds 1`)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "coordinator/backtests.h"
#include "tests/support/backtest/corpus.h"
#include "tests/support/fleet/gates_toml.h"

int main(int argc, char** argv) {
  std::size_t rollouts = 1000;
  std::string writeTo;
  std::string writeGatesTo;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--write") == 0 && i + 1 < argc) {
      writeTo = argv[++i];
    } else if (std::strcmp(argv[i], "--write-gates") == 0 && i + 1 < argc) {
      writeGatesTo = argv[++i];
    } else {
      rollouts = static_cast<std::size_t>(std::strtoull(argv[i], nullptr, 10));
    }
  }
  using Clock = std::chrono::steady_clock;
  auto began = Clock::now();
  rollgate::testing::CorpusOptions options;
  options.rollouts = rollouts;
  auto corpus = rollgate::testing::generateCorpus(options);
  std::string text = rollgate::testing::corpusText(corpus);
  double generated = std::chrono::duration<double>(Clock::now() - began).count();
  if (!writeTo.empty()) std::ofstream(writeTo, std::ios::binary) << text;
  std::printf("corpus: %zu rollouts, %.1f MiB of JSON lines, generated in %.1f s\n",
              corpus.size(), static_cast<double>(text.size()) / (1024.0 * 1024.0), generated);

  rollgate::coordinator::BacktestSettings settings;
  settings.windowSeconds = 1;
  rollgate::BacktestRequest request;
  request.windowsJsonl = text;
  request.windowsName = "corpus";
  // The default gates with the latency tail check loosened (both replays run).
  rollgate::rollout::GatesConfig gates = rollgate::rollout::defaultGatesConfig();
  for (auto& check : gates.checks) {
    if (check.name != "latency_tail") continue;
    check.alpha = 0.05;
    check.minEffect = 10'000;
  }
  request.gatesToml = rollgate::testing::gatesToml(gates);
  request.gatesName = "latency_tail alpha 0.05, min_effect 10 ms";
  if (!writeGatesTo.empty()) std::ofstream(writeGatesTo, std::ios::binary) << request.gatesToml;
  request.compare = true;
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    auto report = rollgate::coordinator::runBacktest(request, nullptr, settings, 0);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!report) {
      std::fprintf(stderr, "bench_backtest: %s\n", report.error().message.c_str());
      return 1;
    }
    // Each rollout is replayed twice (its own gates, then the new ones).
    double replays = 2.0 * static_cast<double>(report->replayed);
    std::printf("round %d: %llu windows and %.0f rollout replays in %.2f s (parse + replay + "
                "score): %.0f windows/s, %.0f rollouts/s (replay alone %.2f s)\n",
                round + 1, static_cast<unsigned long long>(report->windows), replays, seconds,
                static_cast<double>(report->windows) / seconds, replays / seconds,
                report->replayMillis / 1000.0);
    if (round > 0) continue;
    // The decision quality of both gate sets on the corpus (the gates as a whole, then each check).
    auto print = [](const char* which, const std::vector<rollgate::BacktestCheckView>& rows) {
      for (const auto& row : rows) {
        std::printf("  %-9s %-20s TP %4llu FP %4llu FN %4llu TN %4llu precision %s recall %s\n",
                    which, row.name.c_str(), static_cast<unsigned long long>(row.truePositives),
                    static_cast<unsigned long long>(row.falsePositives),
                    static_cast<unsigned long long>(row.falseNegatives),
                    static_cast<unsigned long long>(row.trueNegatives),
                    row.precision ? std::to_string(*row.precision).c_str() : "-",
                    row.recall ? std::to_string(*row.recall).c_str() : "-");
      }
    };
    std::printf("labels: %llu good, %llu bad, %llu unlabelled\n",
                static_cast<unsigned long long>(report->good),
                static_cast<unsigned long long>(report->bad),
                static_cast<unsigned long long>(report->unlabelled));
    print("default", report->currentChecks);
    print("changed", report->checks);
  }
  std::printf("peer: one real canary stage of the demo plan takes 12 s (2 s warm-up + 10 s "
              "analysis), of the default plan 360 s (60 s + 300 s)\n");
  return 0;
}
