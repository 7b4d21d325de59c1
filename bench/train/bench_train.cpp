// bench_train: a simulated working day of commits through the release train (coordinator/train),
// driven on a fake clock. 60 commits land at random times between 09:00 and 17:00 (seeded), all
// with passing tests; 3 of them are bad (their canary fails, as does the canary of any later
// commit until a revert of it lands, 20 minutes after the train names it). Rollout durations come
// from the planner's steps for the demo's fleet (8 hosts, 2 regions x 2 clusters x 2 hosts) with
// a plan's warm-up and analysis per step plus `install_seconds` per step; a canary that fails
// costs its canary step plus a rollback. Prints, for the train (cap 3, hard cap 10, goal 30 min)
// and for one rollout per commit (cap 1, hard cap 1): the median and worst time from a good
// commit's submission to being on every host, and the number of rollouts (canary-only ones
// apart).
// Usage: bench_train [seed=7] [install_seconds=2]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "coordinator/rollout/planner.h"
#include "coordinator/rollout/rollout_config.h"
#include "coordinator/train/train.h"
#include "demo/demo_plan.h"

using namespace rollgate;
using namespace rollgate::train;

namespace {

// The demo's plan (demo/rollgate_demo.cpp) and the production defaults.
const char* kDemoPlan = rollgate::demo::kDemoPlanToml;

struct Durations {
  std::uint64_t fullSeconds = 0;        // every step
  std::uint64_t canarySeconds = 0;      // the canary step alone (canary-only rollout)
  std::uint64_t canaryFailSeconds = 0;  // a canary that fails: its step and the rollback
};

Durations durationsOf(const std::string& planToml, std::uint64_t windowSeconds,
                      std::uint64_t installSeconds) {
  auto plan = rollout::parsePlanConfig(planToml, "plan", windowSeconds);
  if (!plan) {
    std::fprintf(stderr, "bench_train: %s\n", plan.error().message.c_str());
    std::exit(2);
  }
  std::vector<HostInfo> hosts;
  for (const char* region : {"eu", "us"}) {
    for (const char* cluster : {"a", "b"}) {
      for (int i = 1; i <= 2; ++i) {
        HostInfo h;
        h.name = std::string(region) + "-" + cluster + "-" + std::to_string(i);
        h.region = region;
        h.cluster = std::string(region) + "-" + cluster;
        h.healthy = true;
        h.connected = true;
        h.services = {ServiceRelease{"web", "1.0.0", {}}};
        hosts.push_back(h);
      }
    }
  }
  auto planned = rollout::planRollout({"web", "2.0.0", ""}, hosts, *plan);
  if (!planned) {
    std::fprintf(stderr, "bench_train: %s\n", planned.error().message.c_str());
    std::exit(2);
  }
  Durations d;
  for (std::size_t i = 0; i < planned->steps.size(); ++i) {
    const rollout::StageConfig& stage = plan->stage(planned->steps[i].stage);
    std::uint64_t step = installSeconds + stage.warmupSeconds + stage.analysisSeconds;
    d.fullSeconds += step;
    if (i == 0) d.canarySeconds = step;
  }
  d.canaryFailSeconds = d.canarySeconds + installSeconds;
  return d;
}

struct Outcome {
  std::vector<double> minutesToEverywhere;  // good commits
  int rollouts = 0;
  int canaryOnly = 0;
  int unshipped = 0;
  double lastShippedHour = 0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

Outcome simulate(unsigned seed, const Durations& d, std::uint32_t cap, std::uint32_t hardCap) {
  std::mt19937 rng(seed);
  const std::uint64_t day = 9 * 3600;  // 09:00, seconds since the simulated midnight
  std::uniform_int_distribution<std::uint64_t> at(day, day + 8 * 3600);
  std::vector<std::uint64_t> times;
  for (int i = 0; i < 60; ++i) times.push_back(at(rng));
  std::sort(times.begin(), times.end());
  std::vector<int> order(60);
  for (int i = 0; i < 60; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<bool> badAt(60, false);
  for (int i = 0; i < 3; ++i) badAt[order[i]] = true;

  struct Landing {
    std::uint64_t atSeconds;
    bool bad;
    std::string fixes;                 // the commit the train named
    std::vector<std::string> reverts;  // the bad commits it takes out
  };
  std::multimap<std::uint64_t, Landing> pending;
  for (int i = 0; i < 60; ++i) pending.emplace(times[i], Landing{times[i], badAt[i], "", {}});

  TrainState state;
  state.service = "web";
  state.enabled = true;
  TrainConfig config;
  config.cap = cap;
  config.hardCap = hardCap;
  config.expectedRolloutSeconds = d.fullSeconds;
  Train train(state, config);
  std::vector<Candidate> candidates;
  std::map<std::string, bool> badCommit;      // commit -> bad
  std::map<std::string, bool> fixScheduled;   // named commit -> its revert scheduled
  std::map<std::string, std::uint64_t> revertedBy;  // bad commit -> seq of its revert
  std::map<std::uint64_t, std::uint64_t> shippedAt;  // seq -> seconds
  Outcome out;
  std::uint64_t now = 0;
  std::optional<std::pair<std::uint64_t, train::Outcome>> running;  // end time, outcome
  auto millis = [](std::uint64_t s) { return s * 1000; };
  auto apply = [&](const Actions& actions) {
    for (const Action& a : actions) {
      if (const auto* e = std::get_if<TrainEvent>(&a); e && std::getenv("BENCH_TRAIN_TRACE")) {
        std::fprintf(stderr, "%02llu:%02llu:%02llu %s: %s\n",
                     static_cast<unsigned long long>(now / 3600 % 24),
                     static_cast<unsigned long long>(now / 60 % 60),
                     static_cast<unsigned long long>(now % 60), e->kind.c_str(), e->text.c_str());
      }
      if (const auto* m = std::get_if<MarkCandidate>(&a)) {
        for (Candidate& c : candidates) {
          if (c.seq != m->seq) continue;
          c.state = m->state;
          if (m->state == CandidateState::kShipped) shippedAt[c.seq] = now;
          if (m->state == CandidateState::kBad && !fixScheduled[c.commit]) {
            // Someone reverts it 20 minutes later, and with it every bad commit before it not
            // reverted yet (a locked commit the train could not test may hide one).
            fixScheduled[c.commit] = true;
            std::vector<std::string> reverts;
            for (const Candidate& b : candidates) {
              if (b.seq <= c.seq && badCommit[b.commit] && !revertedBy.count(b.commit)) {
                reverts.push_back(b.commit);
                revertedBy[b.commit] = 0;  // set when the revert lands
              }
            }
            pending.emplace(now + 20 * 60, Landing{now + 20 * 60, false, c.commit, reverts});
          }
        }
      }
      if (const auto* s = std::get_if<StartTrainRollout>(&a)) {
        // Does the target carry a bad commit whose revert is not at or before it?
        bool fails = false;
        for (const Candidate& c : candidates) {
          if (c.seq > s->seq || !badCommit[c.commit]) continue;
          auto r = revertedBy.find(c.commit);
          bool reverted = r != revertedBy.end() && r->second != 0 && r->second <= s->seq;
          if (!reverted) fails = true;
        }
        (s->canaryOnly ? out.canaryOnly : out.rollouts)++;
        std::uint64_t took = fails ? d.canaryFailSeconds : s->canaryOnly ? d.canarySeconds : d.fullSeconds;
        running = std::make_pair(now + took, fails ? train::Outcome::kFailedAtCanary
                                                   : train::Outcome::kSucceeded);
        Actions started = train.rolloutStarted("r", millis(now));
        (void)started;
      }
    }
  };
  std::uint64_t seq = 0;
  for (now = day; now < day + 3 * 86400; ++now) {
    while (!pending.empty() && pending.begin()->first <= now) {
      Landing l = pending.begin()->second;
      pending.erase(pending.begin());
      Candidate c;
      c.seq = ++seq;
      c.service = "web";
      c.version = "1.0." + std::to_string(c.seq);
      c.commit = "commit" + std::to_string(c.seq);
      c.tests = Tests::kPassed;
      c.fixes = l.fixes;
      c.submittedMillis = millis(l.atSeconds);
      candidates.push_back(c);
      badCommit[c.commit] = l.bad;
      for (const std::string& b : l.reverts) revertedBy[b] = c.seq;
    }
    if (running && running->first <= now) {
      auto outcome = running->second;
      running.reset();
      apply(train.rolloutEnded(outcome, "", millis(now), candidates));
    }
    if (!running) apply(train.tick(millis(now), candidates, {}));
    if (pending.empty() && !running && train.state().deployedSeq == seq) break;
  }
  for (const Candidate& c : candidates) {
    if (badCommit[c.commit]) continue;
    // A commit locked between a bad one and its revert reaches every host with the revert.
    std::optional<std::uint64_t> on;
    for (const auto& [s, t] : shippedAt) {
      if (s >= c.seq) {
        on = t;
        break;
      }
    }
    if (!on) {
      ++out.unshipped;
      continue;
    }
    out.minutesToEverywhere.push_back(static_cast<double>(*on - c.submittedMillis / 1000) / 60.0);
    out.lastShippedHour = std::max(out.lastShippedHour, static_cast<double>(*on) / 3600.0);
  }
  return out;
}

void report(const char* planName, const Durations& d, unsigned seed) {
  std::printf("%s: rollout %llu s, canary step %llu s, failed canary %llu s\n", planName,
              static_cast<unsigned long long>(d.fullSeconds),
              static_cast<unsigned long long>(d.canarySeconds),
              static_cast<unsigned long long>(d.canaryFailSeconds));
  std::printf("  %-34s %10s %10s %9s %12s %10s %9s\n", "", "median min", "worst min", "rollouts",
              "canary-only", "unshipped", "last at");
  for (auto [name, cap, hardCap] : {std::tuple{"train (cap 3, hard cap 10, 30 min)", 3u, 10u},
                                    std::tuple{"one rollout per commit", 1u, 1u}}) {
    Outcome o = simulate(seed, d, cap, hardCap);
    double worst = o.minutesToEverywhere.empty()
                       ? 0
                       : *std::max_element(o.minutesToEverywhere.begin(), o.minutesToEverywhere.end());
    int hh = static_cast<int>(o.lastShippedHour);
    int mm = static_cast<int>((o.lastShippedHour - hh) * 60);
    std::printf("  %-34s %10.1f %10.1f %9d %12d %10d %6s%02d:%02d\n", name,
                percentile(o.minutesToEverywhere, 0.5), worst, o.rollouts, o.canaryOnly,
                o.unshipped, hh >= 24 ? "+1d " : "", hh % 24, mm);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned seed = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 7;
  std::uint64_t install = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2;
  std::printf("a day of 60 commits (09:00-17:00, seed %u) with 3 bad ones, reverted 20 min after "
              "being named; 8 hosts (2 regions x 2 clusters x 2), %llu s install per step\n",
              seed, static_cast<unsigned long long>(install));
  report("demo plan (demo/rollgate_demo.cpp)", durationsOf(kDemoPlan, 1, install), seed);
  report("default plan (production minutes)", durationsOf("", 10, install), seed);
  return 0;
}
