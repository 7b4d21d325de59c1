// What `rollgate rollout status|list|explain|history|watch` print, rendered from canned documents
// in the read model's JSON form (common/rollout_view.h, the coordinator's replies), and what
// happens to a document that does not decode. The assertions are on whole rendered lines an
// operator reads.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/rollout_commands.h"

namespace rollgate::cli {
namespace {

using nlohmann::json;

constexpr std::uint64_t kStart = 1795825200000;  // 2026-11-28 00:20:00.000 UTC

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool hasLine(const std::string& text, const std::string& line) {
  auto lines = linesOf(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// Collapses runs of spaces so table rows can be asserted without their padding.
std::string squeeze(const std::string& line) {
  std::string out;
  for (char c : line) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

bool hasRow(const std::string& text, const std::string& row) {
  for (const auto& line : linesOf(text)) {
    if (squeeze(line) == row) return true;
  }
  return false;
}

RolloutSummaryView summaryOf(const json& document) {
  auto summary = rolloutSummaryFromJson(document);
  REQUIRE_MESSAGE(summary.ok(), (summary.ok() ? "" : summary.error().message));
  return *summary;
}

// The watch lines between two documents.
std::vector<std::string> changes(const json& before, const json& after) {
  RolloutSummaryView previous = summaryOf(before);
  return rolloutWatchChanges(&previous, summaryOf(after));
}

RolloutView viewOf(const json& document) {
  auto view = rolloutViewFromJson(document);
  REQUIRE_MESSAGE(view.ok(), (view.ok() ? "" : view.error().message));
  return *view;
}

json fisherFail() {
  return json::parse(R"J({
    "name": "http_5xx", "metric": "http_5xx_ratio", "test": "fisher", "alternative": "greater",
    "tier": "critical", "verdict": "fail", "look": 3, "looks": 10, "statistic": 30.39,
    "pValue": 0.00012, "alphaAtLook": 0.0021, "significant": true, "effectLargeEnough": true,
    "canaryValue": 0.03, "baselineValue": 0.001, "effectName": "rate difference",
    "effect": [0.029, 0.022, 0.036], "ratioName": "rate ratio", "ratio": [30, 9.5, "inf"],
    "canaryCount": 3000, "baselineCount": 3000, "canaryEvents": 90, "baselineEvents": 3,
    "explanation": "5xx: canary 90/3000 (3%) vs baseline 3/3000 (0.1%)"})J");
}

json latencyPass() {
  return json::parse(R"J({
    "name": "latency", "metric": "latency", "test": "mann_whitney", "alternative": "greater",
    "tier": "critical", "verdict": "pass", "look": 3, "looks": 10, "statistic": 4400000,
    "pValue": 0.41, "alphaAtLook": 0.0021, "significant": false, "effectLargeEnough": false,
    "canaryValue": 1200, "baselineValue": 1190, "effectName": "Hodges-Lehmann shift",
    "effect": [10, -20, 40], "ratioName": "median ratio", "ratio": [1.008, 0.98, 1.03],
    "canaryCount": 3000, "baselineCount": 3000, "canaryEvents": 0, "baselineEvents": 0,
    "explanation": "latency: canary median 1200 us vs baseline 1190 us"})J");
}

json thresholdPass() {
  return json::parse(R"J({
    "name": "5xx_below", "metric": "http_5xx_ratio", "test": "threshold_max",
    "alternative": "greater", "tier": "critical",
    "verdict": "pass", "look": 1, "looks": 10, "statistic": 0.001, "pValue": 1,
    "alphaAtLook": "nan", "significant": false, "effectLargeEnough": false, "canaryValue": 0.001,
    "baselineValue": "nan", "effectName": "", "effect": ["nan", "nan", "nan"], "ratioName": "",
    "ratio": ["nan", "nan", "nan"], "canaryCount": 3000, "baselineCount": 0, "canaryEvents": 3,
    "baselineEvents": 0, "explanation": "5xx 0.1% < 0.5%"})J");
}

json analyzingSummary() {
  json s = {{"id", "ro-7"},
            {"service", "web"},
            {"version", "1.2.0"},
            {"status", "analyzing"},
            {"operatorPaused", false},
            {"hold", "none"},
            {"holdReason", ""},
            {"step", 1},
            {"steps", 4},
            {"stage", "canary"},
            {"batch", 1},
            {"batches", 1},
            {"region", "eu"},
            {"phase", "analyzing"},
            {"look", 3},
            {"looks", 10},
            {"millisLeft", 65000},
            {"targets", json::array({{{"host", "h1"},
                                      {"region", "eu"},
                                      {"cluster", "eu-a"},
                                      {"fromRelease", "1.1.0"},
                                      {"release", "1.2.0"},
                                      {"healthy", true},
                                      {"lastWindowMillis", kStart},
                                      {"rollback", "none"},
                                      {"pending", nullptr}}})},
            {"comparison", json::array({{{"host", "h2"},
                                         {"region", "eu"},
                                         {"cluster", "eu-a"},
                                         {"fromRelease", "1.1.0"},
                                         {"release", "1.1.0"},
                                         {"healthy", false},
                                         {"lastWindowMillis", kStart},
                                         {"rollback", "none"},
                                         {"pending", "install"}}})},
            {"comparisonNote", "baseline in the canary's cluster"},
            {"comparisonKind", "baseline"},
            {"smallFleetWarning", ""},
            {"checks", json::array({fisherFail(), latencyPass(), thresholdPass()})},
            {"startedMillis", kStart},
            {"finishedMillis", 0},
            {"endReason", ""}};
  s["checks"][0]["verdict"] = "pass";
  return s;
}

json describeRolledBack() {
  json summary = analyzingSummary();
  summary["status"] = "rolled_back";
  summary["phase"] = "failed";
  summary["step"] = 2;
  summary["stage"] = "cluster";
  summary["finishedMillis"] = kStart + 90000;
  summary["endReason"] = "step 2/4 (cluster in eu): critical check http_5xx failed at look 3/10";
  json plan = json::array({{{"step", 1},
                            {"stage", "canary"},
                            {"batch", 1},
                            {"batches", 1},
                            {"region", "eu"},
                            {"targets", {"h1"}},
                            {"comparison", {"h2"}}},
                           {{"step", 2},
                            {"stage", "cluster"},
                            {"batch", 1},
                            {"batches", 1},
                            {"region", "eu"},
                            {"targets", {"h2", "h3"}},
                            {"comparison", {"h4"}},
                            {"comparisonNote", "hosts of eu-b still on the old release"}},
                           {{"step", 3},
                            {"stage", "region"},
                            {"batch", 1},
                            {"batches", 2},
                            {"region", "eu"},
                            {"targets", {"h4"}},
                            {"comparison", {"h5"}}}});
  auto check = [](std::uint64_t at, int step, const std::string& stage, json result) {
    return json{
        {"atMillis", at},  {"step", step},   {"stage", stage},        {"batch", 1},
        {"batches", 1},    {"region", "eu"}, {"canaryHosts", {"h1"}}, {"comparisonHosts", {"h2"}},
        {"result", result}};
  };
  json firstLook = fisherFail();
  firstLook["verdict"] = "pass";
  firstLook["look"] = 1;
  firstLook["pValue"] = 0.3;
  json passedAtStep1 = fisherFail();
  passedAtStep1["verdict"] = "pass";
  passedAtStep1["look"] = 10;
  passedAtStep1["pValue"] = 0.5;
  passedAtStep1["significant"] = false;
  json checks = json::array({check(kStart + 10000, 1, "canary", firstLook),
                             check(kStart + 20000, 1, "canary", latencyPass()),
                             check(kStart + 30000, 1, "canary", passedAtStep1),
                             check(kStart + 80000, 2, "cluster", fisherFail())});
  auto event = [](std::uint64_t at, const std::string& kind, int step, const std::string& host,
                  const std::string& text) {
    return json{{"atMillis", at}, {"kind", kind}, {"step", step}, {"host", host}, {"text", text}};
  };
  json events = json::array(
      {event(kStart, "started", 0, "", "started: 4 steps, canary h1, baseline h2"),
       event(kStart + 1000, "step_started", 1, "",
             "step 1/4 (canary in eu): installing 1.2.0 on h1; comparing with h2"),
       event(kStart + 5000, "host_installed", 1, "h1", "host h1 is on 1.2.0 (was 1.1.0)"),
       event(kStart + 40000, "step_passed", 1, "", "step 1/4 (canary in eu): passed"),
       event(kStart + 41000, "step_started", 2, "",
             "step 2/4 (cluster in eu): installing 1.2.0 on h2, h3"),
       event(kStart + 80000, "step_failed", 2, "", "critical check http_5xx failed: rolling back"),
       event(kStart + 85000, "host_rolling_back", 2, "h2",
             "rolling back host h2 from 1.2.0 to 1.1.0"),
       event(kStart + 90000, "finished", 2, "",
             "rolled_back: every host it changed is back on its old release")});
  return json{{"rollout", summary}, {"plan", plan}, {"checks", checks}, {"events", events}};
}

TEST_CASE("formatting helpers: UTC times, durations, terminal statuses and exit codes") {
  CHECK(formatUtcMillis(kStart + 123) == "2026-11-28 00:20:00.123");
  CHECK(formatUtcMillis(0) == "-");
  CHECK(formatDurationMillis(8000) == "8s");
  CHECK(formatDurationMillis(7200) == "8s");  // rounds up: time left is never shown as 0 early
  CHECK(formatDurationMillis(65000) == "1m05s");
  CHECK(formatDurationMillis(7380000) == "2h03m");
  for (const char* status : {"succeeded", "rolled_back", "aborted", "failed"}) {
    CHECK(isTerminalRolloutStatus(status));
  }
  for (const char* status : {"pending", "installing", "warming_up", "analyzing",
                             "waiting_for_operator", "rolling_back"}) {
    CHECK_FALSE(isTerminalRolloutStatus(status));
  }
  CHECK(rolloutExitCode("succeeded") == 0);
  CHECK(rolloutExitCode("rolled_back") == 1);
  CHECK(rolloutExitCode("aborted") == 1);
  CHECK(rolloutExitCode("failed") == 1);
}

TEST_CASE("status: the current step, each host and each check's current value") {
  std::string text = renderRolloutStatus(summaryOf(analyzingSummary()));
  INFO(text);
  CHECK(linesOf(text).at(0) == "rollout ro-7: web 1.2.0, analyzing");
  CHECK(hasLine(text, "step 1/4 canary in eu: analyzing, look 3/10, 1m05s left [analyzing]"));
  CHECK(hasLine(text, "started 2026-11-28 00:20:00.000"));
  CHECK(hasRow(text, "HOST ROLE REGION CLUSTER FROM RELEASE HEALTHY IN FLIGHT ROLLBACK"));
  CHECK(hasRow(text, "h1 target eu eu-a 1.1.0 1.2.0 yes - none"));
  CHECK(hasRow(text, "h2 comparison eu eu-a 1.1.0 1.1.0 no install none"));
  CHECK(hasLine(text, "comparison: baseline in the canary's cluster"));
  CHECK(hasRow(text, "CHECK TIER TEST VERDICT LOOK P-VALUE ALPHA EFFECT CANARY BASELINE"));
  CHECK(hasRow(text,
               "http_5xx critical fisher pass 3/10 0.00012 0.0021 +0.029 [0.022, 0.036] 0.03 "
               "(n 3000) 0.001 (n 3000)"));
  CHECK(hasRow(text,
               "latency critical mann_whitney pass 3/10 0.41 0.0021 +10 [-20, 40] 1200 (n "
               "3000) 1190 (n 3000)"));
  // Thresholds have no alpha and no comparison: NaN renders as "-".
  CHECK(hasRow(text, "5xx_below critical threshold_max pass 1/10 1 - - 0.001 (n 3000) - (n 0)"));
}

TEST_CASE("status: a hold, a pause and an end reason are spelled out") {
  json s = analyzingSummary();
  s["status"] = "waiting_for_operator";
  s["hold"] = "warn";
  s["holdReason"] = "warn check cpu failed at look 4/10";
  s["operatorPaused"] = true;
  std::string text = renderRolloutStatus(summaryOf(s));
  INFO(text);
  CHECK(hasLine(text,
                "step 1/4 canary in eu: analyzing, look 3/10, 1m05s left "
                "[waiting_for_operator] hold warn: warn check cpu failed at look 4/10 "
                "(paused by an operator)"));
  s["status"] = "aborted";
  s["endReason"] = "aborted by alice: bad config";
  s["finishedMillis"] = kStart + 61000;
  text = renderRolloutStatus(summaryOf(s));
  CHECK(hasLine(text, "started 2026-11-28 00:20:00.000, ended 2026-11-28 00:21:01.000"));
  CHECK(hasLine(text, "end reason: aborted by alice: bad config"));
}

TEST_CASE("status: a document missing a key is refused naming it; empty texts render '-'") {
  json missing = analyzingSummary();
  missing.erase("phase");
  auto refused = rolloutSummaryFromJson(missing);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("'phase'") != std::string::npos);
  json wrongVerdict = analyzingSummary();
  wrongVerdict["checks"][0]["verdict"] = "maybe";
  REQUIRE_FALSE(rolloutSummaryFromJson(wrongVerdict).ok());
  CHECK(rolloutSummaryFromJson(json::array()).error().message ==
        "rollout summary: expected a JSON object, got array");

