// RelayQueue: envelopes waiting to go to the team's own Sentry, bounded by count and by bytes.
// When a new envelope does not fit, the oldest ones are dropped (and counted) to make room: the
// application is never slowed, and the newest data is what the team most likely wants. An
// envelope larger than the whole byte bound is dropped at once.
// Pure logic. Thread-safety: none (one thread owns it).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace rollgate::agent::sentry {

struct RelayItem {
  std::string service;
  bool store = false;             // true: a /store/ body; false: an envelope
  std::string contentEncoding;    // as received ("gzip", "deflate" or empty)
  std::string body;               // as received, unchanged
};

class RelayQueue {
 public:
  RelayQueue(std::size_t maxItems, std::size_t maxBytes) : maxItems_(maxItems), maxBytes_(maxBytes) {}

  // Returns how many envelopes were dropped (oldest first, or `item` itself when it alone is
  // larger than the byte bound).
  std::uint64_t push(RelayItem item);
  bool empty() const { return items_.empty(); }
  RelayItem pop();  // Requires: !empty()
  std::size_t size() const { return items_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t maxItems_;
  std::size_t maxBytes_;
  std::size_t bytes_ = 0;
  std::deque<RelayItem> items_;
};

// Token bucket: at most `perSecond` requests a second on average, bursts up to max(1, perSecond).
// Times are passed in. perSecond <= 0: unlimited.
class RateLimiter {
 public:
  explicit RateLimiter(double perSecond)
      : perSecond_(perSecond), burst_(perSecond < 1 ? 1.0 : perSecond), tokens_(burst_) {}
  // True when a request at nowMillis may pass (it takes a token).
  bool allow(std::uint64_t nowMillis);
  // Seconds until the next token, at least 1 (for Retry-After).
  std::uint64_t retryAfterSeconds() const;

 private:
  double perSecond_;
  double burst_;
  double tokens_;
  std::uint64_t lastMillis_ = 0;
  bool started_ = false;
};

}  // namespace rollgate::agent::sentry
