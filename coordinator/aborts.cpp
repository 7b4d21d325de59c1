#include "coordinator/aborts.h"

namespace rollgate::coordinator {

const AbortState& AbortTracker::open(std::uint64_t abortId, std::vector<std::string> rolloutIds,
                                     std::string reason, std::string requestedBy,
                                     std::map<std::string, std::vector<ServiceRelease>> rollBackByHost,
                                     std::set<std::string> targets, std::uint64_t nowMillis) {
  AbortState state;
  state.abort.abortId = abortId;
  state.abort.rolloutIds = std::move(rolloutIds);
  state.abort.reason = std::move(reason);
  state.rollBackByHost = std::move(rollBackByHost);
  state.createdMillis = nowMillis;
  state.requestedBy = std::move(requestedBy);
  state.targets = std::move(targets);
  return aborts_[abortId] = std::move(state);
}

bool AbortTracker::acknowledge(std::uint64_t abortId, const std::string& host,
                               std::uint64_t nowMillis) {
  auto it = aborts_.find(abortId);
  if (it == aborts_.end() || it->second.targets.count(host) == 0) return false;
  it->second.ackedAtMillis.emplace(host, nowMillis);  // the first acknowledgement counts
  return true;
}

Abort AbortTracker::messageFor(const AbortState& state, const std::string& host) const {
  Abort message = state.abort;
  auto it = state.rollBackByHost.find(host);
  if (it != state.rollBackByHost.end()) message.rollBack = it->second;
  return message;
}

std::vector<std::pair<std::uint64_t, std::string>> AbortTracker::dueResends(std::uint64_t nowMillis) {
  std::vector<std::pair<std::uint64_t, std::string>> due;
  for (auto& [id, state] : aborts_) {
    for (const auto& host : state.targets) {
      if (state.ackedAtMillis.count(host)) continue;
      auto sent = state.lastSentMillis.find(host);
      if (sent == state.lastSentMillis.end() || nowMillis >= sent->second + resendMillis_) {
        state.lastSentMillis[host] = nowMillis;
        due.emplace_back(id, host);
      }
    }
  }
  return due;
}

std::vector<std::uint64_t> AbortTracker::unacknowledgedBy(const std::string& host) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, state] : aborts_) {
    if (state.targets.count(host) && !state.ackedAtMillis.count(host)) out.push_back(id);
  }
  return out;
}

void AbortTracker::markSent(std::uint64_t abortId, const std::string& host, std::uint64_t nowMillis) {
  auto it = aborts_.find(abortId);
  if (it != aborts_.end()) it->second.lastSentMillis[host] = nowMillis;
}

const AbortState* AbortTracker::find(std::uint64_t abortId) const {
  auto it = aborts_.find(abortId);
  return it == aborts_.end() ? nullptr : &it->second;
}

bool AbortTracker::complete(std::uint64_t abortId) const {
  // Only targeted hosts are ever recorded as acknowledged, so counting is enough (this runs on
  // every acknowledgement: it must not walk the targets).
  const AbortState* state = find(abortId);
  return state == nullptr || state->ackedAtMillis.size() >= state->targets.size();
}

std::vector<std::string> AbortTracker::missing(std::uint64_t abortId) const {
  std::vector<std::string> out;
  const AbortState* state = find(abortId);
  if (state == nullptr) return out;
  for (const auto& host : state->targets) {
    if (!state->ackedAtMillis.count(host)) out.push_back(host);
  }
  return out;
}

}  // namespace rollgate::coordinator
