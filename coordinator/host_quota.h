// HostQuotas: what each host key may cost the coordinator per second ([limits] in
// coordinator.toml): messages of any kind (checked before decoding, so a flood costs only a
// counter), and telemetry windows and bytes (checked per window as reports arrive). Each limit is a
// token bucket holding `burstSeconds` of its rate, so a reconnecting agent's backlog goes through
// while a host sending without pause gets the rate and no more. What goes over is dropped and
// counted per host (HostDrops, shown by `rollgate hosts`); nothing over quota is stored.
//
// Telemetry holes: once a window of a host is dropped, every later window of that host is dropped
// too until its agent re-sends from its oldest unacknowledged window (a report marked `resent`),
// so the sequence the coordinator acknowledges never passes a window it did not store.
//
// Pure logic: no I/O; time comes in as arguments (steady milliseconds).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/messages.h"

namespace rollgate::coordinator {

struct QuotaLimits {
  double telemetryWindowsPerSecond = 20;
  double telemetryBytesPerSecond = 1 << 20;
  double messagesPerSecond = 1000;
  double burstSeconds = 30;
};

// A token bucket: `ratePerSecond` tokens a second, at most ratePerSecond * burstSeconds held.
// Starts full.
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double ratePerSecond, double burstSeconds, std::uint64_t nowMillis)
      : rate_(ratePerSecond), capacity_(ratePerSecond * burstSeconds), tokens_(capacity_),
        lastMillis_(nowMillis) {}
  // Takes `cost` tokens if the bucket holds them; false (and nothing taken) otherwise.
  bool take(double cost, std::uint64_t nowMillis);
  double tokens() const { return tokens_; }

 private:
  double rate_ = 0;
  double capacity_ = 0;
  double tokens_ = 0;
  std::uint64_t lastMillis_ = 0;
};

class HostQuotas {
 public:
  explicit HostQuotas(QuotaLimits limits) : limits_(limits) {}

  // A message of any kind from `host`: false when over its message quota (counted as dropped).
  bool admitMessage(const std::string& host, std::uint64_t nowMillis);

  // A hello from `host` (each costs writes to the store): at most kHellosPerSecond, with a burst
  // of kHelloBurst; false (counted as a dropped message) beyond.
  bool admitHello(const std::string& host, std::uint64_t nowMillis);
  static constexpr double kHellosPerSecond = 1;
  static constexpr double kHelloBurst = 5;

  // A telemetry report from `host` starts; `resent` clears the host's hole.
  void beginReport(const std::string& host, bool resent);
  // One window of `bytes` from `host`: false when it is dropped (over quota, or in a hole).
  bool admitWindow(const std::string& host, std::uint64_t bytes, std::uint64_t nowMillis);
  // Whether windows of `host` are being dropped until its agent re-sends.
  bool inHole(const std::string& host) const;
  // A new session: the agent re-sends everything unacknowledged, so the hole closes.
  void onNewSession(const std::string& host);

  // The counters of `host` (created at zero).
  HostDrops& drops(const std::string& host) { return state(host, 0).drops; }
  // The counters of `host`; zero for a host never counted.
  HostDrops dropsOf(const std::string& host) const;
  // For one log line per host per minute: the drops of `host` since the last call, and marks
  // them as logged. All zero when nothing new was dropped.
  HostDrops takeUnlogged(const std::string& host);
  // Every host's drops summed (/metrics).
  HostDrops total() const;
  std::vector<std::string> hosts() const;

 private:
  struct State {
    bool started = false;
    TokenBucket messages;
    TokenBucket windows;
    TokenBucket bytes;
    TokenBucket hellos;
    bool hole = false;
    HostDrops drops;
  };
  State& state(const std::string& host, std::uint64_t nowMillis);

  QuotaLimits limits_;
  // Enrolled keys only: the allowlist comes first. Hashed: looked up for every message.
  std::unordered_map<std::string, State> hosts_;
  std::map<std::string, HostDrops> logged_;  // the drops already logged, per host
};

}  // namespace rollgate::coordinator
