// AbortCoordinator: `rollgate abort` from request to report. start() stops the rollouts, records
// the abort durably, broadcasts it (the fast, lossy path) and sends it to every targeted host on
// its own connection; acknowledgements are kept in memory as they arrive and saved once they pause
// (saveDue(), saveBatch()), so a flood of acks costs one write per abort; unacknowledged hosts get the
// abort again every resend interval and when they say hello. The operator's reply comes when
// every target has acknowledged or after kWaitMillis, with how many did and how fast.
//
// Failure policy:
//  - an abort that cannot be saved is not sent: the operator gets an error reply ("cannot record
//    the abort: ...") and the log says so (the rollouts it named are already stopping);
//  - acknowledgements that cannot be saved stay queued and are saved again at every batch until
//    they are (logged as an error when it starts failing and when it recovers); they only spare
//    hosts a re-sent abort after a restart, which agents apply at most once;
//  - the abort's entry in the event log that cannot be saved is logged as an error.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/aborts.h"
#include "coordinator/outbox.h"
#include "coordinator/registry.h"
#include "coordinator/rollouts.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class AbortCoordinator {
 public:
  static constexpr std::uint64_t kWaitMillis = 10'000;

  // Requires: every argument outlives this.
  AbortCoordinator(Store& store, Registry& registry, Rollouts& rollouts, Outbox& outbox,
                   const Clock& clock, Logger logger);

  // Loads the aborts kept in the store.
  Status restore();

  // An operator's abort. Returns an immediate reply (an error), or nothing when the reply follows
  // through the outbox to `replyTo`.
  std::optional<AdminReply> start(const std::string& operatorName, const ReplyTo& replyTo,
                                  const AbortRequest& request);
  void onAck(const std::string& host, const AckAbort& ack);
  // `host` said hello: whatever it has not acknowledged goes to it again.
  void onHello(const std::string& host);
  // Saves the aborts acknowledged since the last batch; those that cannot be saved are kept for
  // the next batch (logged when saving starts failing and when it works again).
  void saveBatch();
  // Re-sends to hosts due for it and answers operators whose wait is over.
  void tick();

  std::size_t unsaved() const { return unsaved_.size(); }
  // Whether the unsaved acknowledgements are due to be saved at `steadyMillis`: once they pause
  // for kAckQuietMillis, and at least every kMaxUnsavedMillis while they keep coming. A save
  // writes every target of the abort (10,000 at 10,000 hosts), so saving in the middle of a burst
  // of acks would hold up the acks still queued behind it, and their acknowledgement times.
  bool saveDue(std::uint64_t steadyMillis) const;
  static constexpr std::uint64_t kAckQuietMillis = 250;
  static constexpr std::uint64_t kMaxUnsavedMillis = 2000;
  const AbortTracker& tracker() const { return tracker_; }

 private:
  struct Waiter {
    ReplyTo replyTo;
    std::uint64_t deadlineMillis = 0;  // steady clock
    std::vector<std::string> stopped;  // rollouts this abort stopped
    std::vector<std::string> alreadyAborting;  // rollouts an earlier abort was undoing
  };
  void send(std::uint64_t abortId, const std::string& host);
  void finishWait(std::uint64_t abortId);

  Store& store_;
  Registry& registry_;
  Rollouts& rollouts_;
  Outbox& outbox_;
  const Clock& clock_;
  Logger logger_;
  AbortTracker tracker_;
  std::map<std::uint64_t, Waiter> waiters_;
  std::set<std::uint64_t> unsaved_;  // acknowledged since their last save
  std::uint64_t firstUnsavedAckSteady_ = 0;  // the oldest ack not saved yet (steady ms)
  std::uint64_t lastAckSteady_ = 0;
  std::uint64_t retrySteady_ = 0;  // after a failed save, the next try (kAckQuietMillis later)
  bool saveFailing_ = false;
};

}  // namespace rollgate::coordinator
