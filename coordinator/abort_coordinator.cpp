#include "coordinator/abort_coordinator.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace rollgate::coordinator {

AbortCoordinator::AbortCoordinator(Store& store, Registry& registry, Rollouts& rollouts,
                                   Outbox& outbox, const Clock& clock, Logger logger)
    : store_(store),
      registry_(registry),
      rollouts_(rollouts),
      outbox_(outbox),
      clock_(clock),
      logger_(std::move(logger)) {}

Status AbortCoordinator::restore() {
  auto aborts = store_.loadAborts();
  if (!aborts) return aborts.error();
  for (auto& abort : *aborts) tracker_.restore(std::move(abort));
  return {};
}

std::optional<AdminReply> AbortCoordinator::start(const std::string& operatorName,
                                                  const ReplyTo& replyTo,
                                                  const AbortRequest& request) {
  AdminReply reply;
  std::uint64_t now = clock_.nowMillis();
  std::vector<std::string> rolloutIds;
  std::set<std::string> targets;
  if (!request.all && !rollouts_.exists(request.rolloutId)) {
    reply.body = AdminError{"no rollout " + request.rolloutId};
    return reply;
  }
  if (!request.all) rolloutIds.push_back(request.rolloutId);
  // The rollouts stop and switch back what they changed (rollback commands, re-sent until done).
  Rollouts::AbortOutcome stopped = rollouts_.abort(rolloutIds, operatorName, request.reason);
  std::map<std::string, std::vector<ServiceRelease>> rollBack = std::move(stopped.hosts);
  for (const auto& [host, services] : rollBack) targets.insert(host);
  if (request.all) {
    // Every host is told: whatever is in flight anywhere stops.
    for (const auto& host : registry_.list(now)) targets.insert(host.name);
  }
  std::uint64_t abortId = std::max<std::uint64_t>(tracker_.nextId(), now);
  const AbortState& state = tracker_.open(abortId, rolloutIds, request.reason, operatorName,
                                          std::move(rollBack), std::move(targets), now);
  // Durable before anything is sent.
  if (auto status = store_.saveAbort(state); !status) {
    logger_->error("operator {}: abort {} of {} NOT sent: cannot record it: {}", operatorName,
                   abortId, request.all ? "every rollout" : request.rolloutId,
                   status.error().message);
    reply.body = AdminError{"cannot record the abort: " + status.error().message};
    return reply;
  }
  auto names = [](const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out.empty() ? std::string("none") : out;
  };
  logger_->warn(
      "operator {}: ABORT {} of {} ({}): stopped rollouts {}; already aborting {}; {} hosts to "
      "acknowledge",
      operatorName, abortId, request.all ? "every rollout" : request.rolloutId,
      request.reason.empty() ? "no reason given" : request.reason, names(stopped.stopped),
      names(stopped.alreadyAborting), state.targets.size());
  EventRecord event{now, "abort", "", request.rolloutId,
                    "abort " + std::to_string(abortId) + " by " + operatorName + ": " +
                        request.reason + "; stopped rollouts " + names(stopped.stopped) +
                        "; already aborting " + names(stopped.alreadyAborting)};
  if (auto status = store_.recordEvent(event); !status) {
    logger_->error("abort {}: cannot record it in the event log: {}", abortId,
                   status.error().message);
  }
  Broadcast fast;
  fast.body = state.abort;
  outbox_.broadcast(std::move(fast));
  for (const auto& host : state.targets) send(abortId, host);
  waiters_[abortId] = Waiter{replyTo, clock_.steadyMillis() + kWaitMillis,
                             std::move(stopped.stopped), std::move(stopped.alreadyAborting)};
  if (tracker_.complete(abortId)) finishWait(abortId);
  return std::nullopt;
}

void AbortCoordinator::send(std::uint64_t abortId, const std::string& host) {
  const AbortState* state = tracker_.find(abortId);
  auto routingId = registry_.routingIdOf(host);
  if (state == nullptr || !routingId) return;  // handed over when the host says hello
  tracker_.markSent(abortId, host, clock_.nowMillis());
  outbox_.toAgent(*routingId, tracker_.messageFor(*state, host));
}

