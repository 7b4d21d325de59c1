#include "coordinator/train/train.h"

#include <algorithm>
#include <cmath>

namespace rollgate::train {
namespace {

std::string shortCommit(const std::string& commit) { return commit.substr(0, 12); }

std::string minutesText(std::uint64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + " s";
  std::uint64_t tenths = (seconds * 10 + 30) / 60;
  std::string text = std::to_string(tenths / 10);
  if (tenths % 10 != 0) text += "." + std::to_string(tenths % 10);
  return text + " min";
}

std::string describe(const Candidate& c) {
  return shortCommit(c.commit) + " (" + c.version + ")";
}

std::vector<const Candidate*> after(const std::vector<Candidate>& candidates, std::uint64_t seq) {
  std::vector<const Candidate*> out;
  for (const Candidate& c : candidates) {
    if (c.seq > seq) out.push_back(&c);
  }
  return out;
}

// Whether bad or locked candidate `c` is covered by a later passed fix of a bad commit at or
// before it, among `range`.
bool coveredByFix(const Candidate& c, const std::vector<const Candidate*>& range,
                  const std::vector<Candidate>& all) {
  for (const Candidate* later : range) {
    if (later->seq <= c.seq || later->tests != Tests::kPassed || later->fixes.empty()) continue;
    for (const Candidate& bad : all) {
      if (bad.state == CandidateState::kBad && bad.seq <= c.seq && bad.commit == later->fixes) {
        return true;
      }
    }
  }
  return false;
}

bool isFixOf(const Candidate& fix, const Candidate& bad) {
  return fix.seq > bad.seq && !fix.fixes.empty() && fix.fixes == bad.commit;
}

}  // namespace

const Candidate* findSeq(const std::vector<Candidate>& candidates, std::uint64_t seq) {
  for (const Candidate& c : candidates) {
    if (c.seq == seq) return &c;
  }
  return nullptr;
}

std::uint64_t plannedRolloutSeconds(const TrainState& state, const TrainConfig& config) {
  if (state.recentRolloutSeconds.empty()) return std::max<std::uint64_t>(1, config.expectedRolloutSeconds);
  std::size_t n = std::min<std::size_t>(state.recentRolloutSeconds.size(),
                                        std::max<std::uint32_t>(1, config.measuredRollouts));
  std::uint64_t sum = 0;
  for (std::size_t i = state.recentRolloutSeconds.size() - n; i < state.recentRolloutSeconds.size(); ++i) {
    sum += state.recentRolloutSeconds[i];
  }
  return std::max<std::uint64_t>(1, (sum + n / 2) / n);
}

Pick pick(const TrainState& state, const TrainConfig& config,
          const std::vector<Candidate>& candidates) {
  Pick result;
  std::vector<const Candidate*> range = after(candidates, state.deployedSeq);
  if (range.empty()) {
    result.why = "nothing to ship: no candidate after the deployed commit";
    return result;
  }
  std::uint32_t backlog = 0;
  for (const Candidate* c : range) {
    if (c->state == CandidateState::kWaiting) ++backlog;
  }
  std::uint64_t rolloutSeconds = plannedRolloutSeconds(state, config);
  std::uint64_t rolloutsInGoal = std::max<std::uint64_t>(1, config.goalSeconds / rolloutSeconds);
  std::uint64_t needed = (backlog + rolloutsInGoal - 1) / rolloutsInGoal;
  std::uint32_t cap = std::max<std::uint32_t>(1, config.cap);
  std::uint32_t hardCap = std::max(cap, config.hardCap);
  std::uint32_t n = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(needed, cap, hardCap));
  result.perRollout = n;

