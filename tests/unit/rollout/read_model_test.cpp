// The read model of a rollout: built from a simulated rollout, its JSON matches
// docs/rollout.schema.json (a structural check of the schema's types, required keys, enums and
// closed objects), decodes back to the same document, and its events carry kind and step as
// fields.
#include "coordinator/rollout/read_model.h"

#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "sim.h"

namespace rollgate::rollout {
namespace {

using nlohmann::json;
using testing::fleet8;
using testing::makeRollout;
using testing::Sim;

json loadSchema() {
  std::ifstream in(std::string(ROLLGATE_SOURCE_DIR) + "/docs/rollout.schema.json");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

bool hasType(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  return false;
}

// The subset of JSON Schema the schema uses: $ref (local), type, enum, anyOf, required,
// properties, additionalProperties false, items, minItems, maxItems, minimum. Appends one line
// per violation, naming the path.
void validate(const json& schema, const json& root, const json& value, const std::string& path,
              std::vector<std::string>& problems) {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    REQUIRE(ref.rfind("#/$defs/", 0) == 0);
    validate(root["$defs"][ref.substr(8)], root, value, path, problems);
  }
  if (schema.contains("anyOf")) {
    bool any = false;
    for (const auto& option : schema["anyOf"]) {
      std::vector<std::string> none;
      validate(option, root, value, path, none);
      any = any || none.empty();
    }
    if (!any) problems.push_back(path + ": matches no option of anyOf: " + value.dump());
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& option : schema["enum"]) found = found || option == value;
    if (!found)
      problems.push_back(path + ": " + value.dump() + " is not in " + schema["enum"].dump());
  }
  if (schema.contains("type") && !hasType(value, schema["type"])) {
    problems.push_back(path + ": expected " + schema["type"].get<std::string>() + ", got " +
                       value.dump());
    return;
  }
  if (schema.contains("minimum") && value.is_number() && value.get<double>() < schema["minimum"]) {
    problems.push_back(path + ": " + value.dump() + " below the minimum");
  }
  if (value.is_object()) {
    for (const auto& key : schema.value("required", json::array())) {
      if (!value.contains(key))
        problems.push_back(path + ": required key " + key.dump() + " missing");
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, member] : value.items()) {
      if (properties.contains(key)) {
        validate(properties[key], root, member, path + "." + key, problems);
      } else if (schema.contains("additionalProperties") && !schema["additionalProperties"]) {
        problems.push_back(path + ": key \"" + key + "\" is not in the schema");
      }
    }
  }
  if (value.is_array()) {
    if (schema.contains("minItems") && value.size() < schema["minItems"]) {
      problems.push_back(path + ": too few items");
    }
    if (schema.contains("maxItems") && value.size() > schema["maxItems"]) {
      problems.push_back(path + ": too many items");
    }
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        validate(schema["items"], root, value[i], path + "[" + std::to_string(i) + "]", problems);
      }
    }
  }
}

std::vector<std::string> problemsOf(const json& document, const std::string& def = "") {
  const json schema = loadSchema();
  std::vector<std::string> problems;
  validate(def.empty() ? schema : schema["$defs"][def], schema, document, "$", problems);
  return problems;
}

RolloutView viewOfSim(Sim& sim) {
  std::vector<CheckRecordView> checks;
  for (const auto& check : sim.checks()) checks.push_back(check);
  std::vector<EventView> events;
  for (const auto& event : sim.recordedEvents()) events.push_back(eventView(event));
  return buildRolloutView(sim.rollout(), sim.now(), std::move(checks), std::move(events));
}

TEST_CASE("a rolled-back rollout's read model matches the schema and decodes to itself") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.behaviour["2.0"].ratio5xx = 0.05;
  sim.start();
  sim.runUntilStatus(RolloutStatus::kRolledBack);
  REQUIRE(sim.rollout().status() == RolloutStatus::kRolledBack);
  const RolloutView view = viewOfSim(sim);
  const json document = toJson(view);

  auto problems = problemsOf(document);
  for (const auto& problem : problems) INFO(problem);
  CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
  CHECK(problemsOf(rolloutListToJson({view.rollout}), "RolloutList").empty());

  auto decoded = rolloutViewFromJson(document);
  REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().message));
  CHECK(toJson(*decoded) == document);

  // Every look of every check is there, with its numbers, and the failing one says why.
  CHECK(view.checks.size() == sim.checks().size());
  bool failed = false;
  for (const auto& c : view.checks) {
    CHECK(c.step >= 1);
    if (c.result.name == "http_5xx" && c.result.verdict == stats::Verdict::kFail) {
      failed = true;
      CHECK(c.result.pValue <= c.result.alphaAtLook);
      CHECK(c.result.canaryCount > 0);
    }
  }
  CHECK(failed);

  // Events are typed: the first is the start, before any step; the step's failure is in step 1.
  REQUIRE(!view.events.empty());
  CHECK(view.events.front().kind == "started");
  CHECK(view.events.front().step == 0);
  bool stepFailed = false;
  for (const auto& e : view.events) {
    CHECK(parseRolloutEventKind(e.kind).ok());
    CHECK(e.text.rfind("rollout ", 0) != 0);  // no "rollout <id> (...)" prefix to strip
    if (e.kind == "step_failed") {
      stepFailed = true;
      CHECK(e.step == 1);
      CHECK(e.check == "http_5xx");
      CHECK(e.look >= 1);
    }
  }
  CHECK(stepFailed);
  CHECK(view.events.back().kind == "finished");
}

