#include "coordinator/train/model.h"

#include <array>

#include <nlohmann/json.hpp>

#include "common/config.h"

namespace rollgate::train {
namespace {

template <typename E, std::size_t N>
Result<E> parseName(std::string_view text, const char* what, const std::array<const char*, N>& names) {
  std::string all;
  for (std::size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<E>(i);
    all += (i ? ", " : "") + std::string(names[i]);
  }
  return Error{std::string(what) + " \"" + std::string(text) + "\": expected one of " + all};
}

constexpr std::array<const char*, 3> kTests{"pending", "passed", "failed"};
constexpr std::array<const char*, 4> kStates{"waiting", "shipped", "bad", "locked"};
constexpr std::array<const char*, 6> kPhases{"idle",      "starting", "rolling_out",
                                             "bisecting", "held",     "stopped"};

}  // namespace

std::string_view testsName(Tests tests) { return kTests[static_cast<std::size_t>(tests)]; }
Result<Tests> parseTests(std::string_view text) { return parseName<Tests>(text, "tests", kTests); }
std::string_view candidateStateName(CandidateState state) {
  return kStates[static_cast<std::size_t>(state)];
}
Result<CandidateState> parseCandidateState(std::string_view text) {
  return parseName<CandidateState>(text, "candidate state", kStates);
}
std::string_view phaseName(Phase phase) { return kPhases[static_cast<std::size_t>(phase)]; }

Result<TrainConfig> parseTrainConfig(const std::string& tomlText, const std::string& sourceName) {
  auto root = ConfigReader::parseString(tomlText, sourceName);
  if (!root) return root.error();
  TrainConfig config;
  config.toml = tomlText;
  ConfigReader train = root->table("train");
  std::int64_t cap = config.cap, hardCap = config.hardCap, goal = 30, expected = 10,
               measured = config.measuredRollouts;
  train.get("cap", cap, 1, 1000);
  train.get("hard_cap", hardCap, 1, 1000);
  train.get("goal_minutes", goal, 1, 7 * 24 * 60);
  train.get("expected_rollout_minutes", expected, 1, 24 * 60);
  train.get("measured_rollouts", measured, 1, 100);
  if (hardCap < cap) {
    train.fail("hard_cap", "must be at least cap (" + std::to_string(cap) + "), got " +
                               std::to_string(hardCap));
  }
  // Seconds variants, for tests and demos that need windows shorter than a minute.
  std::int64_t goalSeconds = goal * 60, expectedSeconds = expected * 60;
  train.get("goal_seconds", goalSeconds, 1, 7 * 24 * 3600);
  train.get("expected_rollout_seconds", expectedSeconds, 1, 24 * 3600);
  ConfigReader window = root->table("window");
  std::string zone = "UTC";
  std::vector<std::string> open;
  window.get("time_zone", zone);
  window.get("open", open);
  std::vector<FreezeDates> freezes;
  for (ConfigReader& f : root->tables("freeze")) {
    FreezeDates freeze;
    f.get("from", freeze.from);
    f.get("until", freeze.until);
    f.get("reason", freeze.reason);
    if (freeze.from.empty()) f.fail("from", "a freeze needs from = \"YYYY-MM-DD\"");
    freezes.push_back(freeze);
  }
  if (Status done = root->finish(); !done) return done.error();
  auto calendar = DeployCalendar::make(zone, open, freezes);
  if (!calendar) return Error{sourceName + ": " + calendar.error().message};
  config.cap = static_cast<std::uint32_t>(cap);
  config.hardCap = static_cast<std::uint32_t>(hardCap);
  config.goalSeconds = static_cast<std::uint64_t>(goalSeconds);
  config.expectedRolloutSeconds = static_cast<std::uint64_t>(expectedSeconds);
  config.measuredRollouts = static_cast<std::uint32_t>(measured);
  config.calendar = std::move(*calendar);
  return config;
}

std::string toJson(const TrainState& s) {
  nlohmann::json j{{"service", s.service},
                   {"enabled", s.enabled},
                   {"paused", s.paused},
                   {"paused_by", s.pausedBy},
                   {"phase", phaseName(s.phase)},
                   {"deployed_seq", s.deployedSeq},
                   {"rollout_id", s.rolloutId},
                   {"target_seq", s.targetSeq},
                   {"canary_only", s.canaryOnly},
                   {"started_millis", s.startedMillis},
                   {"good_seq", s.goodSeq},
                   {"bad_seq", s.badSeq},
                   {"canary_runs", s.canaryRuns},
                   {"held_on_seq", s.heldOnSeq},
                   {"stop_reason", s.stopReason},
                   {"recent_rollout_seconds", s.recentRolloutSeconds},
                   {"plan_toml", s.planToml},
                   {"gates_toml", s.gatesToml},
                   {"config_toml", s.configToml}};
  if (s.lock) {
    j["lock"] = {{"reason", s.lock->reason}, {"author", s.lock->author}, {"at_millis", s.lock->atMillis}};
  }
  return j.dump();
}

Result<TrainState> trainStateFromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    TrainState s;
    s.service = j.at("service").get<std::string>();
    s.enabled = j.at("enabled").get<bool>();
    s.paused = j.at("paused").get<bool>();
    s.pausedBy = j.at("paused_by").get<std::string>();
    bool found = false;
    for (std::size_t i = 0; i < kPhases.size(); ++i) {
      if (j.at("phase").get<std::string>() == kPhases[i]) {
        s.phase = static_cast<Phase>(i);
        found = true;
      }
    }
    if (!found) return Error{"train state: unknown phase " + j.at("phase").dump()};
    s.deployedSeq = j.at("deployed_seq").get<std::uint64_t>();
    s.rolloutId = j.at("rollout_id").get<std::string>();
    s.targetSeq = j.at("target_seq").get<std::uint64_t>();
    s.canaryOnly = j.at("canary_only").get<bool>();
    s.startedMillis = j.at("started_millis").get<std::uint64_t>();
    s.goodSeq = j.at("good_seq").get<std::uint64_t>();
    s.badSeq = j.at("bad_seq").get<std::uint64_t>();
    s.canaryRuns = j.at("canary_runs").get<std::uint32_t>();
    s.heldOnSeq = j.at("held_on_seq").get<std::uint64_t>();
    s.stopReason = j.at("stop_reason").get<std::string>();
    s.recentRolloutSeconds = j.at("recent_rollout_seconds").get<std::vector<std::uint64_t>>();
    s.planToml = j.at("plan_toml").get<std::string>();
    s.gatesToml = j.at("gates_toml").get<std::string>();
    s.configToml = j.at("config_toml").get<std::string>();
    if (j.contains("lock")) {
      s.lock = TrainLock{j["lock"].at("reason").get<std::string>(),
                         j["lock"].at("author").get<std::string>(),
                         j["lock"].at("at_millis").get<std::uint64_t>()};
    }
    return s;
  } catch (const std::exception& e) {
    return Error{std::string("train state JSON: ") + e.what()};
  }
}