  RolloutSummaryView empty;
  empty.id = "ro-1";
  std::string text = renderRolloutStatus(empty);
  INFO(text);
  CHECK(linesOf(text).at(0) == "rollout ro-1: - -, -");
  CHECK(hasLine(text, "step 0 - in -: - [-]"));
  CHECK(hasLine(text, "no hosts"));
  CHECK(hasLine(text, "no check results yet"));
}

TEST_CASE("list: one row per rollout, newest first as sent") {
  json older = analyzingSummary();
  older["id"] = "ro-6";
  older["status"] = "succeeded";
  older["phase"] = "passed";
  older["step"] = 4;
  older["stage"] = "fleet";
  older["finishedMillis"] = kStart + 3600000;
  std::string text = renderRolloutList({summaryOf(analyzingSummary()), summaryOf(older)});
  INFO(text);
  auto lines = linesOf(text);
  REQUIRE(lines.size() == 3);
  CHECK(squeeze(lines[0]) == "ID SERVICE VERSION STATUS STEP STAGE PHASE STARTED ENDED");
  CHECK(squeeze(lines[1]) ==
        "ro-7 web 1.2.0 analyzing 1/4 canary analyzing 2026-11-28 00:20:00.000 -");
  CHECK(squeeze(lines[2]) ==
        "ro-6 web 1.2.0 succeeded 4/4 fleet passed 2026-11-28 00:20:00.000 "
        "2026-11-28 01:20:00.000");
  CHECK(renderRolloutList({}) == "no rollouts\n");
  auto decoded = rolloutListFromJson(json{{"rollouts", {analyzingSummary(), older}}});
  REQUIRE(decoded.ok());
  CHECK(decoded->size() == 2);
  CHECK(rolloutListToJson(*decoded) == json{{"rollouts", {analyzingSummary(), older}}});
  CHECK_FALSE(rolloutListFromJson(json::object()).ok());
}

TEST_CASE("list while frozen: the freeze line above the table, and a freeze object in the JSON") {
  const FreezeState freeze{"alice", "incident 42", kStart + 1234};
  std::string text = renderRolloutList({summaryOf(analyzingSummary())}, freeze);
  INFO(text);
  auto lines = linesOf(text);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "FROZEN since 2026-11-28 00:20:01.234 by alice: incident 42");
  CHECK(squeeze(lines[1]) == "ID SERVICE VERSION STATUS STEP STAGE PHASE STARTED ENDED");
  CHECK(renderRolloutList({}, freeze) ==
        "FROZEN since 2026-11-28 00:20:01.234 by alice: incident 42\nno rollouts\n");
  CHECK(renderFreezeLine(FreezeState{"bob", "", kStart}) ==
        "FROZEN since 2026-11-28 00:20:00.000 by bob: (no reason given)\n");

