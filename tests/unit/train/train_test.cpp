// The release train's selection (cap, backlog goal, hard cap, tests at the head), bisection in
// about log2(n) canaries, the hold on a bad commit until its fix, stops, locks, the deploy window,
// and the state's JSON form; all on a fake clock.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "coordinator/train/train.h"

using namespace rollgate::train;

namespace {

std::vector<Candidate> commits(std::size_t n, Tests tests = Tests::kPassed) {
  std::vector<Candidate> out;
  for (std::size_t i = 1; i <= n; ++i) {
    Candidate c;
    c.seq = i;
    c.service = "web";
    c.version = "1.0." + std::to_string(i);
    c.commit = "c" + std::to_string(i) + "0000000000000000";
    c.author = "dev" + std::to_string(i);
    c.tests = tests;
    out.push_back(c);
  }
  return out;
}

TrainState enabled() {
  TrainState s;
  s.service = "web";
  s.enabled = true;
  return s;
}

TrainConfig config(std::uint32_t cap = 3, std::uint32_t hardCap = 10,
                   std::uint64_t goalSeconds = 1800, std::uint64_t expectedSeconds = 600) {
  TrainConfig c;
  c.cap = cap;
  c.hardCap = hardCap;
  c.goalSeconds = goalSeconds;
  c.expectedRolloutSeconds = expectedSeconds;
  return c;
}

void applyTo(std::vector<Candidate>& candidates, const Actions& actions) {
  for (const Action& a : actions) {
    if (const auto* mark = std::get_if<MarkCandidate>(&a)) {
      for (Candidate& c : candidates) {
        if (c.seq == mark->seq) {
          c.state = mark->state;
          c.note = mark->note;
        }
      }
    }
  }
}

const StartTrainRollout* started(const Actions& actions) {
  for (const Action& a : actions) {
    if (const auto* s = std::get_if<StartTrainRollout>(&a)) return s;
  }
  return nullptr;
}

bool hasEvent(const Actions& actions, const std::string& kind) {
  for (const Action& a : actions) {
    if (const auto* e = std::get_if<TrainEvent>(&a); e && e->kind == kind) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("selection: the newest passed commit within the cap, more only for a backlog") {
  struct Case {
    const char* name;
    std::size_t commits;
    std::uint64_t deployed;
    std::uint32_t cap, hardCap;
    std::uint64_t goalSeconds, rolloutSeconds;
    std::uint64_t wantSeq;
    std::uint32_t wantPerRollout;
  };
  for (const Case& c : {
           Case{"one commit", 1, 0, 3, 10, 1800, 600, 1, 3},
           Case{"under the cap", 2, 0, 3, 10, 1800, 600, 2, 3},
           Case{"the cap", 7, 0, 3, 10, 1800, 600, 3, 3},
           // 9 commits, 3 rollouts of 10 min fit in 30 min: 3 per rollout suffice.
           Case{"a backlog the cap clears in time", 9, 0, 3, 10, 1800, 600, 3, 3},
           // 12 commits, 3 rollouts in the goal: 4 per rollout.
           Case{"a backlog that needs 4 per rollout", 12, 0, 3, 10, 1800, 600, 4, 4},
           // 40 commits, 15-minute rollouts: 2 in the goal, 20 wanted, the hard cap says 10.
           Case{"the hard cap", 40, 0, 3, 10, 1800, 900, 10, 10},
           Case{"a rollout longer than the goal", 5, 0, 2, 4, 600, 900, 4, 4},
           Case{"after the deployed one", 8, 6, 3, 10, 1800, 600, 8, 3},
       }) {
    CAPTURE(c.name);
    TrainState s = enabled();
    s.deployedSeq = c.deployed;
    Pick p = pick(s, config(c.cap, c.hardCap, c.goalSeconds, c.rolloutSeconds), commits(c.commits));
    REQUIRE(p.found);
    CHECK(p.seq == c.wantSeq);
    CHECK(p.perRollout == c.wantPerRollout);
  }
}

TEST_CASE("selection uses the measured rollouts and says so") {
  TrainState s = enabled();
  s.recentRolloutSeconds = {300, 420, 360};  // 6 min on average
  Pick p = pick(s, config(3, 10, 1800, 600), commits(7));
  REQUIRE(p.found);
  CHECK(p.seq == 3);
  CHECK(p.why == "picked 3 commits up to c30000000000 (1.0.3): backlog of 7, goal 30 min, "
                 "last rollouts took 6 min, up to 3 per rollout");
  // 30 commits at 6 min: 5 rollouts in the goal, 6 per rollout.
  Pick big = pick(s, config(3, 10, 1800, 600), commits(30));
  CHECK(big.seq == 6);
  CHECK(big.why.find("above the cap of 3 for the backlog") != std::string::npos);
}

TEST_CASE("selection: tests pending or failed, at the head or inside the range") {
  TrainState s = enabled();
  auto c = commits(5);
  c[2].tests = Tests::kPending;  // #3
  CHECK(pick(s, config(), c).seq == 2);  // #3 pending: the newest passed within 3 is #2
  c[1].tests = Tests::kFailed;           // #2 failed, inside: covered by no later passed within 3
  CHECK(pick(s, config(), c).seq == 1);
  c[0].tests = Tests::kFailed;  // the head failed, nothing passed within 3
  Pick head = pick(s, config(), c);
  CHECK_FALSE(head.found);
  CHECK(head.why.find("failed at the head of the queue") != std::string::npos);
  c[2].tests = Tests::kPassed;  // #3 passes: it covers the failed ones before it
  CHECK(pick(s, config(), c).seq == 3);
  auto pending = commits(2, Tests::kPending);
  Pick wait = pick(s, config(), pending);
  CHECK_FALSE(wait.found);
  CHECK(wait.why == "waiting for the tests of commit c10000000000 (1.0.1)");
  Pick none = pick(s, config(), {});
  CHECK_FALSE(none.found);
}

namespace {

// Runs the train over `candidates` until it is held or has shipped everything, with canaries that
// fail for every version at or after `culprit` (0: none), unless a fix (fixes = culprit's commit)
// is at or before the target. Returns the canary-only rollouts it ran.
struct Run {
  int canaryOnly = 0;
  int fullRollouts = 0;
};
Run drive(Train& train, std::vector<Candidate>& candidates, std::uint64_t culprit,
          rollgate::FakeClock& clock, int maxSteps = 200) {
  Run run;
  for (int i = 0; i < maxSteps; ++i) {
    Actions actions = train.tick(clock.nowMillis(), candidates, {});
    applyTo(candidates, actions);
    const StartTrainRollout* start = started(actions);
    if (start == nullptr) break;
    StartTrainRollout s = *start;
    applyTo(candidates, train.rolloutStarted("r-" + std::to_string(i), clock.nowMillis()));
    clock.advanceMillis(s.canaryOnly ? 120'000 : 360'000);
    bool fixed = false;
    for (const Candidate& c : candidates) {
      if (c.seq <= s.seq && culprit != 0 && !c.fixes.empty() && c.fixes == candidates[culprit - 1].commit) fixed = true;
    }
    bool fails = culprit != 0 && s.seq >= culprit && !fixed;
    (s.canaryOnly ? run.canaryOnly : run.fullRollouts)++;
    applyTo(candidates, train.rolloutEnded(fails ? Outcome::kFailedAtCanary : Outcome::kSucceeded,
                                         "", clock.nowMillis(), candidates));
  }
  return run;
}

}  // namespace

TEST_CASE("bisection names the first bad commit in at most ceil(log2 n) canaries") {
  for (std::size_t n : {2u, 3u, 4u, 5u, 7u, 8u, 10u}) {
    for (std::uint64_t culprit = 1; culprit <= n; ++culprit) {
      CAPTURE(n);
      CAPTURE(culprit);
      rollgate::FakeClock clock;
      auto candidates = commits(n);
      Train train(enabled(), config(static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n)));
      Run run = drive(train, candidates, culprit, clock);
      CHECK(candidates[culprit - 1].state == CandidateState::kBad);
      for (std::size_t i = 0; i + 1 < culprit; ++i) CHECK(candidates[i].state == CandidateState::kShipped);
      for (std::size_t i = culprit; i < n; ++i) CHECK(candidates[i].state == CandidateState::kLocked);
      CHECK(run.canaryOnly <= static_cast<int>(std::ceil(std::log2(static_cast<double>(n)))));
      CHECK(train.state().phase == Phase::kHeld);
      CHECK(train.state().heldOnSeq == culprit);
      CHECK(train.state().deployedSeq == culprit - 1);
      StatusView view = train.status(clock.nowMillis(), candidates, {});
      CHECK_FALSE(view.moving);
      CHECK(view.why.find("held: commit " + candidates[culprit - 1].commit.substr(0, 12)) == 0);
      CHECK(view.next.find("fixes or reverts it") != std::string::npos);
    }
  }
}

TEST_CASE("ten commits, one bad in the middle, cap 3: good ones ship, held until a fix lands") {
  rollgate::FakeClock clock;
  auto candidates = commits(10);
  Train train(enabled(), config(3, 10));
  drive(train, candidates, 5, clock);
  CHECK(candidates[4].state == CandidateState::kBad);
  CHECK(train.state().deployedSeq == 4);
  CHECK(candidates[5].state == CandidateState::kLocked);
  CHECK(train.state().phase == Phase::kHeld);
  // A commit landing meanwhile is locked too; nothing starts.
  Candidate late = commits(11).back();
  candidates.push_back(late);
  Actions quiet = train.tick(clock.nowMillis(), candidates, {});
  applyTo(candidates, quiet);
  CHECK(started(quiet) == nullptr);
  CHECK(candidates[10].state == CandidateState::kLocked);
  // The revert lands with tests pending: still held; once passed, the train ships it.
  Candidate revert = commits(12).back();
  revert.fixes = candidates[4].commit;
  revert.tests = Tests::kPending;
  candidates.push_back(revert);
  CHECK(started(train.tick(clock.nowMillis(), candidates, {})) == nullptr);
  candidates.back().tests = Tests::kPassed;
  Actions fixed = train.tick(clock.nowMillis(), candidates, {});
  CHECK(hasEvent(fixed, "fixed"));
  applyTo(candidates, fixed);
  const StartTrainRollout* start = started(fixed);
  REQUIRE(start != nullptr);
  CHECK(start->seq == 12);  // the locked range is covered by the fix, never shipped alone
  CHECK_FALSE(start->canaryOnly);
  applyTo(candidates, train.rolloutStarted("r-fix", clock.nowMillis()));
  applyTo(candidates, train.rolloutEnded(Outcome::kSucceeded, "", clock.nowMillis(), candidates));
  CHECK(train.state().deployedSeq == 12);
  CHECK(train.state().phase == Phase::kIdle);
  CHECK(candidates[11].state == CandidateState::kShipped);
  CHECK(candidates[5].state == CandidateState::kLocked);
}

TEST_CASE("a one-commit canary failure names it at once, without bisecting") {
  rollgate::FakeClock clock;
  auto candidates = commits(1);
  Train train(enabled(), config());
  Run run = drive(train, candidates, 1, clock);
  CHECK(run.canaryOnly == 0);
  CHECK(candidates[0].state == CandidateState::kBad);
}

TEST_CASE("commits without their own artifact are not canaried: the range is named") {
  rollgate::FakeClock clock;
  auto candidates = commits(3);
  candidates[0].hasArtifact = false;
  candidates[1].hasArtifact = false;
  Train train(enabled(), config());
  Run run = drive(train, candidates, 2, clock);
  CHECK(run.canaryOnly == 0);
  CHECK(candidates[2].state == CandidateState::kBad);
  CHECK(candidates[2].note.find("no artifact of their own") != std::string::npos);
}

TEST_CASE("a failure after the canary, an abort or a start error stops until resume") {
  for (Outcome outcome : {Outcome::kFailedLater, Outcome::kAborted, Outcome::kIncomplete}) {
    rollgate::FakeClock clock;
    auto candidates = commits(2);
    Train train(enabled(), config());
    REQUIRE(started(train.tick(clock.nowMillis(), candidates, {})) != nullptr);
    train.rolloutStarted("r-1", clock.nowMillis());
    Actions out = train.rolloutEnded(outcome, "host b2 failed", clock.nowMillis(), candidates);
    CHECK(hasEvent(out, "stopped"));
    CHECK(train.state().phase == Phase::kStopped);
    CHECK(started(train.tick(clock.nowMillis(), candidates, {})) == nullptr);
    StatusView view = train.status(clock.nowMillis(), candidates, {});
    CHECK(view.why.find("stopped: rollout r-1") == 0);
    CHECK(view.next.find("after rollgate train resume web: start a rollout") == 0);
    train.resume("ops");
    CHECK(started(train.tick(clock.nowMillis(), candidates, {})) != nullptr);
  }
  Train train(enabled(), config());
  auto candidates = commits(1);
  REQUIRE(started(train.tick(0, candidates, {})) != nullptr);
  train.startFailed("no healthy baseline host", 0);
  CHECK(train.state().phase == Phase::kStopped);
  CHECK(train.state().stopReason.find("no healthy baseline host") != std::string::npos);
}

TEST_CASE("pause, lock, fleet freeze, another rollout and a closed window hold the train") {
  auto candidates = commits(2);
  struct Case {
    const char* name;
    std::function<void(Train&)> set;
    Conditions conditions;
    const char* why;
  };
  std::vector<Case> cases{
      {"paused", [](Train& t) { t.pause("alice"); }, {}, "paused by alice"},
      {"locked", [](Train& t) { t.lock("incident 42", "bob", 1); }, {}, "locked by bob: incident 42"},
      {"disabled", [](Train& t) { t.disable("carol"); }, {}, "the train is disabled"},
      {"frozen", [](Train&) {}, Conditions{true, "release freeze", "", ""}, "the fleet is frozen: release freeze"},
      {"other rollout", [](Train&) {}, Conditions{false, "", "r-9", ""}, "rollout r-9 of the service is running"},
  };
  for (Case& c : cases) {
    CAPTURE(c.name);
    Train train(enabled(), config());
    c.set(train);
    CHECK(started(train.tick(1000, candidates, c.conditions)) == nullptr);
    StatusView view = train.status(1000, candidates, c.conditions);
    CHECK(view.why == c.why);
    CHECK(view.next.find("start a rollout: picked 2 commits") != std::string::npos);
  }
  Train unlocked(enabled(), config());
  unlocked.lock("x", "bob", 1);
  unlocked.unlock("bob");
  CHECK(started(unlocked.tick(1000, candidates, {})) != nullptr);
}

TEST_CASE("a deploy window that closes stops the train; its opening starts it again") {
  // Open 09:00-09:30 UTC every day; the fake clock starts at 09:00 on 2026-12-07.
  std::uint64_t nine = (20'794ull * 1440 + 540) * 60'000;
  rollgate::FakeClock clock(nine);
  TrainConfig cfg = config(1, 1);
  auto calendar = DeployCalendar::make("UTC", {"daily 09:00-09:30"}, {});
  REQUIRE(calendar.ok());
  cfg.calendar = *calendar;
  auto candidates = commits(3);
  Train train(enabled(), cfg);
  Actions first = train.tick(clock.nowMillis(), candidates, {});
  REQUIRE(started(first) != nullptr);
  train.rolloutStarted("r-1", clock.nowMillis());
  clock.advanceMillis(31 * 60'000);  // 09:31: the window closed during the rollout
  applyTo(candidates, train.rolloutEnded(Outcome::kSucceeded, "", clock.nowMillis(), candidates));
  Actions closed = train.tick(clock.nowMillis(), candidates, {});
  CHECK(hasEvent(closed, "window_closed"));
  CHECK(started(closed) == nullptr);
  StatusView view = train.status(clock.nowMillis(), candidates, {});
  CHECK(view.why == "deploy window closed (daily 09:00-09:30, UTC); opens 2026-12-08 09:00 UTC");
  clock.advanceMillis(24 * 3600'000ull - 31 * 60'000);  // 09:00 the next day
  Actions opened = train.tick(clock.nowMillis(), candidates, {});
  CHECK(hasEvent(opened, "window_opened"));
  REQUIRE(started(opened) != nullptr);
  CHECK(started(opened)->seq == 2);
}

TEST_CASE("a train decided but not started starts the same rollout again after a restart") {
  auto candidates = commits(4);
  Train train(enabled(), config());
  Actions out = train.tick(1000, candidates, {});
  REQUIRE(started(out) != nullptr);
  // The coordinator dies before the rollout starts: the saved state says starting.
  auto saved = trainStateFromJson(toJson(train.state()));
  REQUIRE(saved.ok());
  CHECK(*saved == train.state());
  CHECK(saved->phase == Phase::kStarting);
  Train again(*saved, config());
  Actions retry = again.tick(2000, candidates, {});
  REQUIRE(started(retry) != nullptr);
  CHECK(started(retry)->seq == started(out)->seq);
  CHECK_FALSE(hasEvent(retry, "picked"));
}

TEST_CASE("state and candidates round-trip through JSON; bad JSON is refused") {
  TrainState s = enabled();
  s.lock = TrainLock{"incident", "bob", 42};
  s.phase = Phase::kBisecting;
  s.recentRolloutSeconds = {1, 2, 3};
  s.configToml = "[train]\ncap = 2\n";
  auto back = trainStateFromJson(toJson(s));
  REQUIRE(back.ok());
  CHECK(*back == s);
  Candidate c = commits(1).front();
  c.state = CandidateState::kLocked;
  c.fixes = "abc";
  auto cb = candidateFromJson(toJson(c));
  REQUIRE(cb.ok());
  CHECK(*cb == c);
  CHECK_FALSE(trainStateFromJson("{}").ok());
  CHECK_FALSE(parseTests("green").ok());
  CHECK(parseTests("green").error().message.find("\"green\"") != std::string::npos);
}

TEST_CASE("train config: defaults, seconds for short goals, errors naming the key") {
  auto defaults = parseTrainConfig("", "train.toml");
  REQUIRE(defaults.ok());
  CHECK(defaults->cap == 3);
  CHECK(defaults->hardCap == 10);
  CHECK(defaults->goalSeconds == 1800);
  auto set = parseTrainConfig(
      "[train]\ncap = 2\nhard_cap = 4\ngoal_seconds = 90\nexpected_rollout_seconds = 20\n"
      "[window]\ntime_zone = \"Europe/Paris\"\nopen = [\"mon-fri 09:00-17:00\"]\n"
      "[[freeze]]\nfrom = \"2026-12-24\"\nuntil = \"2026-12-26\"\nreason = \"holidays\"\n",
      "train.toml");
  REQUIRE_MESSAGE(set.ok(), (set.ok() ? "" : set.error().message));
  CHECK(set->goalSeconds == 90);
  CHECK(set->calendar.timeZone() == "Europe/Paris");
  CHECK(set->calendar.freezes().size() == 1);
  auto typo = parseTrainConfig("[train]\ncaps = 2\n", "train.toml");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.error().message.find("caps") != std::string::npos);
  auto below = parseTrainConfig("[train]\ncap = 5\nhard_cap = 2\n", "train.toml");
  REQUIRE_FALSE(below.ok());
  CHECK(below.error().message.find("hard_cap") != std::string::npos);
  auto zone = parseTrainConfig("[window]\ntime_zone = \"Nowhere/Town\"\n", "train.toml");
  REQUIRE_FALSE(zone.ok());
  CHECK(zone.error().message.find("Nowhere/Town") != std::string::npos);
}