  const Candidate* target = nullptr;
  std::uint32_t position = 0;
  std::uint32_t targetPosition = 0;
  std::string stopped;
  for (const Candidate* c : range) {
    if (position >= n) break;
    if (c->state == CandidateState::kBad || c->state == CandidateState::kLocked) {
      // Skipped when a later fix covers it (it never ships alone and does not count).
      if (coveredByFix(*c, range, candidates)) continue;
      stopped = "commit " + describe(*c) + " is " + std::string(candidateStateName(c->state)) +
                (c->note.empty() ? "" : " (" + c->note + ")");
      break;
    }
    ++position;
    if (c->state == CandidateState::kWaiting && c->tests == Tests::kPassed && c->hasArtifact) {
      target = c;
      targetPosition = position;
    }
  }
  std::string measured =
      state.recentRolloutSeconds.empty()
          ? "rollouts expected to take " + minutesText(rolloutSeconds) + " (none measured yet)"
          : "last rollouts took " + minutesText(rolloutSeconds);
  if (target == nullptr) {
    const Candidate* head = range.front();
    if (!stopped.empty() && position == 0) {
      result.why = "held: " + stopped;
    } else if (head->tests == Tests::kFailed) {
      result.why = "the tests of commit " + describe(*head) +
                   " failed at the head of the queue; waiting for a later commit whose tests pass";
    } else if (head->tests == Tests::kPending) {
      result.why = "waiting for the tests of commit " + describe(*head);
    } else if (!head->hasArtifact) {
      result.why = "commit " + describe(*head) + " has no artifact";
    } else {
      result.why = stopped.empty() ? "nothing to ship" : "held: " + stopped;
    }
    return result;
  }
  result.found = true;
  result.seq = target->seq;
  result.commits = targetPosition;
  result.why = "picked " + std::to_string(targetPosition) +
               (targetPosition == 1 ? " commit" : " commits") + " up to " + describe(*target) +
               ": backlog of " + std::to_string(backlog) + ", goal " +
               minutesText(config.goalSeconds) + ", " + measured + ", up to " +
               std::to_string(n) + " per rollout" +
               (n > cap ? " (above the cap of " + std::to_string(cap) + " for the backlog)" : "");
  return result;
}

Train::Train(TrainState state, TrainConfig config)
    : state_(std::move(state)), config_(std::move(config)) {}

void Train::setPlan(std::string planToml, std::string gatesToml) {
  state_.planToml = std::move(planToml);
  state_.gatesToml = std::move(gatesToml);
}

std::string Train::blocked(std::uint64_t nowMillis, const Conditions& conditions) const {
  if (!state_.enabled) return "the train is disabled";
  if (state_.phase == Phase::kStopped) return "stopped: " + state_.stopReason;
  if (state_.paused) return "paused by " + state_.pausedBy;
  if (state_.lock) {
    return "locked by " + state_.lock->author + ": " + state_.lock->reason;
  }
  if (conditions.fleetFrozen) return "the fleet is frozen: " + conditions.frozenWhy;
  if (!conditions.otherRollout.empty()) {
    return "rollout " + conditions.otherRollout + " of the service is running";
  }
  CalendarAnswer calendar = config_.calendar.at(nowMillis);
  if (!calendar.open) {
    return calendar.why + (calendar.changeMillis
                               ? "; opens " + config_.calendar.localTime(*calendar.changeMillis)
                               : std::string());
  }
  return {};
}

void Train::stop(const std::string& reason, Actions& out) {
  state_.phase = Phase::kStopped;
  state_.stopReason = reason;
  state_.rolloutId.clear();
  out.push_back(TrainEvent{"stopped", "stopped: " + reason + " (rollgate train resume " +
                                          state_.service + " goes on)", ""});
}