  const json document{
      {"rollouts", {analyzingSummary()}},
      {"freeze", {{"by", "alice"}, {"reason", "incident 42"}, {"sinceMillis", kStart + 1234}}}};
  auto decoded = freezeFromJson(document);
  REQUIRE(decoded.ok());
  CHECK(*decoded == freeze);
  auto rollouts = rolloutListFromJson(document);
  REQUIRE(rollouts.ok());
  CHECK(rolloutListToJson(*rollouts, *decoded) == document);
  auto none = freezeFromJson(json{{"rollouts", json::array()}});
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  auto broken = freezeFromJson(json{{"freeze", {{"by", "alice"}}}});
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().message.find("reason") != std::string::npos);
}

TEST_CASE("explain: step by step, each check's last result there, and the decision") {
  std::string text = renderRolloutExplain(viewOf(describeRolledBack()));
  INFO(text);
  auto lines = linesOf(text);
  CHECK(lines.at(0) ==
        "rollout ro-7: web 1.2.0, rolled_back: step 2/4 (cluster in eu): critical "
        "check http_5xx failed at look 3/10");
  CHECK(hasLine(text, "before the first step:"));
  CHECK(hasLine(text, "    00:20:00  started: 4 steps, canary h1, baseline h2"));

  // Step 1 passed: its hosts, and the fisher check's LAST result there (look 10, not look 1).
  CHECK(hasLine(text, "step 1/4 canary in eu: passed"));
  CHECK(hasLine(text, "  hosts:      h1"));
  CHECK(hasLine(text, "  comparison: h2"));
  CHECK(hasLine(text,
                "    http_5xx [critical, http_5xx_ratio, fisher]: pass at look 10/10 "
                "(00:20:30)"));
  CHECK_FALSE(hasLine(text,
                      "    http_5xx [critical, http_5xx_ratio, fisher]: pass at look 1/10 "
                      "(00:20:10)"));
  CHECK(
      hasLine(text, "    latency [critical, latency, mann_whitney]: pass at look 3/10 (00:20:20)"));
  CHECK(hasLine(text, "      statistic 4.4e+06, p 0.41 > alpha 0.0021 at look 3/10"));
  CHECK(hasLine(text, "    00:20:05  host h1 is on 1.2.0 (was 1.1.0)"));
  CHECK(hasLine(text, "    00:20:40  step 1/4 (canary in eu): passed"));

  // Step 2 failed: the Fisher result that did it, with p vs alpha, effect, samples, explanation.
  CHECK(hasLine(text, "step 2/4 cluster in eu: failed"));
  CHECK(hasLine(text, "  hosts:      h2, h3"));
  CHECK(hasLine(text, "  comparison: h4 (hosts of eu-b still on the old release)"));
  CHECK(hasLine(text,
                "    http_5xx [critical, http_5xx_ratio, fisher]: fail at look 3/10 "
                "(00:21:20)"));
  CHECK(hasLine(text,
                "      statistic 30.39, p 0.00012 <= alpha 0.0021 at look 3/10: "
                "significant"));
  CHECK(hasLine(text,
                "      effect rate difference +0.029 [0.022, 0.036], rate ratio 30 [9.5, "
                "inf]; large enough: yes"));
  CHECK(hasLine(text, "      canary 0.03 (n 3000, events 90), baseline 0.001 (n 3000, events 3)"));
  CHECK(hasLine(text, "      5xx: canary 90/3000 (3%) vs baseline 3/3000 (0.1%)"));
  CHECK(hasLine(text, "    00:21:20  critical check http_5xx failed: rolling back"));
  CHECK(hasLine(text,
                "    00:21:30  rolled_back: every host it changed is back on its old "
                "release"));

  // Step 3 never started.
  CHECK(hasLine(text, "step 3/4 region batch 1/2 in eu: not started"));
  CHECK(hasLine(text, "  checks: no result at this step"));
  CHECK(hasLine(text, "  decision: -"));

  // Events belong to the step they follow: step 2's decision is not listed under step 1.
  auto step1 = std::find(lines.begin(), lines.end(), "step 1/4 canary in eu: passed");
  auto step2 = std::find(lines.begin(), lines.end(), "step 2/4 cluster in eu: failed");
  auto rollback = std::find(lines.begin(), lines.end(),
                            "    00:21:20  critical check http_5xx failed: rolling back");
  CHECK(step1 < step2);
  CHECK(step2 < rollback);
}

