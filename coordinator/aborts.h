// AbortTracker: fleet-wide aborts as durable coordinator state. An abort is recorded before it is
// sent; each targeted host must acknowledge it; unacknowledged hosts get it again every resend
// interval and whenever they say hello, for as long as the abort is open. The broadcast channel
// is only the fast path. Pure bookkeeping (times come in as milliseconds); persistence is the
// caller's (AbortCoordinator, through the Store).
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/messages.h"

namespace rollgate::coordinator {

struct AbortState {
  Abort abort;                                       // what every host is told (rollBack per host below)
  std::map<std::string, std::vector<ServiceRelease>> rollBackByHost;
  std::uint64_t createdMillis = 0;
  std::string requestedBy;
  std::map<std::string, std::uint64_t> ackedAtMillis;  // host -> when it acknowledged
  std::set<std::string> targets;
  std::map<std::string, std::uint64_t> lastSentMillis;
};

class AbortTracker {
 public:
  explicit AbortTracker(std::uint64_t resendMillis = 1000) : resendMillis_(resendMillis) {}

  // Opens an abort for `targets` (host names). Returns its state.
  const AbortState& open(std::uint64_t abortId, std::vector<std::string> rolloutIds,
                         std::string reason, std::string requestedBy,
                         std::map<std::string, std::vector<ServiceRelease>> rollBackByHost,
                         std::set<std::string> targets, std::uint64_t nowMillis);
  // Restores an abort loaded from the store.
  void restore(AbortState state) { aborts_[state.abort.abortId] = std::move(state); }

  // Records an acknowledgement; false if the abort is unknown or the host was not targeted.
  bool acknowledge(std::uint64_t abortId, const std::string& host, std::uint64_t nowMillis);
  // The Abort message for `host` (with its own rollBack list).
  Abort messageFor(const AbortState& state, const std::string& host) const;
  // (abortId, host) pairs due for a resend at `nowMillis` (marks them sent).
  std::vector<std::pair<std::uint64_t, std::string>> dueResends(std::uint64_t nowMillis);
  // Open aborts that `host` has not acknowledged (for hello).
  std::vector<std::uint64_t> unacknowledgedBy(const std::string& host) const;
  void markSent(std::uint64_t abortId, const std::string& host, std::uint64_t nowMillis);

  const AbortState* find(std::uint64_t abortId) const;
  bool complete(std::uint64_t abortId) const;
  std::vector<std::string> missing(std::uint64_t abortId) const;
  std::uint64_t nextId() const { return aborts_.empty() ? 1 : aborts_.rbegin()->first + 1; }
  // Every abort, by id (the console shows who acknowledged and when).
  const std::map<std::uint64_t, AbortState>& all() const { return aborts_; }

 private:
  std::uint64_t resendMillis_;
  std::map<std::uint64_t, AbortState> aborts_;
};

}  // namespace rollgate::coordinator