Actions Train::tick(std::uint64_t nowMillis, const std::vector<Candidate>& candidates,
                    const Conditions& conditions) {
  Actions out;
  if (!state_.enabled) return out;
  bool open = config_.calendar.isOpen(nowMillis);
  if (open != windowWasOpen_) {
    CalendarAnswer answer = config_.calendar.at(nowMillis);
    out.push_back(TrainEvent{open ? "window_opened" : "window_closed",
                             open ? "deploy window opened" : answer.why, ""});
    windowWasOpen_ = open;
  }
  for (Action& a : candidatesChanged(nowMillis, candidates)) out.push_back(std::move(a));
  if (state_.phase == Phase::kRollingOut || state_.phase == Phase::kBisecting ||
      state_.phase == Phase::kStopped) {
    return out;
  }
  if (!blocked(nowMillis, conditions).empty()) return out;
  if (state_.phase == Phase::kStarting) {  // a decided rollout not started yet
    const Candidate* c = findSeq(candidates, state_.targetSeq);
    if (c == nullptr) {
      stop("commit #" + std::to_string(state_.targetSeq) + " to start is not a candidate", out);
      return out;
    }
    out.push_back(StartTrainRollout{c->seq, c->version, c->commit, state_.canaryOnly,
                               state_.canaryOnly ? "bisecting" : "picked"});
    return out;
  }
  Pick p = pick(state_, config_, candidates);
  if (!p.found) return out;
  const Candidate* c = findSeq(candidates, p.seq);
  state_.phase = Phase::kStarting;
  state_.targetSeq = p.seq;
  state_.canaryOnly = false;
  state_.startedMillis = nowMillis;
  state_.rolloutId.clear();
  out.push_back(TrainEvent{"picked", p.why, c->commit});
  out.push_back(StartTrainRollout{c->seq, c->version, c->commit, false, p.why});
  return out;
}

Actions Train::rolloutStarted(const std::string& rolloutId, std::uint64_t nowMillis) {
  Actions out;
  state_.rolloutId = rolloutId;
  if (state_.startedMillis == 0) state_.startedMillis = nowMillis;
  if (state_.canaryOnly) {
    state_.phase = Phase::kBisecting;
    ++state_.canaryRuns;
  } else {
    state_.phase = Phase::kRollingOut;
  }
  out.push_back(TrainEvent{"started",
                           std::string(state_.canaryOnly ? "canary-only rollout " : "rollout ") +
                               rolloutId + " started for commit #" +
                               std::to_string(state_.targetSeq),
                           ""});
  return out;
}

Actions Train::startFailed(const std::string& error, std::uint64_t) {
  Actions out;
  stop("the rollout of commit #" + std::to_string(state_.targetSeq) + " could not start: " + error,
       out);
  return out;
}