TEST_CASE("explain: every check says why it passed or failed, whatever its test and verdict") {
  json document = describeRolledBack();
  auto record = [](const std::string& name, json result) {
    result["name"] = name;
    return json{{"atMillis", kStart + 80000}, {"step", 2},      {"stage", "cluster"},
                {"batch", 1},                 {"batches", 1},   {"region", "eu"},
                {"canaryHosts", {"h2"}},      {"comparisonHosts", {"h4"}}, {"result", result}};
  };
  json belowFloor = latencyPass();  // p under alpha, a shift too small to matter
  belowFloor["pValue"] = 0.0003;
  belowFloor["significant"] = true;
  json thresholdFail = thresholdPass();
  thresholdFail["verdict"] = "fail";
  json restarts = thresholdPass();
  restarts["metric"] = "restarts";
  restarts["test"] = "restarts";
  json restartsFail = restarts;
  restartsFail["verdict"] = "fail";
  json missing = latencyPass();
  missing["verdict"] = "not_enough_data";
  json skipped = latencyPass();
  skipped["verdict"] = "skipped";
  for (const auto& [name, result] :
       std::vector<std::pair<std::string, json>>{{"below_floor", belowFloor},
                                                 {"not_significant", latencyPass()},
                                                 {"threshold_ok", thresholdPass()},
                                                 {"threshold_bad", thresholdFail},
                                                 {"restarts_ok", restarts},
                                                 {"restarts_bad", restartsFail},
                                                 {"missing", missing},
                                                 {"skipped", skipped}}) {
    document["checks"].push_back(record(name, result));
  }
  std::string text = renderRolloutExplain(viewOf(document));
  INFO(text);
  // Each check's block ends with its reason, right after its explanation line.
  auto why = [&](const std::string& check) {
    auto lines = linesOf(text);
    std::string prefix = "    " + check + " [";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].rfind(prefix, 0) != 0 || lines[i].find("(00:21:20)") == std::string::npos) {
        continue;
      }
      for (std::size_t j = i + 1; j < lines.size() && lines[j].rfind("      ", 0) == 0; ++j) {
        if (lines[j].rfind("      why: ", 0) == 0) return lines[j].substr(11);
      }
    }
    return std::string("(no why line)");
  };
  CHECK(why("http_5xx") == "significant, effect above floor");
  CHECK(why("below_floor") == "significant, effect below floor");
  CHECK(why("not_significant") == "not significant (p above this look's alpha)");
  CHECK(why("threshold_ok") == "within its static threshold");
  CHECK(why("threshold_bad") == "beyond its static threshold");
  CHECK(why("restarts_ok") == "no more restarts per host than the comparison group");
  CHECK(why("restarts_bad") == "more restarts per host than the comparison group");
  CHECK(why("missing") == "not enough data yet (never a pass)");
  CHECK(why("skipped") == "skipped: no comparison host is left on the old release");
}

