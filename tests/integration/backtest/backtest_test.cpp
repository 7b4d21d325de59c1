// `rollgate backtest` against rollouts that ran live on a real fleet (see CMakeLists.txt).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/support/backtest/corpus.h"
#include "tests/support/fleet/fault_catalog.h"
#include "tests/support/fleet/gates_toml.h"
#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;
using nlohmann::json;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};

struct LiveDecision {
  std::string decision;  // promote, roll_back, hold
  std::uint32_t step = 0;
  std::uint32_t look = 0;
  std::string check;
  std::vector<std::string> looks;  // "step:look" evaluated up to the decision
};

// What the live run decided, from `rollout explain --json`: the first step_failed or held event,
// else promote; and every look its checks were evaluated at up to then.
LiveDecision liveDecision(const json& explain) {
  LiveDecision live;
  live.decision = "promote";
  for (const auto& event : explain.at("events")) {
    std::string kind = event.at("kind").get<std::string>();
    if (kind != "step_failed" && kind != "held") continue;
    live.decision = kind == "held" ? "hold" : "roll_back";
    live.step = event.at("step").get<std::uint32_t>();
    live.look = event.value("look", 0u);
    live.check = event.value("check", std::string());
    break;
  }
  for (const auto& record : explain.at("checks")) {
    auto step = record.at("step").get<std::uint32_t>();
    auto look = record.at("result").at("look").get<std::uint32_t>();
    if (live.step != 0 && (step > live.step || (step == live.step && look > live.look))) continue;
    std::string key = std::to_string(step) + ":" + std::to_string(look);
    if (live.looks.empty() || live.looks.back() != key) live.looks.push_back(key);
  }
  return live;
}

json parseOut(const CommandOutput& out) {
  INFO(out.out << out.err);
  REQUIRE(out.exitCode == 0);
  return json::parse(out.out);
}


// The fleet and its four live rollouts, made once for every case (a fleet costs more than a
// backtest). Null when a prerequisite is missing (the case skips).
struct Live {
  std::unique_ptr<WebFleet> web;
  std::vector<std::string> ids;
  std::vector<LiveDecision> live;
  json listBefore;
  std::vector<json> explainLabelled;
};

Live* shared() {
  static std::unique_ptr<Live> made;
  static bool tried = false;
  if (tried) return made.get();
  tried = true;
  if (!requireOrSkip(WebFleet::missingPrerequisite(WebServer::kFaultApp))) return nullptr;
  auto state = std::make_unique<Live>();
  WebFleet::Options options;
  options.server = WebServer::kFaultApp;
  options.requestsPerSecond = kCatalogRequestsPerSecond;
  auto started = WebFleet::start(kHosts, options);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  state->web = std::move(*started);
  WebFleet& web = *state->web;
  REQUIRE(web.installEverywhere("1.0.0", ReleaseKind::kHealthy).ok());
  RolloutRun run;
  run.planFile = web.work().file("plan.toml");
  run.canaryHost = "eu-a-1";
  writeFile(run.planFile, catalogPlanToml());
  web.startLoad();

  // Two good builds and two bad ones (5xx: rolled back; error-log spike: held).
  const auto& catalog = faultCatalog();
  struct Build {
    std::string version;
    bool bad;
    FaultSpec fault;
  };
  std::vector<Build> builds = {{"2.0.0", false, {}},
                               {"2.1.0", true, catalog.at(0).fault},
                               {"2.2.0", false, {}},
                               {"2.3.0", true, catalog.at(4).fault}};
  for (const auto& build : builds) {
    auto outcome = runRollout(web, run, build.version, web.makeRelease(build.version, build.fault));
    REQUIRE_MESSAGE(outcome.error.empty(), outcome.error);
    state->ids.push_back(outcome.id);
  }
  LocalFleet& fleet = web.fleet();
  for (const auto& id : state->ids) {
    state->live.push_back(liveDecision(parseOut(fleet.cli({"rollout", "explain", id, "--json"}))));
  }
  const auto& ids = state->ids;
  // Automatic labels: the 5xx build was rolled back by a critical check.
  json list = parseOut(fleet.cli({"rollout", "list", "--json"}));
  for (const auto& r : list.at("rollouts")) {
    if (r.at("id") == ids[1]) {
      CHECK(r.value("label", "") == "bad");
      CHECK(r.value("labelSource", "").find("auto: rolled back by critical check http_5xx") == 0);
    }
  }
  // Operator labels for the rest (a promotion is labelled good only after good_after_hours).
  for (std::size_t i : {0u, 2u, 3u}) {
    auto labelled = fleet.cli({"rollout", "label", ids[i], builds[i].bad ? "bad" : "good",
                               "--reason", "known build"});
    INFO(labelled.out << labelled.err);
    CHECK(labelled.exitCode == 0);
  }
  state->listBefore = parseOut(fleet.cli({"rollout", "list", "--json"}));
  for (const auto& id : ids) {
    state->explainLabelled.push_back(parseOut(fleet.cli({"rollout", "explain", id, "--json"})));
  }
  made = std::move(state);
  return made.get();
}

}  // namespace

TEST_CASE("the live rollouts decided as their builds deserve, and show their labels") {
  Live* state = shared();
  if (state == nullptr) return;
  const auto& live = state->live;
  CHECK(live[0].decision == "promote");
  CHECK(live[1].decision == "roll_back");
  CHECK(live[1].check == "http_5xx");
  CHECK(live[2].decision == "promote");
  CHECK(live[3].decision == "hold");
  LocalFleet& fleet = state->web->fleet();
  auto listText = fleet.cli({"rollout", "list"});
  CHECK(listText.out.find("good (operator ") != std::string::npos);
  auto explainText = fleet.cli({"rollout", "explain", state->ids[1]});
  CHECK(explainText.out.find("label: bad (auto: rolled back by critical check http_5xx)") !=
        std::string::npos);
}

