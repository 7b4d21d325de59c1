// A decision the coordinator sends to webhooks: built from its typed events (the event log's
// kinds and a rollout's terminal status), never from their prose. Kinds are event kinds: the
// rollout engine's (step_passed, step_failed, held, ...), the coordinator's (abort, freeze,
// unfreeze, ...), rollout_<status> when a rollout reaches a terminal status (rollout_succeeded,
// rollout_rolled_back, rollout_aborted, rollout_failed, rollout_rolled_back_incomplete) and
// train_<kind> for the release train's events (train_bad_commit, train_stopped, ...).
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rollgate::coordinator::notify {

struct Notification {
  std::string kind;
  std::string rolloutId;  // "" when not about one rollout (freeze, unfreeze)
  std::string service;
  std::string version;
  std::uint32_t step = 0;  // 1-based; 0 when not about one step
  std::string host;        // "" when not about one host
  std::string check;       // the check that failed or held the step; "" otherwise
  std::uint32_t look = 0;  // that check's look
  std::string text;        // what happened, for people
  std::uint64_t atMillis = 0;
  std::uint64_t sequence = 0;  // set by the notifier: one per notification, increasing
  bool operator==(const Notification&) const = default;
};

// The kinds sent when a webhook lists none: every decision.
const std::vector<std::string>& defaultNotificationKinds();

}  // namespace rollgate::coordinator::notify