TEST_CASE("explain: a document without a plan explains the steps its checks name") {
  RolloutView view = viewOf(describeRolledBack());
  view.plan.clear();
  view.events.clear();
  std::string text = renderRolloutExplain(view);
  INFO(text);
  CHECK(hasLine(text, "step 1/4 canary in eu: passed"));
  CHECK(hasLine(text, "  hosts:      h1"));
  CHECK(hasLine(text, "step 2/4 cluster in eu: failed"));
  CHECK(hasLine(text, "  decision: -"));
  CHECK_FALSE(hasLine(text, "before the first step:"));
  CHECK(renderRolloutExplain(RolloutView{}).find("rollout -: - -, -") == 0);
}

TEST_CASE("history: every event, timestamped, with its kind") {
  std::string text = renderRolloutHistory(viewOf(describeRolledBack()));
  INFO(text);
  auto lines = linesOf(text);
  REQUIRE(lines.size() == 10);
  CHECK(lines[0] == "rollout ro-7 history");
  CHECK(squeeze(lines[1]) == "TIME (UTC) HOST KIND EVENT");
  CHECK(squeeze(lines[2]) ==
        "2026-11-28 00:20:00.000 - started started: 4 steps, canary h1, baseline h2");
  CHECK(squeeze(lines[8]) ==
        "2026-11-28 00:21:25.000 h2 host_rolling_back rolling back host h2 from 1.2.0 to 1.1.0");
  RolloutView none;
  none.rollout.id = "ro-2";
  CHECK(renderRolloutHistory(none) == "rollout ro-2 history\nno events\n");
}

