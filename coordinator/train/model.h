// The release train's model: candidates (commits CI submitted, in commit order per service), the
// train's configuration and its durable state. Plain values with JSON forms (model_json.cpp) that
// the store keeps; the TOML configuration is parsed here too.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "coordinator/train/calendar.h"

namespace rollgate::train {

enum class Tests : std::uint8_t { kPending, kPassed, kFailed };
std::string_view testsName(Tests tests);
Result<Tests> parseTests(std::string_view text);  // passed | failed | pending

enum class CandidateState : std::uint8_t {
  kWaiting,  // not on every host yet
  kShipped,  // on every host (itself or a later commit)
  kBad,      // named by a bisection or a failed one-commit canary
  kLocked,   // after a bad commit and before its fix: never deployed alone
};
std::string_view candidateStateName(CandidateState state);
Result<CandidateState> parseCandidateState(std::string_view text);

struct Candidate {
  std::uint64_t seq = 0;  // commit order within the service, from 1
  std::string service;
  std::string version;  // the artifact's version
  std::string commit;
  std::string parent;
  std::string author;
  std::string title;
  std::string fixes;  // the commit this one fixes or reverts ("" for none)
  Tests tests = Tests::kPending;
  bool hasArtifact = true;  // its own artifact is in the store (bisection needs it)
  CandidateState state = CandidateState::kWaiting;
  std::string note;  // why it is bad, locked or shipped ("first bad commit: canary of r-7 failed")
  std::uint64_t submittedMillis = 0;
  std::uint64_t shippedMillis = 0;
  bool operator==(const Candidate&) const = default;
};

struct TrainConfig {
  std::uint32_t cap = 3;        // commits per rollout without a backlog
  std::uint32_t hardCap = 10;   // never more per rollout
  std::uint64_t goalSeconds = 1800;  // every commit out within this, backlog or not
  // What a rollout is taken to last until the train has measured some.
  std::uint64_t expectedRolloutSeconds = 600;
  std::uint32_t measuredRollouts = 5;  // the average of this many recent rollouts is used
  DeployCalendar calendar;
  std::string toml;  // the text it came from (kept with the train's state)
};

// [train] cap, hard_cap, goal_minutes, expected_rollout_minutes, measured_rollouts;
// [window] time_zone, open = ["mon-fri 09:00-17:00"]; [[freeze]] from, until, reason.
// Errors name the source, the key and the value.
Result<TrainConfig> parseTrainConfig(const std::string& tomlText, const std::string& sourceName);

enum class Phase : std::uint8_t {
  kIdle,        // waiting for something to ship (or for a condition to clear)
  kStarting,    // a rollout was decided and is being started
  kRollingOut,  // a rollout of `target` to every host is running
  kBisecting,   // a canary-only rollout of a commit inside a failed batch is running
  kHeld,        // a bad commit is named: waiting for a fix whose tests pass
  kStopped,     // something abnormal: waiting for an operator (`train resume`)
};
std::string_view phaseName(Phase phase);

struct TrainLock {
  std::string reason;
  std::string author;
  std::uint64_t atMillis = 0;
  bool operator==(const TrainLock&) const = default;
};

struct TrainState {
  std::string service;
  bool enabled = false;
  bool paused = false;
  std::string pausedBy;
  std::optional<TrainLock> lock;
  Phase phase = Phase::kIdle;
  std::uint64_t deployedSeq = 0;  // the newest commit on every host (0: none yet)
  // The rollout in flight (kStarting, kRollingOut, kBisecting).
  std::string rolloutId;
  std::uint64_t targetSeq = 0;
  bool canaryOnly = false;
  std::uint64_t startedMillis = 0;
  // Bisection of a failed batch: goodSeq passed (or is deployed), badSeq failed its canary.
  std::uint64_t goodSeq = 0;
  std::uint64_t badSeq = 0;
  std::uint32_t canaryRuns = 0;
  std::uint64_t heldOnSeq = 0;  // kHeld: the bad commit
  std::string stopReason;       // kStopped: why
  std::vector<std::uint64_t> recentRolloutSeconds;  // newest last
  std::string planToml;
  std::string gatesToml;
  std::string configToml;
  bool operator==(const TrainState&) const = default;
};

std::string toJson(const TrainState& state);
Result<TrainState> trainStateFromJson(const std::string& json);
std::string toJson(const Candidate& candidate);
Result<Candidate> candidateFromJson(const std::string& json);

}  // namespace rollgate::train