TEST_CASE("a backtest with the default gates takes the live decisions at the live looks") {
  Live* state = shared();
  if (state == nullptr) return;
  WebFleet& web = *state->web;
  LocalFleet& fleet = web.fleet();
  const auto& ids = state->ids;
  const auto& live = state->live;
  {
    // Replayed with the gates each ran with, and with the default gates from a file.
    std::string gatesFile = web.work().file("default-gates.toml");
    writeFile(gatesFile, defaultGatesToml());
    json report = parseOut(fleet.cli({"backtest", "--gates", gatesFile, "--json"}));
    INFO(report.dump(2));
    REQUIRE(report.at("replayed").get<int>() == 4);
    CHECK(report.at("changed").empty());
    CHECK(report.at("good").get<int>() == 2);
    CHECK(report.at("bad").get<int>() == 2);
    CHECK(report.at("storage").at("usedBytes").get<std::uint64_t>() > 0);
    CHECK(report.at("storage").at("capBytes").get<std::uint64_t>() == (256ULL << 20));
    const auto& rollouts = report.at("rollouts");
    REQUIRE(rollouts.size() == 4);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      CAPTURE(ids[i]);
      const auto& row = rollouts.at(i);
      CHECK(row.at("id") == ids[i]);
      for (const char* which : {"then", "now"}) {
        CAPTURE(which);
        const auto& d = row.at(which);
        CHECK(d.at("decision") == live[i].decision);
        CHECK(d.at("step").get<std::uint32_t>() == (live[i].decision == "promote" ? 0 : live[i].step));
        CHECK(d.at("look").get<std::uint32_t>() == live[i].look);
        CHECK(d.at("check") == live[i].check);
        CHECK(d.at("looks").get<std::vector<std::string>>() == live[i].looks);
      }
    }
    // (gates): the two bad builds flagged, the two good ones not.
    const auto& gatesRow = report.at("checks").back();
    CHECK(gatesRow.at("name") == "(gates)");
    CHECK(gatesRow.at("truePositives") == 2);
    CHECK(gatesRow.at("falsePositives") == 0);
    CHECK(gatesRow.at("trueNegatives") == 2);

    // Nothing sent, nothing stored changed: every rollout and its events as before.
    CHECK(parseOut(fleet.cli({"rollout", "list", "--json"})) == state->listBefore);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      CHECK(parseOut(fleet.cli({"rollout", "explain", ids[i], "--json"})) ==
            state->explainLabelled[i]);
    }
    for (const auto& host : kHosts) CHECK(web.activeRelease(host.name) == "2.2.0");
  }
}

TEST_CASE("--compare: http_5xx only recorded changes the 5xx build's decision") {
  Live* state = shared();
  if (state == nullptr) return;
  WebFleet& web = *state->web;
  LocalFleet& fleet = web.fleet();
  const auto& ids = state->ids;
  {
    rollgate::rollout::GatesConfig gates = rollgate::rollout::defaultGatesConfig();
    for (auto& check : gates.checks) {
      if (check.name == "http_5xx") check.tier = rollgate::stats::Tier::kDebug;
    }
    std::string gatesFile = web.work().file("no-5xx.toml");
    writeFile(gatesFile, gatesToml(gates));
    auto out = fleet.cli({"backtest", "--gates", gatesFile, "--compare"});
    INFO(out.out << out.err);
    REQUIRE(out.exitCode == 0);
    CHECK(out.out.find("kept windows: ") == 0);
    CHECK(out.out.find("CHECK") != std::string::npos);
    CHECK(out.out.find("current") != std::string::npos);
    // With http_5xx only recorded, the 5xx build is no longer rolled back by it.
    CHECK(out.out.find(ids[1]) != std::string::npos);
  }

}

TEST_CASE("a bad gates file names the file, the key and the value; an empty range says so") {
  Live* state = shared();
  if (state == nullptr) return;
  WebFleet& web = *state->web;
  LocalFleet& fleet = web.fleet();
  {
    std::string bad = web.work().file("bad-gates.toml");
    writeFile(bad, "[[check]]\nname = \"latency\"\nmetric = \"latency\"\ntest = \"mann_whitney\"\n"
                   "alpha = 7\n");
    auto refused = fleet.cli({"backtest", "--gates", bad});
    INFO(refused.out << refused.err);
    CHECK(refused.exitCode != 0);
    CHECK(refused.err.find(bad) != std::string::npos);
    CHECK(refused.err.find("alpha") != std::string::npos);
    CHECK(refused.err.find("7") != std::string::npos);
    auto empty = fleet.cli({"backtest", "--service", "nosuch"});
    INFO(empty.out << empty.err);
    CHECK(empty.exitCode == 0);
    CHECK(empty.out.find("no rollouts of service nosuch") != std::string::npos);
  }

}

TEST_CASE("--windows: a recorded history, lines of an unknown schema version skipped and counted") {
  Live* state = shared();
  if (state == nullptr) return;
  WebFleet& web = *state->web;
  LocalFleet& fleet = web.fleet();
  {
    CorpusOptions small;
    small.rollouts = 10;
    std::string text = corpusText(generateCorpus(small));
    text += R"({"v":99,"rollout":"x1","type":"start","at":1})" "\n";
    std::string file = web.work().file("history.jsonl");
    writeFile(file, text);
    json report = parseOut(fleet.cli({"backtest", "--windows", file, "--json"}));
    CHECK(report.at("replayed").get<int>() == 10);
    CHECK(report.at("skippedUnreadable").get<int>() == 1);
    CHECK(report.at("storage").at("source") == file);
  }
}