TEST_CASE("watch without a terminal: a line per change, nothing when nothing changed") {
  json first = analyzingSummary();
  first["checks"][1]["significant"] = true;  // a shift too small to matter
  first["checks"][1]["effectLargeEnough"] = false;
  first["checks"][1]["pValue"] = 0.0003;
  auto lines = rolloutWatchChanges(nullptr, summaryOf(first));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "rollout ro-7: web 1.2.0");
  CHECK(lines[1] == "step 1/4 canary in eu: analyzing, look 3/10, 1m05s left [analyzing]");
  // One compact line per look, saying why a significant check passed.
  CHECK(lines[2] ==
        "  step 1/4 canary: look 3/10: http_5xx pass p=0.00012; latency pass p=0.0003 "
        "(significant, effect below floor); 5xx_below pass");

  json same = first;
  same["millisLeft"] = 64000;  // only the clock moved
  CHECK(changes(first, same).empty());

  json nextLook = same;
  nextLook["look"] = 4;
  nextLook["checks"][1]["look"] = 4;
  nextLook["checks"][1]["pValue"] = 0.38;
  nextLook["checks"][1]["significant"] = false;
  lines = changes(same, nextLook);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] ==
        "  step 1/4 canary: look 4/10: http_5xx pass p=0.00012; latency pass p=0.38; 5xx_below "
        "pass");

  json failed = nextLook;
  failed["status"] = "rolling_back";
  failed["phase"] = "failed";
  failed["checks"][0]["verdict"] = "fail";
  lines = changes(nextLook, failed);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "step 1/4 canary in eu: failed [rolling_back]");
  CHECK(lines[1] ==
        "  check http_5xx (critical): fail at look 3/10, p 0.00012 <= alpha 0.0021, 1m04s left");

  json ended = failed;
  ended["status"] = "rolled_back";
  ended["endReason"] = "critical check http_5xx failed";
  lines = changes(failed, ended);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "step 1/4 canary in eu: failed [rolled_back]");
  CHECK(lines[1] == "rollout ro-7 ended rolled_back: critical check http_5xx failed");
}

TEST_CASE("start: the reply names the rollout and its first step") {
  std::string text = renderRolloutStarted(summaryOf(analyzingSummary()));
  CHECK(text ==
        "rollout ro-7 started: web 1.2.0, 4 steps\n"
        "first: step 1/4 canary in eu, targets h1, comparison h2\n");
  json small = analyzingSummary();
  small["smallFleetWarning"] = "the fleet is too small for a comparison with other hosts";
  CHECK(renderRolloutStarted(summaryOf(small)).ends_with(
      "comparison h2\nwarning: the fleet is too small for a comparison with other hosts\n"));
}

}  // namespace
}  // namespace rollgate::cli
