// DeliveryQueue: the webhook deliveries waiting to be sent, bounded. Adding to a full queue drops
// the oldest delivery and counts it (a notification storm never grows memory or blocks the
// coordinator's loop). Each delivery has the time it is due (now for a first attempt, later for a
// retry: backoffMillis). Pure bookkeeping: times are steady milliseconds passed in.
// Thread-safety: none (the Notifier serialises it under its mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace rollgate::coordinator::notify {

struct Delivery {
  std::size_t webhook = 0;     // index into the configured webhooks
  std::uint64_t sequence = 0;  // the notification's sequence
  std::string kind;
  std::string body;
  std::uint32_t attempts = 0;  // made so far
  std::uint64_t dueSteadyMillis = 0;
};

// The wait before attempt `attempts` + 1 after `attempts` failed ones: initial, 2x, 4x, ...
// capped at `maxMillis`. Requires: attempts >= 1.
std::uint64_t backoffMillis(std::uint32_t attempts, std::uint64_t initialMillis,
                            std::uint64_t maxMillis);

class DeliveryQueue {
 public:
  explicit DeliveryQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Adds `delivery` at the back; a full queue first drops its oldest. Returns the delivery
  // dropped, if any.
  std::optional<Delivery> push(Delivery delivery);
  // Puts a delivery to retry back in (at the front: it is older than anything queued after it);
  // a full queue drops it or its oldest the same way.
  std::optional<Delivery> pushRetry(Delivery delivery);
  // The oldest delivery due at `nowSteadyMillis`, taken out.
  std::optional<Delivery> takeDue(std::uint64_t nowSteadyMillis);
  // When the next delivery is due; nothing when empty.
  std::optional<std::uint64_t> nextDue() const;

  std::size_t size() const { return queue_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::size_t capacity_;
  std::deque<Delivery> queue_;  // oldest first
  std::uint64_t dropped_ = 0;
};

}  // namespace rollgate::coordinator::notify
