// The rollback of a rollout (part of Rollout, rollout.h): every host it changed is sent back to
// its old release; the rollout ends when all are back, when one could not be restored, or when the
// plan's rollback timeout passes with hosts still out (rolled_back_incomplete; their commands stay
// pending and switch them back when they return).
#include <algorithm>

#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout {

void Rollout::startRollback(const std::string& reason, std::uint64_t nowMillis, Actions& out) {
  state_.rollingBack = true;
  state_.rollbackStartedMillis = nowMillis;
  if (state_.endReason.empty()) state_.endReason = reason;
  for (auto& host : state_.hosts) {
    if (host.pending && host.pendingKind == CommandKind::kRestartBaseline) host.pending.reset();
    if (!host.installSent || host.rollback != RollbackState::kNone) continue;
    if (!host.pending && host.lastKnownRelease == host.fromRelease) {
      host.rollback = RollbackState::kDone;
      event(RolloutEventKind::kHostRollingBack, host.name,
            "host " + host.name + " is still on " + host.fromRelease + ": nothing to undo",
            nowMillis, out);
      continue;
    }
    host.rollback = RollbackState::kPending;
    event(RolloutEventKind::kHostRollingBack, host.name,
          "rolling back host " + host.name + " from " + state_.spec.version + " to " +
              host.fromRelease,
          nowMillis, out);
    send(host, CommandKind::kRollback, RollBackRelease{host.fromRelease, true}, nowMillis, out);
  }
  syncStatus(reason, nowMillis, out);
  finishRollbackIfDone(nowMillis, out);
}

void Rollout::finishRollbackIfDone(std::uint64_t nowMillis, Actions& out) {
  if (!state_.rollingBack || state_.finished) return;
  bool failed = false;
  for (const auto& host : state_.hosts) {
    if (host.rollback == RollbackState::kPending) return;
    if (host.rollback == RollbackState::kFailed) failed = true;
  }
  finish(failed ? RolloutStatus::kFailed
                : (state_.abortRequested ? RolloutStatus::kAborted : RolloutStatus::kRolledBack),
         nowMillis, out);
}

void Rollout::timeOutRollback(std::uint64_t nowMillis, Actions& out) {
  std::uint64_t timeoutMillis = state_.planConfig.rollbackTimeoutSeconds * 1000;
  std::uint64_t since = std::max(state_.rollbackStartedMillis, state_.resumedMillis);
  if (nowMillis <= since + timeoutMillis) return;
  std::string notBack;
  for (auto& host : state_.hosts) {
    if (host.rollback != RollbackState::kPending) continue;
    host.rollback = RollbackState::kTimedOut;
    notBack += (notBack.empty() ? "" : ", ") + host.name + " (on " + host.lastKnownRelease + ")";
    event(RolloutEventKind::kHostRolledBack, host.name,
          "host " + host.name + " did not answer its rollback to " + host.fromRelease + " within " +
              std::to_string(state_.planConfig.rollbackTimeoutSeconds) +
              " s; it is switched back when it returns",
          nowMillis, out);
  }
  if (notBack.empty()) return;
  state_.endReason = "the rollback did not reach " + notBack + " within " +
                     std::to_string(state_.planConfig.rollbackTimeoutSeconds) +
                     " s (switched back when it returns); " + state_.endReason;
  finish(RolloutStatus::kRolledBackIncomplete, nowMillis, out);
}

}  // namespace rollgate::rollout
