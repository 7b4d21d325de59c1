#include <doctest/doctest.h>

#include <map>

#include "coordinator/rollout/backtest.h"
#include "coordinator/rollout/journal.h"
#include "tests/support/backtest/corpus.h"

namespace rollgate::rollout {
namespace {

using testing::CorpusRollout;

const std::vector<CorpusRollout>& corpus() {
  static const std::vector<CorpusRollout> generated = [] {
    testing::CorpusOptions options;
    options.rollouts = 300;  // bench_backtest replays 1,000 (bench/README.md)
    return testing::generateCorpus(options);
  }();
  return generated;
}

const JournalRead& readCorpus() {
  static const JournalRead read = [] {
    std::vector<std::string> lines;
    for (const auto& r : corpus()) lines.insert(lines.end(), r.lines.begin(), r.lines.end());
    auto parsed = readJournal(lines, "corpus", testing::corpusPlan(), defaultGatesConfig());
    REQUIRE_MESSAGE(parsed, parsed.error().message);
    return *parsed;
  }();
  return read;
}

// Every corpus rollout replayed with its own gates (computed once).
const std::vector<ReplayResult>& ownReplays() {
  static const std::vector<ReplayResult> results = [] {
    std::vector<ReplayResult> out;
    for (const auto& r : readCorpus().rollouts) out.push_back(replay(r, nullptr, nullptr));
    return out;
  }();
  return results;
}

const BacktestCheckView& row(const std::vector<BacktestCheckView>& rows, const std::string& name) {
  for (const auto& r : rows) {
    if (r.name == name) return r;
  }
  FAIL("no row " << name);
  return rows.front();
}

std::vector<BacktestCheckView> scoreWith(const JournalRead& read, const GatesConfig* gates) {
  std::vector<const RecordedRollout*> rollouts;
  std::vector<ReplayResult> results;
  for (const auto& r : read.rollouts) {
    rollouts.push_back(&r);
    if (gates != nullptr) results.push_back(replay(r, gates, nullptr));
  }
  return scoreReplays(rollouts, gates != nullptr ? results : ownReplays());
}

GatesConfig withCheck(const std::string& name, double alpha, double minRatio = -1) {
  GatesConfig gates = defaultGatesConfig();
  bool found = false;
  for (auto& check : gates.checks) {
    if (check.name != name) continue;
    check.alpha = alpha;
    if (minRatio >= 0) check.minRatio = minRatio;
    found = true;
  }
  REQUIRE_MESSAGE(found, "no default check " << name);
  return gates;
}

GatesConfig looserTail() {
  GatesConfig gates = defaultGatesConfig();
  bool found = false;
  for (auto& check : gates.checks) {
    if (check.name != "latency_tail") continue;
    check.alpha = 0.05;
    check.minEffect = 10'000;
    found = true;
  }
  REQUIRE(found);
  return gates;
}

TEST_CASE("journal lines round-trip every input kind") {
  RolloutInput window;
  window.kind = InputKind::kTelemetry;
  window.atMillis = 1234;
  window.host = "eu-a1";
  window.window.service = "web";
  window.window.release = "2.0.0";
  window.window.startMillis = 1000;
  window.window.endMillis = 2000;
  window.window.requests = 10;
  window.window.status2xx = 9;
  window.window.status5xx = 1;
  window.window.latencySampleMicros = {100, 200};
  window.window.cpuMicros = 5000;
  window.window.cpuMillis = 5;
  window.window.memoryBytes = 77;
  window.window.restarts = 2;
  window.window.sentry.enabled = true;
  window.window.sentry.errors = 3;
  window.window.sentry.fingerprints.push_back({"KeyError", "app.x", 3, 1, "boom"});
  RolloutInput result;
  result.kind = InputKind::kCommandResult;
  result.atMillis = 99;
  result.host = "eu-a1";
  result.commandId = 4;
  result.result.outcome = Outcome::kRolledBack;
  result.result.activeRelease = "1.0.0";
  result.result.message = "health check failed";
  RolloutInput op;
  op.kind = InputKind::kOperator;
  op.verb = OperatorVerb::kRollback;
  op.who = "alice";
  op.reason = "looks wrong";
  RolloutInput stalled;
  stalled.kind = InputKind::kResumed;
  stalled.atMillis = 120;
  stalled.reason = "the coordinator stalled for 9.5 s";
  for (const RolloutInput& input : {window, result, op, stalled}) {
    bool unreadable = true;
    auto line = parseLine(inputLine("r1", input), &unreadable);
    REQUIRE_MESSAGE(line, line.error().message);
    CHECK_FALSE(unreadable);
    CHECK(line->rolloutId == "r1");
    CHECK(line->input.kind == input.kind);
    CHECK(line->input.atMillis == input.atMillis);
    CHECK(line->input.host == input.host);
    CHECK(line->input.window == input.window);
    CHECK(line->input.commandId == input.commandId);
    CHECK(line->input.result.outcome == input.result.outcome);
    CHECK(line->input.result.message == input.result.message);
    CHECK(line->input.who == input.who);
    CHECK(line->input.reason == input.reason);
  }
}

TEST_CASE("a line of another schema version is skipped and counted; a bad line names its key") {
  bool unreadable = false;
  CHECK_FALSE(parseLine(R"({"v":2,"rollout":"r1","type":"tick","at":1})", &unreadable));
  CHECK(unreadable);
  auto bad = parseLine(R"({"v":1,"rollout":"r1","type":"result","at":1,"host":"h","outcome":"maybe","active":"1"})",
                       &unreadable);
  REQUIRE_FALSE(bad);
  CHECK_FALSE(unreadable);
  CHECK(bad.error().message.find("key outcome") != std::string::npos);
  CHECK(bad.error().message.find("maybe") != std::string::npos);

  auto read = readJournal({R"({"v":7,"rollout":"r1","type":"tick","at":1})",
                           R"({"v":1,"rollout":"r2","type":"tick","at":1})"},
                          "history.jsonl", defaultPlanConfig(), defaultGatesConfig());
  REQUIRE_FALSE(read);
  CHECK(read.error().message.find("history.jsonl line 2") != std::string::npos);
  auto skipped = readJournal({R"({"v":7,"rollout":"r1","type":"tick","at":1})"}, "f",
                             defaultPlanConfig(), defaultGatesConfig());
  REQUIRE(skipped);
  CHECK(skipped->unreadableLines == 1);
  CHECK(skipped->rollouts.empty());
}

TEST_CASE("the corpus has good builds and bad builds of every fault class") {
  std::map<std::string, int> classes;
  std::map<std::string, int> decisions;  // what the live runs decided, per class
  for (const auto& r : corpus()) {
    classes[r.faultClass] += 1;
    decisions[r.faultClass + ": " + r.liveDecision + " " + r.liveCheck] += 1;
  }
  for (const auto& entry : decisions) MESSAGE(entry.first << ": " << entry.second);
  CHECK(corpus().size() == 300);
  CHECK(classes.size() == 8);  // none + the catalog's seven classes
  for (const auto& entry : classes) CHECK_MESSAGE(entry.second >= 15, entry.first);
}

TEST_CASE("replaying the corpus with its own gates takes the live decisions at the live looks") {
  const JournalRead& read = readCorpus();
  REQUIRE(read.rollouts.size() == corpus().size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < read.rollouts.size(); ++i) {
    const CorpusRollout& live = corpus()[i];
    const ReplayResult& result = ownReplays()[i];
    bool same = result.decision.decision == live.liveDecision &&
                result.decision.step == live.liveStep && result.decision.look == live.liveLook &&
                result.decision.check == live.liveCheck;
    if (!same && ++differing <= 5) {
      MESSAGE(live.id << ": live " << live.liveDecision << " step " << live.liveStep << " look "
                      << live.liveLook << " " << live.liveCheck << "; replay "
                      << result.decision.decision << " step " << result.decision.step << " look "
                      << result.decision.look << " " << result.decision.check);
    }
  }
  CHECK(differing == 0);
}

// The figures docs/backtest.md states for the default gates on this corpus.
TEST_CASE("the default gates reach their stated precision and recall on the corpus") {
  auto rows = scoreWith(readCorpus(), nullptr);
  const auto& gates = row(rows, "(gates)");
  MESSAGE("precision " << gates.precision.value_or(-1) << " recall " << gates.recall.value_or(-1)
                       << " tp " << gates.truePositives << " fp " << gates.falsePositives
                       << " fn " << gates.falseNegatives << " tn " << gates.trueNegatives);
  REQUIRE(gates.precision);
  REQUIRE(gates.recall);
  CHECK(*gates.precision >= 0.95);
  CHECK(*gates.recall >= 0.80);
  CHECK(gates.medianMillisToDecision.has_value());
}

TEST_CASE("loosening one check's alpha flags more, tightening it flags less") {
  const JournalRead& read = readCorpus();
  auto base = row(scoreWith(read, nullptr), "latency_tail");
  GatesConfig loose = withCheck("latency_tail", 0.2);
  GatesConfig tight = withCheck("latency_tail", 0.0001);
  auto looser = row(scoreWith(read, &loose), "latency_tail");
  auto tighter = row(scoreWith(read, &tight), "latency_tail");
  auto flagged = [](const BacktestCheckView& r) { return r.truePositives + r.falsePositives; };
  MESSAGE("latency_tail flagged: tight " << flagged(tighter) << ", default " << flagged(base)
                                    << ", loose " << flagged(looser));
  CHECK(flagged(looser) > flagged(base));
  CHECK(flagged(tighter) < flagged(base));
  CHECK(looser.falsePositives >= base.falsePositives);
  CHECK(looser.truePositives >= base.truePositives);
  CHECK(tighter.truePositives <= base.truePositives);
  CHECK(looser.recall.value_or(0) >= base.recall.value_or(0));
  CHECK(tighter.recall.value_or(0) <= base.recall.value_or(0));
}

TEST_CASE("raising one check's floor flags less") {
  const JournalRead& read = readCorpus();
  auto base = row(scoreWith(read, nullptr), "cpu");
  GatesConfig higher = defaultGatesConfig();
  for (auto& check : higher.checks) {
    if (check.name == "cpu") check.minEffect = check.minEffect * 4;
  }
  auto raised = row(scoreWith(read, &higher), "cpu");
  auto flagged = [](const BacktestCheckView& r) { return r.truePositives + r.falsePositives; };
  MESSAGE("cpu flagged: default " << flagged(base) << ", floor x4 " << flagged(raised));
  CHECK(flagged(raised) < flagged(base));
  CHECK(raised.recall.value_or(0) <= base.recall.value_or(0));
}

// The --compare run docs/backtest.md and bench/README.md show: the latency tail check loosened
// (alpha 0.05 instead of 0.01, a 10 ms floor instead of 50 ms) flags milder slow tails of bad
// builds and, at times, a good build's noise: the gates' recall rises and their precision falls.
TEST_CASE("a looser latency tail check trades precision for recall") {
  const JournalRead& read = readCorpus();
  const auto asRan = row(scoreWith(read, nullptr), "(gates)");
  GatesConfig loose = looserTail();
  const auto rows = scoreWith(read, &loose);
  const auto& now = row(rows, "(gates)");
  const auto& tail = row(rows, "latency_tail");
  MESSAGE("(gates) precision " << asRan.precision.value_or(-1) << " -> " << now.precision.value_or(-1)
                               << ", recall " << asRan.recall.value_or(-1) << " -> "
                               << now.recall.value_or(-1) << "; latency_tail TP "
                               << tail.truePositives << " FP " << tail.falsePositives);
  REQUIRE(asRan.precision);
  REQUIRE(now.precision);
  CHECK(*now.precision < *asRan.precision);
  CHECK(now.recall.value_or(0) > asRan.recall.value_or(0));
  CHECK(now.truePositives > asRan.truePositives);
  CHECK(now.falsePositives > asRan.falsePositives);
  CHECK(tail.falsePositives > 0);
}

}  // namespace
}  // namespace rollgate::rollout
