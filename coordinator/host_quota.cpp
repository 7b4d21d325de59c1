#include "coordinator/host_quota.h"

#include <algorithm>

namespace rollgate::coordinator {

bool TokenBucket::take(double cost, std::uint64_t nowMillis) {
  if (nowMillis > lastMillis_) {
    tokens_ = std::min(capacity_, tokens_ + rate_ * static_cast<double>(nowMillis - lastMillis_) / 1000.0);
    lastMillis_ = nowMillis;
  }
  if (tokens_ < cost) return false;
  tokens_ -= cost;
  return true;
}

HostQuotas::State& HostQuotas::state(const std::string& host, std::uint64_t nowMillis) {
  State& s = hosts_[host];
  if (!s.started && nowMillis != 0) {
    s.started = true;
    s.messages = TokenBucket(limits_.messagesPerSecond, limits_.burstSeconds, nowMillis);
    s.windows = TokenBucket(limits_.telemetryWindowsPerSecond, limits_.burstSeconds, nowMillis);
    s.bytes = TokenBucket(limits_.telemetryBytesPerSecond, limits_.burstSeconds, nowMillis);
    s.hellos = TokenBucket(kHellosPerSecond, kHelloBurst / kHellosPerSecond, nowMillis);
  }
  return s;
}

bool HostQuotas::admitMessage(const std::string& host, std::uint64_t nowMillis) {
  State& s = state(host, nowMillis);
  if (s.messages.take(1, nowMillis)) return true;
  ++s.drops.messages;
  return false;
}

bool HostQuotas::admitHello(const std::string& host, std::uint64_t nowMillis) {
  State& s = state(host, nowMillis);
  if (s.hellos.take(1, nowMillis)) return true;
  ++s.drops.messages;
  return false;
}

void HostQuotas::beginReport(const std::string& host, bool resent) {
  if (resent) hosts_[host].hole = false;
}

bool HostQuotas::admitWindow(const std::string& host, std::uint64_t bytes,
                             std::uint64_t nowMillis) {
  State& s = state(host, nowMillis);
  bool admitted = !s.hole;
  if (admitted) {
    // Both buckets must hold the window; neither is charged for a window the other refuses.
    TokenBucket windows = s.windows;
    TokenBucket bytesBucket = s.bytes;
    admitted = windows.take(1, nowMillis) && bytesBucket.take(static_cast<double>(bytes), nowMillis);
    if (admitted) {
      s.windows = windows;
      s.bytes = bytesBucket;
    }
  }
  if (!admitted) {
    s.hole = true;
    ++s.drops.telemetryWindows;
    s.drops.telemetryBytes += bytes;
  }
  return admitted;
}

bool HostQuotas::inHole(const std::string& host) const {
  auto it = hosts_.find(host);
  return it != hosts_.end() && it->second.hole;
}

HostDrops HostQuotas::dropsOf(const std::string& host) const {
  auto it = hosts_.find(host);
  return it == hosts_.end() ? HostDrops{} : it->second.drops;
}

void HostQuotas::onNewSession(const std::string& host) { hosts_[host].hole = false; }

HostDrops HostQuotas::takeUnlogged(const std::string& host) {
  const HostDrops& now = drops(host);
  HostDrops& before = logged_[host];
  HostDrops delta{now.telemetryWindows - before.telemetryWindows,
                  now.telemetryBytes - before.telemetryBytes,
                  now.messages - before.messages,
                  now.chunkReplies - before.chunkReplies,
                  now.unsolicitedResults - before.unsolicitedResults,
                  now.sessionsReplaced - before.sessionsReplaced};
  before = now;
  return delta;
}

HostDrops HostQuotas::total() const {
  HostDrops sum;
  for (const auto& [name, s] : hosts_) {
    sum.telemetryWindows += s.drops.telemetryWindows;
    sum.telemetryBytes += s.drops.telemetryBytes;
    sum.messages += s.drops.messages;
    sum.chunkReplies += s.drops.chunkReplies;
    sum.unsolicitedResults += s.drops.unsolicitedResults;
    sum.sessionsReplaced += s.drops.sessionsReplaced;
  }
  return sum;
}

std::vector<std::string> HostQuotas::hosts() const {
  std::vector<std::string> out;
  for (const auto& [name, s] : hosts_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rollgate::coordinator
