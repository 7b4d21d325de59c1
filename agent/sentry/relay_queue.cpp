#include "agent/sentry/relay_queue.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace rollgate::agent::sentry {

std::uint64_t RelayQueue::push(RelayItem item) {
  if (item.body.size() > maxBytes_ || maxItems_ == 0) return 1;
  std::uint64_t dropped = 0;
  while (!items_.empty() &&
         (items_.size() >= maxItems_ || bytes_ + item.body.size() > maxBytes_)) {
    bytes_ -= items_.front().body.size();
    items_.pop_front();
    ++dropped;
  }
  bytes_ += item.body.size();
  items_.push_back(std::move(item));
  return dropped;
}

RelayItem RelayQueue::pop() {
  ROLLGATE_CHECK(!items_.empty(), "pop() of an empty relay queue");
  RelayItem item = std::move(items_.front());
  items_.pop_front();
  bytes_ -= item.body.size();
  return item;
}

bool RateLimiter::allow(std::uint64_t nowMillis) {
  if (perSecond_ <= 0) return true;
  if (started_ && nowMillis > lastMillis_) {
    tokens_ = std::min(burst_, tokens_ + perSecond_ * static_cast<double>(nowMillis - lastMillis_) / 1000.0);
  }
  if (!started_ || nowMillis > lastMillis_) lastMillis_ = nowMillis;
  started_ = true;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::uint64_t RateLimiter::retryAfterSeconds() const {
  if (perSecond_ <= 0) return 1;
  double seconds = std::ceil((1.0 - tokens_) / perSecond_);
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(seconds));
}

}  // namespace rollgate::agent::sentry