Actions Train::rolloutEnded(Outcome outcome, const std::string& detail, std::uint64_t nowMillis,
                            const std::vector<Candidate>& candidates) {
  Actions out;
  const Candidate* target = findSeq(candidates, state_.targetSeq);
  std::string targetText = target ? describe(*target) : "#" + std::to_string(state_.targetSeq);
  std::string id = state_.rolloutId;
  state_.rolloutId.clear();
  if (outcome == Outcome::kAborted || outcome == Outcome::kIncomplete ||
      outcome == Outcome::kFailedLater) {
    const char* what = outcome == Outcome::kAborted      ? "was aborted"
                       : outcome == Outcome::kFailedLater ? "failed after its canary"
                                                          : "did not end cleanly";
    stop("rollout " + id + " of " + targetText + " " + what + (detail.empty() ? "" : ": " + detail),
         out);
    return out;
  }
  if (!state_.canaryOnly) {
    if (outcome == Outcome::kSucceeded) {
      std::uint64_t seconds = (nowMillis - std::min(nowMillis, state_.startedMillis)) / 1000;
      state_.recentRolloutSeconds.push_back(seconds);
      while (state_.recentRolloutSeconds.size() > std::max<std::uint32_t>(1, config_.measuredRollouts)) {
        state_.recentRolloutSeconds.erase(state_.recentRolloutSeconds.begin());
      }
      std::uint32_t shipped = 0;
      for (const Candidate& c : candidates) {
        if (c.seq > state_.deployedSeq && c.seq <= state_.targetSeq &&
            c.state == CandidateState::kWaiting) {
          out.push_back(MarkCandidate{c.seq, CandidateState::kShipped, "shipped by " + id, nowMillis});
          ++shipped;
        }
      }
      state_.deployedSeq = state_.targetSeq;
      state_.phase = state_.heldOnSeq != 0 ? Phase::kHeld : Phase::kIdle;
      out.push_back(TrainEvent{"shipped",
                               "shipped " + std::to_string(shipped) + " commit" +
                                   (shipped == 1 ? "" : "s") + " up to " + targetText + " in " +
                                   minutesText(seconds) + " (" + id + ")",
                               target ? target->commit : ""});
      return out;
    }
    // Failed at the canary: one commit is the culprit; several are bisected.
    state_.goodSeq = state_.deployedSeq;
    state_.badSeq = state_.targetSeq;
    state_.canaryRuns = 0;
    std::size_t inBatch = 0;
    for (const Candidate& c : candidates) {
      if (c.seq > state_.deployedSeq && c.seq <= state_.targetSeq) ++inBatch;
    }
    if (inBatch > 1) {
      out.push_back(TrainEvent{"bisecting",
                               "rollout " + id + " of " + std::to_string(inBatch) +
                                   " commits up to " + targetText +
                                   " failed at the canary; bisecting" +
                                   (detail.empty() ? "" : " (" + detail + ")"),
                               target ? target->commit : ""});
    }
    for (Action& a : nextBisectionStep(nowMillis, candidates)) out.push_back(std::move(a));
    return out;
  }
  // A canary-only rollout of a bisection.
  if (outcome == Outcome::kSucceeded) {
    state_.goodSeq = state_.targetSeq;
  } else {
    state_.badSeq = state_.targetSeq;
  }
  out.push_back(TrainEvent{"bisecting",
                           "canary of " + targetText + " (" + id + ") " +
                               (outcome == Outcome::kSucceeded ? "passed" : "failed") +
                               "; first bad commit is after #" + std::to_string(state_.goodSeq) +
                               " and at or before #" + std::to_string(state_.badSeq),
                           target ? target->commit : ""});
  for (Action& a : nextBisectionStep(nowMillis, candidates)) out.push_back(std::move(a));
  return out;
}

Actions Train::nextBisectionStep(std::uint64_t nowMillis, const std::vector<Candidate>& candidates) {
  // Only waiting commits are tested: bad and locked ones carry a known bad commit, and a canary
  // of them would fail for it.
  std::vector<const Candidate*> range;   // waiting commits in (good, bad]
  std::vector<const Candidate*> inside;  // of those, before `bad` and with an artifact
  bool skippedLocked = false;
  bool skippedNoArtifact = false;
  for (const Candidate& c : candidates) {
    if (c.seq <= state_.goodSeq || c.seq > state_.badSeq) continue;
    if (c.state != CandidateState::kWaiting) {
      skippedLocked = true;
      continue;
    }
    range.push_back(&c);
    if (c.seq == state_.badSeq) continue;
    if (c.hasArtifact) {
      inside.push_back(&c);
    } else {
      skippedNoArtifact = true;
    }
  }
  if (inside.empty()) {
    std::string how;
    if (skippedNoArtifact) how += " (the commits before it have no artifact of their own)";
    if (skippedLocked) how += " (or a locked commit before it, which carries a bad commit)";
    return nameBadCommit(nowMillis, candidates, how);
  }
  std::size_t total = range.size();
  // The commit splitting (good, bad] into two halves, position ceil(total / 2); else the nearest
  // one with an artifact before it, else the first with one.
  const Candidate* half = range[(total + 1) / 2 - 1];
  const Candidate* middle = inside.front();
  for (const Candidate* in : inside) {
    if (in->seq <= half->seq) middle = in;
  }
  Actions out;
  state_.phase = Phase::kStarting;
  state_.targetSeq = middle->seq;
  state_.canaryOnly = true;
  state_.startedMillis = nowMillis;
  out.push_back(TrainEvent{"bisecting",
                           "next: canary only of " + describe(*middle) + " (" +
                               std::to_string(total) + " commits left; " +
                               std::to_string(state_.canaryRuns) + " canaries so far)",
                           middle->commit});
  return out;
}