TEST_CASE("a rollout whose rollback timed out shows it in its read model, as the schema says") {
  PlanConfig plan = testing::fastPlan();
  plan.rollbackTimeoutSeconds = 60;
  Sim sim(fleet8(), makeRollout(fleet8(), plan));
  sim.start();
  sim.runUntilStatus(RolloutStatus::kAnalyzing);
  sim.silent.insert("eu-a1");
  sim.run(600);
  REQUIRE(sim.rollout().status() == RolloutStatus::kRolledBackIncomplete);
  const json document = toJson(viewOfSim(sim));
  auto problems = problemsOf(document);
  CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
  CHECK(document["rollout"]["status"] == "rolled_back_incomplete");
  CHECK(document["rollout"]["targets"][0]["rollback"] == "timed_out");
  CHECK(document["rollout"]["endReason"].get<std::string>().find("eu-a1") != std::string::npos);
}

TEST_CASE("the schema check notices a missing key, a wrong type and an unknown key") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  sim.run(50);
  json document = toJson(viewOfSim(sim));
  REQUIRE(problemsOf(document).empty());
  json missing = document;
  missing["rollout"].erase("phase");
  CHECK(problemsOf(missing).size() == 1);
  json wrongType = document;
  wrongType["rollout"]["checks"][0]["pValue"] = "small";
  CHECK(problemsOf(wrongType).size() == 1);
  json unknown = document;
  unknown["events"][0]["message"] = "x";
  CHECK(problemsOf(unknown).size() == 1);
  CHECK_FALSE(rolloutViewFromJson(missing).ok());
}

TEST_CASE(
    "stored events keep kind, step and text; the coordinator's own events join the step "
    "before them") {
  RecordEvent event{.rolloutId = "ro-1",
                    .kind = RolloutEventKind::kHeld,
                    .step = 2,
                    .check = "cpu",
                    .look = 4,
                    .text = "step 2/4 (cluster in eu): waiting for an operator",
                    .atMillis = 1000};
  EventView stored = storedEventView(1000, std::string(toString(event.kind)), event.host,
                                     storedEventMessage(event));
  CHECK(stored == EventView{.atMillis = 1000,
                            .kind = "held",
                            .step = 2,
                            .check = "cpu",
                            .look = 4,
                            .text = "step 2/4 (cluster in eu): waiting for an operator"});
  EventView plain = storedEventView(2000, "state", "", "analyzing -> rolling_back: why");
  CHECK(plain ==
        EventView{.atMillis = 2000, .kind = "state", .text = "analyzing -> rolling_back: why"});

  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  sim.run(5);
  std::vector<EventView> events;
  for (const auto& e : sim.recordedEvents()) events.push_back(eventView(e));
  events.push_back(plain);
  RolloutView view = buildRolloutView(sim.rollout(), sim.now(), {}, events);
  CHECK(view.events.back().step == 1);
  CHECK(view.events.front().step == 0);
}

TEST_CASE("a Prometheus check's hosts, queries and values are in the read model, as the schema says") {
  Sim sim(fleet8(), makeRollout(fleet8()));
  sim.start();
  sim.run(30);
  std::vector<CheckRecordView> checks;
  for (const auto& check : sim.checks()) checks.push_back(check);
  REQUIRE(!checks.empty());
  CheckRecordView prometheus = checks.front();
  prometheus.result.name = "app_errors";
  prometheus.result.metric = Metric::kPrometheus;
  prometheus.result.test = Test::kMannWhitney;
  prometheus.result.hostValues = {
      {"eu-a1", true, "app_error_ratio{host=\"eu-a1\"}", {0.05, std::nan("")}, "no data: x"},
      {"eu-a2", false, "app_error_ratio{host=\"eu-a2\"}", {0.01, 0.01}, ""}};
  checks.push_back(prometheus);
  const RolloutView view = buildRolloutView(sim.rollout(), sim.now(), std::move(checks), {});
  const json document = toJson(view);
  auto problems = problemsOf(document);
  CHECK_MESSAGE(problems.empty(), (problems.empty() ? "" : problems.front()));
  CHECK(document["checks"].back()["result"]["hostValues"][0]["values"][1] == "nan");
  auto decoded = rolloutViewFromJson(document);
  REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().message));
  CHECK(toJson(*decoded) == document);
  CHECK(decoded->checks.back().result.hostValues.size() == 2);
  CHECK(decoded->checks.back().result.hostValues[1].query == "app_error_ratio{host=\"eu-a2\"}");
}

}  // namespace
}  // namespace rollgate::rollout
