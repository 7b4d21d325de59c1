#include "coordinator/notify/delivery_queue.h"

#include <algorithm>

namespace rollgate::coordinator::notify {

std::uint64_t backoffMillis(std::uint32_t attempts, std::uint64_t initialMillis,
                            std::uint64_t maxMillis) {
  std::uint64_t wait = initialMillis;
  for (std::uint32_t i = 1; i < attempts && wait < maxMillis; ++i) wait *= 2;
  return std::min(wait, maxMillis);
}

std::optional<Delivery> DeliveryQueue::push(Delivery delivery) {
  std::optional<Delivery> dropped;
  if (queue_.size() >= capacity_) {
    dropped = std::move(queue_.front());
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(std::move(delivery));
  return dropped;
}

std::optional<Delivery> DeliveryQueue::pushRetry(Delivery delivery) {
  if (queue_.size() >= capacity_) {
    ++dropped_;
    return delivery;  // the retry is older than everything queued: it is the one dropped
  }
  queue_.push_front(std::move(delivery));
  return std::nullopt;
}

std::optional<Delivery> DeliveryQueue::takeDue(std::uint64_t nowSteadyMillis) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->dueSteadyMillis <= nowSteadyMillis) {
      Delivery due = std::move(*it);
      queue_.erase(it);
      return due;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> DeliveryQueue::nextDue() const {
  std::optional<std::uint64_t> next;
  for (const auto& d : queue_) {
    if (!next || d.dueSteadyMillis < *next) next = d.dueSteadyMillis;
  }
  return next;
}

}  // namespace rollgate::coordinator::notify