Actions Train::nameBadCommit(std::uint64_t nowMillis, const std::vector<Candidate>& candidates,
                             const std::string& how) {
  Actions out;
  const Candidate* bad = findSeq(candidates, state_.badSeq);
  if (bad == nullptr) {
    stop("bisection ended on commit #" + std::to_string(state_.badSeq) + ", not a candidate", out);
    return out;
  }
  std::string note = "first bad commit: its canary failed after " +
                     std::to_string(state_.canaryRuns) + " canary-only rollouts" + how;
  out.push_back(MarkCandidate{bad->seq, CandidateState::kBad, note, nowMillis});
  const Candidate* fix = nullptr;
  for (const Candidate& c : candidates) {
    if (isFixOf(c, *bad) && c.tests == Tests::kPassed) {
      fix = &c;
      break;
    }
  }
  for (const Candidate& c : candidates) {
    if (c.seq > bad->seq && c.state == CandidateState::kWaiting && (fix == nullptr || c.seq < fix->seq)) {
      out.push_back(MarkCandidate{c.seq, CandidateState::kLocked,
                                  "after bad commit " + shortCommit(bad->commit) + ", before its fix",
                                  nowMillis});
    }
  }
  out.push_back(TrainEvent{"bad_commit",
                           "commit " + describe(*bad) + " by " +
                               (bad->author.empty() ? "unknown" : bad->author) + " is bad: " + note +
                               (fix ? "; fixed by " + describe(*fix)
                                    : "; waiting for a commit that fixes or reverts it"),
                           bad->commit});
  state_.heldOnSeq = fix ? 0 : bad->seq;
  state_.phase = fix ? Phase::kIdle : Phase::kHeld;
  state_.canaryOnly = false;
  state_.targetSeq = 0;
  return out;
}

Actions Train::candidatesChanged(std::uint64_t nowMillis, const std::vector<Candidate>& candidates) {
  Actions out;
  if (state_.heldOnSeq == 0) return out;
  const Candidate* bad = findSeq(candidates, state_.heldOnSeq);
  if (bad == nullptr) return out;
  for (const Candidate& c : candidates) {
    if (isFixOf(c, *bad) && c.tests == Tests::kPassed && c.state == CandidateState::kWaiting) {
      out.push_back(TrainEvent{"fixed",
                               "commit " + describe(c) + " fixes bad commit " + describe(*bad) +
                                   "; the commits between them stay locked and the train goes on",
                               c.commit});
      state_.heldOnSeq = 0;
      if (state_.phase == Phase::kHeld) state_.phase = Phase::kIdle;
      return out;
    }
  }
  // Commits landing after the bad one, before its fix, carry it: locked.
  for (const Candidate& c : candidates) {
    if (c.seq > bad->seq && c.state == CandidateState::kWaiting && !isFixOf(c, *bad)) {
      out.push_back(MarkCandidate{c.seq, CandidateState::kLocked,
                                  "after bad commit " + shortCommit(bad->commit) + ", before its fix",
                                  nowMillis});
    }
  }
  return out;
}

