// LeaderLease: which of the coordinators sharing one PostgreSQL leads. One row of
// `rollgate_lease` holds the leader's epoch, its instance token, its advertised admin endpoint
// and when the lease expires, in the server's clock (so coordinators' clocks never have to agree).
// `rollgate_consoles` holds each coordinator's console address, written when it opens the lease
// (a table of its own: the lease row's table is never altered under a running leader).
//
// - tryAcquire(): a standby takes the lease only once it has expired (or was never taken), and
//   the epoch goes up by one in the same UPDATE: the epoch is the fencing token. Every write the
//   leader's PostgresStore makes first checks, in the same transaction and holding a share lock on
//   the row, that the lease is still its own epoch and unexpired (rollgate_fence()), so a leader
//   that lost the lease cannot write, and a takeover waits for a write in flight to commit.
// - A thread renews the lease every lease/4 on its own connection (every 200 ms after a failure).
//   A renewal that started at steady time t proves the lease until at least t + lease (the server
//   set its expiry later than t); valid() is true until t + lease - margin. The coordinator checks
//   valid() before it sends any command or broadcast and steps down when it turns false, so a
//   leader that cannot reach PostgreSQL stops sending before its lease can expire and anyone else
//   can take it.
// - Session-level advisory locks are not used: they outlive a dead client on the server, stack,
//   and carry no token an agent could check.
//
// Thread-safety: tryAcquire(), startRenewing() and info() from the owner's thread; valid() and
// lost() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/store/pg.h"

namespace rollgate::coordinator {

struct LeaseSettings {
  std::string url;             // postgresql://...
  std::string coordinatorId;   // shown to operators; the instance token adds the pid and a nonce
  std::string adminEndpoint;   // advertised to the CLI by standbys
  std::uint64_t leaseMillis = 10'000;
  std::string consoleUrl;  // its console for operators ("" without one): standbys send them there
};

class LeaderLease {
 public:
  // Connects and creates the lease table and the fence function when missing. Fails with
  // PostgreSQL's message and the URL without its password, or when the schema is from a newer
  // rollgate.
  static Result<std::unique_ptr<LeaderLease>> open(const LeaseSettings& settings,
                                                   const Clock& clock);
  ~LeaderLease();
  LeaderLease(const LeaderLease&) = delete;
  LeaderLease& operator=(const LeaderLease&) = delete;

  // Takes the lease if it is free or expired: the new epoch. Nothing when another coordinator
  // holds it. Errors: PostgreSQL unreachable (the caller retries).
  Result<std::optional<std::uint64_t>> tryAcquire();
  // Who holds the lease now, as the row says (held or expired); nothing before anyone took it.
  Result<std::optional<LeaderInfo>> current();
  // Starts the renewal thread. Requires: tryAcquire() returned an epoch.
  void startRenewing();
  // Stops renewing and, while still valid, gives the lease up at once (a clean shutdown lets a
  // standby take over without waiting for the expiry).
  void release();

  // True while this coordinator's lease is proven valid at `steadyMillis` (see above).
  bool valid(std::uint64_t steadyMillis) const;
  // True once a renewal found the lease taken or expired, or the proof ran out.
  bool lost(std::uint64_t steadyMillis) const { return epoch_ != 0 && !valid(steadyMillis); }
  std::uint64_t epoch() const { return epoch_; }
  const std::string& holder() const { return holder_; }
  LeaderInfo info() const;
  const LeaseSettings& settings() const { return settings_; }
  // Why the lease was lost, once lost (for the step-down log line).
  std::string lostReason() const;

 private:
  LeaderLease(LeaseSettings settings, const Clock& clock, std::unique_ptr<pg::Connection> conn);
  void renewLoop();

  LeaseSettings settings_;
  const Clock& clock_;
  std::unique_ptr<pg::Connection> conn_;  // tryAcquire()/current() before renewing, then the thread's
  std::string holder_;
  std::uint64_t epoch_ = 0;
  std::uint64_t sinceMillis_ = 0;
  std::atomic<std::uint64_t> validUntilSteady_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string lostReason_;  // guarded by mutex_
};

// The SQL of the lease and fence (the PostgresStore creates the same objects; either may run
// first).
Status createLeaseSchema(pg::Connection& conn);

}  // namespace rollgate::coordinator
