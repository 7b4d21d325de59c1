// Backtests keeps the runs operators start (for the console's pages): ids in order, the running
// one first, then the newest first, at most kKeptBacktestRuns, failures kept with their error,
// and each report without every rollout's looks; the reply carries the run's id.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "coordinator/backtests.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace rollgate::coordinator {
namespace {

using testing::RecordingOutbox;

// Starts one backtest of a history with no rollout (a line of another schema version) and ticks
// until its reply is sent.
void runOne(Backtests& backtests, RecordingOutbox& outbox, const std::string& gatesToml = "") {
  BacktestRequest request;
  request.windowsJsonl = R"({"v":99,"rollout":"r1","type":"tick","at":1})";
  request.windowsName = "history.jsonl";
  request.gatesToml = gatesToml;
  request.gatesName = gatesToml.empty() ? "" : "gates.toml";
  const std::size_t before = outbox.replies.size();
  REQUIRE_FALSE(backtests.start(request, ReplyTo{"cli", 1}, "alice").has_value());
  // The replay runs on a worker thread of its own: tick until it has answered (a few ms).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (outbox.replies.size() == before && std::chrono::steady_clock::now() < deadline) {
    backtests.tick();
    std::this_thread::yield();
  }
  REQUIRE(outbox.replies.size() == before + 1);
}

TEST_CASE("backtest runs are kept with ids, newest first, bounded, failures with their error") {
  FakeClock clock{1'763'700'000'000ull};
  RecordingOutbox outbox;
  Backtests backtests(BacktestSettings{}, outbox, clock, makeLogger("backtests-test", "off"));
  CHECK(backtests.runs().empty());
  const std::uint64_t version = backtests.runsVersion();

  runOne(backtests, outbox);
  CHECK(backtests.runsVersion() != version);
  auto runs = backtests.runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].id == "b1");
  CHECK(runs[0].requestedBy == "alice");
  CHECK(runs[0].finishedMillis != 0);
  CHECK(runs[0].request.find("history history.jsonl") != std::string::npos);
  REQUIRE(runs[0].report != nullptr);
  CHECK(runs[0].report->runId == "b1");
  CHECK(runs[0].report->rollouts.empty());
  const auto* doc = std::get_if<JsonDocument>(&outbox.replies.back().body);
  REQUIRE(doc != nullptr);
  CHECK(nlohmann::json::parse(doc->text).value("run", "") == "b1");
  CHECK(summaryJson(runs[0])["status"] == "done");

  // Gates that do not parse: a failed run, kept with the error the operator got.
  runOne(backtests, outbox, "[[check]]\nname = 3\n");
  runs = backtests.runs();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].id == "b2");
  CHECK(runs[0].report == nullptr);
  CHECK(runs[0].error.find("gates.toml") != std::string::npos);
  CHECK(summaryJson(runs[0])["status"] == "failed");
  CHECK(std::holds_alternative<AdminError>(outbox.replies.back().body));

  for (int i = 0; i < 25; ++i) runOne(backtests, outbox);
  runs = backtests.runs();
  REQUIRE(runs.size() == kKeptBacktestRuns);
  CHECK(runs.front().id == "b27");
  CHECK(runs.back().id == "b8");
}

}  // namespace
}  // namespace rollgate::coordinator