Actions Train::enable(const std::string& who) {
  state_.enabled = true;
  return {TrainEvent{"enabled", "enabled by " + who, ""}};
}
Actions Train::disable(const std::string& who) {
  state_.enabled = false;
  return {TrainEvent{"disabled", "disabled by " + who +
                                     (state_.rolloutId.empty() ? "" : "; rollout " + state_.rolloutId +
                                                                           " goes on to its end"),
                     ""}};
}
Actions Train::pause(const std::string& who) {
  state_.paused = true;
  state_.pausedBy = who;
  return {TrainEvent{"paused", "paused by " + who, ""}};
}
Actions Train::resume(const std::string& who) {
  Actions out;
  state_.paused = false;
  state_.pausedBy.clear();
  if (state_.phase == Phase::kStopped) {
    out.push_back(TrainEvent{"resumed", "resumed by " + who + " after: " + state_.stopReason, ""});
    state_.stopReason.clear();
    state_.phase = state_.heldOnSeq != 0 ? Phase::kHeld : Phase::kIdle;
    state_.canaryOnly = false;
    state_.targetSeq = 0;
  } else {
    out.push_back(TrainEvent{"resumed", "resumed by " + who, ""});
  }
  return out;
}
Actions Train::lock(const std::string& reason, const std::string& who, std::uint64_t nowMillis) {
  state_.lock = TrainLock{reason, who, nowMillis};
  return {TrainEvent{"locked", "locked by " + who + ": " + reason, ""}};
}
Actions Train::unlock(const std::string& who) {
  std::string was = state_.lock ? state_.lock->reason : "";
  state_.lock.reset();
  return {TrainEvent{"unlocked", "unlocked by " + who + (was.empty() ? "" : " (was: " + was + ")"), ""}};
}

StatusView Train::status(std::uint64_t nowMillis, const std::vector<Candidate>& candidates,
                         const Conditions& conditions) const {
  StatusView view;
  const Candidate* target = findSeq(candidates, state_.targetSeq);
  std::string targetText = target ? describe(*target) : "#" + std::to_string(state_.targetSeq);
  if (state_.phase == Phase::kRollingOut || state_.phase == Phase::kBisecting) {
    view.moving = conditions.rolloutWaiting.empty();
    if (!conditions.rolloutWaiting.empty()) {
      view.why = "rollout " + conditions.rolloutWaiting +
                 " waits for an operator (rollgate rollout promote, resume or rollback)";
    } else if (state_.phase == Phase::kRollingOut) {
      view.why = "rolling out up to " + targetText + " as " + state_.rolloutId;
    } else {
      view.why = "bisecting: canary only of " + targetText + " as " + state_.rolloutId +
                 " (good #" + std::to_string(state_.goodSeq) + ", bad #" +
                 std::to_string(state_.badSeq) + ")";
    }
    view.next = state_.phase == Phase::kRollingOut
                    ? "on success: ship the commits up to " + targetText +
                          "; on a canary failure: bisect"
                    : "halve the range by its outcome, until one commit is left";
    return view;
  }
  std::string why = blocked(nowMillis, conditions);
  Pick p = pick(state_, config_, candidates);
  std::string wouldDo;
  if (state_.phase == Phase::kStarting) {
    wouldDo = std::string(state_.canaryOnly ? "start a canary-only rollout of " : "start a rollout of ") +
              targetText;
  } else {
    wouldDo = p.found ? "start a rollout: " + p.why : p.why;
  }
  if (!why.empty()) {
    view.why = why;
    if (state_.phase == Phase::kStopped) {
      view.next = "after rollgate train resume " + state_.service + ": " + wouldDo;
    } else if (!state_.enabled) {
      view.next = "after rollgate train enable " + state_.service + ": " + wouldDo;
    } else {
      view.next = "when that clears: " + wouldDo;
    }
    return view;
  }
  if (state_.heldOnSeq != 0) {
    const Candidate* bad = findSeq(candidates, state_.heldOnSeq);
    view.why = "held: commit " + (bad ? describe(*bad) : "#" + std::to_string(state_.heldOnSeq)) +
               " is bad" + (bad && !bad->author.empty() ? " (by " + bad->author + ")" : "");
    view.next = (p.found ? "start a rollout: " + p.why + "; then w" : "W") +
                std::string("ait for a commit that fixes or reverts it (release submit --fixes ") +
                (bad ? shortCommit(bad->commit) : "") + ") whose tests pass";
    return view;
  }
  view.why = state_.phase == Phase::kStarting ? "starting" : p.found ? "about to start" : p.why;
  view.next = p.found || state_.phase == Phase::kStarting
                  ? wouldDo
                  : "start a rollout when a candidate after the deployed commit passes its tests";
  return view;
}

}  // namespace rollgate::train