std::string toJson(const Candidate& c) {
  return nlohmann::json{{"seq", c.seq},
                        {"service", c.service},
                        {"version", c.version},
                        {"commit", c.commit},
                        {"parent", c.parent},
                        {"author", c.author},
                        {"title", c.title},
                        {"fixes", c.fixes},
                        {"tests", testsName(c.tests)},
                        {"has_artifact", c.hasArtifact},
                        {"state", candidateStateName(c.state)},
                        {"note", c.note},
                        {"submitted_millis", c.submittedMillis},
                        {"shipped_millis", c.shippedMillis}}
      .dump();
}

Result<Candidate> candidateFromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    Candidate c;
    c.seq = j.at("seq").get<std::uint64_t>();
    c.service = j.at("service").get<std::string>();
    c.version = j.at("version").get<std::string>();
    c.commit = j.at("commit").get<std::string>();
    c.parent = j.at("parent").get<std::string>();
    c.author = j.at("author").get<std::string>();
    c.title = j.at("title").get<std::string>();
    c.fixes = j.at("fixes").get<std::string>();
    auto tests = parseTests(j.at("tests").get<std::string>());
    if (!tests) return tests.error();
    c.tests = *tests;
    c.hasArtifact = j.at("has_artifact").get<bool>();
    auto state = parseCandidateState(j.at("state").get<std::string>());
    if (!state) return state.error();
    c.state = *state;
    c.note = j.at("note").get<std::string>();
    c.submittedMillis = j.at("submitted_millis").get<std::uint64_t>();
    c.shippedMillis = j.at("shipped_millis").get<std::uint64_t>();
    return c;
  } catch (const std::exception& e) {
    return Error{std::string("candidate JSON: ") + e.what()};
  }
}

}  // namespace rollgate::train