void AbortCoordinator::onHello(const std::string& host) {
  for (std::uint64_t abortId : tracker_.unacknowledgedBy(host)) send(abortId, host);
}

void AbortCoordinator::onAck(const std::string& host, const AckAbort& ack) {
  if (!tracker_.acknowledge(ack.abortId, host, clock_.nowMillis())) return;
  lastAckSteady_ = clock_.steadyMillis();
  if (unsaved_.empty()) firstUnsavedAckSteady_ = lastAckSteady_;
  unsaved_.insert(ack.abortId);  // saved once the acks pause (saveDue(), saveBatch())
  if (waiters_.count(ack.abortId) && tracker_.complete(ack.abortId)) finishWait(ack.abortId);
}

bool AbortCoordinator::saveDue(std::uint64_t steadyMillis) const {
  return !unsaved_.empty() && steadyMillis >= retrySteady_ &&
         (steadyMillis >= lastAckSteady_ + kAckQuietMillis ||
          steadyMillis >= firstUnsavedAckSteady_ + kMaxUnsavedMillis);
}

void AbortCoordinator::saveBatch() {
  Status result;
  for (auto it = unsaved_.begin(); it != unsaved_.end();) {
    const AbortState* state = tracker_.find(*it);
    if (state == nullptr) {
      it = unsaved_.erase(it);
      continue;
    }
    if (auto status = store_.saveAbort(*state); !status) {
      if (result) result = makeError("abort " + std::to_string(*it) + ": " + status.error().message);
      ++it;
      continue;
    }
    it = unsaved_.erase(it);
  }
  if (!result && !saveFailing_) {
    logger_->error("cannot save abort acknowledgements (kept in memory, saved again at every "
                   "batch): {}",
                   result.error().message);
  } else if (result && saveFailing_) {
    logger_->warn("abort acknowledgements are saved again");
  }
  saveFailing_ = !result;
  if (!result) retrySteady_ = clock_.steadyMillis() + kAckQuietMillis;
}

void AbortCoordinator::tick() {
  std::uint64_t wall = clock_.nowMillis();
  for (const auto& [abortId, host] : tracker_.dueResends(wall)) {
    if (auto routingId = registry_.routingIdOf(host)) {
      const AbortState* state = tracker_.find(abortId);
      outbox_.toAgent(*routingId, tracker_.messageFor(*state, host));
    }
  }
  std::uint64_t now = clock_.steadyMillis();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto current = it++;
    if (now >= current->second.deadlineMillis) finishWait(current->first);
  }
}

void AbortCoordinator::finishWait(std::uint64_t abortId) {
  auto waiter = waiters_.find(abortId);
  const AbortState* state = tracker_.find(abortId);
  if (waiter == waiters_.end() || state == nullptr) return;
  std::vector<std::uint64_t> latencies;
  for (const auto& [host, at] : state->ackedAtMillis) latencies.push_back(at - state->createdMillis);
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double q) -> std::uint64_t {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * (latencies.size() - 1) + 0.5))];
  };
  nlohmann::json json = {{"abort_id", abortId},
                         {"reason", state->abort.reason},
                         {"rollouts", state->abort.rolloutIds},
                         {"stopped", waiter->second.stopped},
                         {"already_aborting", waiter->second.alreadyAborting},
                         {"targets", state->targets.size()},
                         {"acknowledged", state->ackedAtMillis.size()},
                         {"missing", tracker_.missing(abortId)},
                         {"elapsed_ms", clock_.nowMillis() - state->createdMillis},
                         {"ack_ms",
                          {{"p50", percentile(0.5)},
                           {"p99", percentile(0.99)},
                           {"max", latencies.empty() ? 0 : latencies.back()}}}};
  AdminReply reply;
  reply.body = JsonDocument{json.dump()};
  outbox_.toAdmin(waiter->second.replyTo, std::move(reply));
  waiters_.erase(waiter);
  logger_->warn("abort {}: {} of {} hosts acknowledged{}", abortId, state->ackedAtMillis.size(),
                state->targets.size(),
                tracker_.complete(abortId) ? "" : "; the rest get it when they come back");
}

}  // namespace rollgate::coordinator
