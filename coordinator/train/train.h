// The release train of one service: what it ships next, when, and what it does when a rollout
// fails. Pure logic: every call takes the time (Unix milliseconds) and the candidates as the store
// has them, changes the train's state and returns actions for the driver to carry out (start a
// rollout, mark candidates, record an event). The driver saves the state after every call that
// returned actions, before carrying them out, so a coordinator killed at any moment resumes it.
//
// Rules:
//  - selection (pick()): from the commits after the deployed one, the newest whose tests passed,
//    not bad or locked, within `n` commits, where n is the cap, or more when the backlog would not
//    be out within the goal at the cap (n just enough, from the measured rollout duration, never
//    above the hard cap); a failed or pending commit inside the range is covered by a later
//    passed one; a failed commit at the head with no passed commit after it within n stops it;
//  - it does not start anything while disabled, paused, locked, frozen (fleet freeze), outside
//    its deploy window, held on a bad commit or stopped;
//  - a rollout that succeeds ships its target and every commit before it;
//  - a rollout of one commit that fails at the canary names that commit bad; one of several
//    commits bisects: the middle commit of the range (good, bad] with its own artifact goes out
//    canary-only with the same plan and gates, halving the range until it is one commit (about
//    log2(n) canaries); the commit is marked bad, the commits after it locked until a commit
//    that fixes or reverts it (`fixes`) has passed its tests; the train then ships the last good
//    commit and waits (held) for that fix;
//  - a rollout that fails after the canary, is aborted or ends rolled_back_incomplete stops the
//    train until an operator resumes it.
// Thread-safety: a plain value; one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "coordinator/train/model.h"

namespace rollgate::train {

// What the driver knows about the rest of the coordinator.
struct Conditions {
  bool fleetFrozen = false;
  std::string frozenWhy;
  std::string otherRollout;  // a rollout of the service the train did not start, still running
  std::string rolloutWaiting;  // the train's rollout waits for an operator (its id)
};

// Start a rollout of `version` (canary only when bisecting) with the train's plan and gates.
struct StartTrainRollout {
  std::uint64_t seq = 0;
  std::string version;
  std::string commit;
  bool canaryOnly = false;
  std::string reason;
  bool operator==(const StartTrainRollout&) const = default;
};
struct MarkCandidate {
  std::uint64_t seq = 0;
  CandidateState state = CandidateState::kWaiting;
  std::string note;
  std::uint64_t atMillis = 0;
  bool operator==(const MarkCandidate&) const = default;
};
// An event of the train's (kind: picked, shipped, bisecting, bad_commit, held, stopped, fixed,
// waiting, paused, resumed, locked, unlocked, enabled, disabled, window_closed, window_opened).
struct TrainEvent {
  std::string kind;
  std::string text;
  std::string commit;  // the commit it is about, if any
  bool operator==(const TrainEvent&) const = default;
};
using Action = std::variant<StartTrainRollout, MarkCandidate, TrainEvent>;
using Actions = std::vector<Action>;

enum class Outcome : std::uint8_t {
  kSucceeded,       // every step passed (the canary, for a canary-only rollout)
  kFailedAtCanary,  // the canary step failed and it rolled back
  kFailedLater,     // a later step failed and it rolled back
  kAborted,
  kIncomplete,  // failed, or rolled_back_incomplete: hosts may be on either release
};

// What pick() chose.
struct Pick {
  bool found = false;
  std::uint64_t seq = 0;      // the target
  std::uint32_t commits = 0;  // commits after the deployed one it ships
  std::uint32_t perRollout = 0;
  std::string why;  // found: "picked 3 commits: backlog of 7, ..."; else why nothing
};
// Selection alone (see the rules above). `candidates` in seq order.
Pick pick(const TrainState& state, const TrainConfig& config,
          const std::vector<Candidate>& candidates);
// The rollout duration the train plans with, seconds.
std::uint64_t plannedRolloutSeconds(const TrainState& state, const TrainConfig& config);

struct StatusView {
  bool moving = false;  // a rollout of the train's is running
  std::string why;      // why it is not moving, or what it is doing
  std::string next;     // what it would do next
};

class Train {
 public:
  Train(TrainState state, TrainConfig config);

  const TrainState& state() const { return state_; }
  const TrainConfig& config() const { return config_; }

  // Starts a rollout when nothing stops it (see the rules).
  Actions tick(std::uint64_t nowMillis, const std::vector<Candidate>& candidates,
               const Conditions& conditions);
  Actions rolloutStarted(const std::string& rolloutId, std::uint64_t nowMillis);
  // The rollout could not start (the error names why): the train stops.
  Actions startFailed(const std::string& error, std::uint64_t nowMillis);
  Actions rolloutEnded(Outcome outcome, const std::string& detail, std::uint64_t nowMillis,
                       const std::vector<Candidate>& candidates);
  // A candidate was submitted or its tests changed: a fix of the commit the train is held on
  // releases it.
  Actions candidatesChanged(std::uint64_t nowMillis, const std::vector<Candidate>& candidates);

  Actions enable(const std::string& who);
  Actions disable(const std::string& who);
  Actions pause(const std::string& who);
  Actions resume(const std::string& who);  // also clears a stop
  Actions lock(const std::string& reason, const std::string& who, std::uint64_t nowMillis);
  Actions unlock(const std::string& who);
  void setConfig(TrainConfig config) { config_ = std::move(config); }
  void setPlan(std::string planToml, std::string gatesToml);

  StatusView status(std::uint64_t nowMillis, const std::vector<Candidate>& candidates,
                    const Conditions& conditions) const;

 private:
  // Why the train may not start a rollout now ("" when it may).
  std::string blocked(std::uint64_t nowMillis, const Conditions& conditions) const;
  Actions startBisection(std::uint64_t nowMillis, const std::vector<Candidate>& candidates);
  Actions nextBisectionStep(std::uint64_t nowMillis, const std::vector<Candidate>& candidates);
  Actions nameBadCommit(std::uint64_t nowMillis, const std::vector<Candidate>& candidates,
                        const std::string& how);
  void stop(const std::string& reason, Actions& out);

  TrainState state_;
  TrainConfig config_;
  bool windowWasOpen_ = true;
};

// The candidate with `seq` (null when none).
const Candidate* findSeq(const std::vector<Candidate>& candidates, std::uint64_t seq);

}  // namespace rollgate::train
