#include "coordinator/notify/notifier.h"

#include "agent/curl/curl_library.h"
#include "coordinator/notify/payload.h"

namespace rollgate::coordinator::notify {

Notifier::Post Notifier::curlPost() {
  return [](const std::string& url, const std::vector<std::string>& headers,
            const std::string& body, long timeoutMillis) {
    return curl::curlPostStatus(url, headers, body, timeoutMillis);
  };
}

Notifier::Notifier(NotifyConfig config, const Clock& clock, Logger logger, Post post)
    : config_(std::move(config)),
      clock_(clock),
      logger_(std::move(logger)),
      post_(std::move(post)),
      queue_(static_cast<std::size_t>(config_.queueCapacity)) {
  worker_ = std::thread([this] { work(); });
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stop_ && !worker_.joinable()) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mutex_);
  if (queue_.size() > 0) {
    logger_->warn("notifications: {} webhook deliveries still queued at stop were dropped",
                  queue_.size());
  }
}

void Notifier::dropped(const Delivery& delivery, const char* why) {
  // Called with mutex_ held. The first drops in full, then one line per hundred.
  std::uint64_t count = queue_.dropped();
  if (count <= 20 || count % 100 == 0) {
    logger_->warn("notifications: dropped the {} delivery #{} to {} ({}; {} dropped so far)",
                  delivery.kind, delivery.sequence, config_.webhooks[delivery.webhook].url, why,
                  count);
  }
}

void Notifier::notify(Notification n) {
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    if (stop_) return;
    n.sequence = ++nextSequence_;
    std::uint64_t now = clock_.steadyMillis();
    for (std::size_t i = 0; i < config_.webhooks.size(); ++i) {
      const WebhookConfig& webhook = config_.webhooks[i];
      if (!webhook.wants(n.kind)) continue;
      Delivery delivery{i, n.sequence, n.kind, body(webhook.format, n), 0, now};
      if (auto old = queue_.push(std::move(delivery))) dropped(*old, "queue full");
      queued = true;
    }
  }
  if (queued) wake_.notify_all();
}

NotifierCounts Notifier::counts() const {
  std::lock_guard lock(mutex_);
  NotifierCounts counts = counts_;
  counts.queued = queue_.size();
  counts.dropped = queue_.dropped();
  return counts;
}

void Notifier::work() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    std::uint64_t now = clock_.steadyMillis();
    auto due = queue_.takeDue(now);
    if (!due) {
      auto next = queue_.nextDue();
      if (next) {
        wake_.wait_for(lock, std::chrono::milliseconds(*next > now ? *next - now : 1));
      } else {
        wake_.wait(lock);
      }
      continue;
    }
    const WebhookConfig& webhook = config_.webhooks[due->webhook];
    std::vector<std::string> headers;
    for (const auto& [name, value] : deliveryHeaders(due->kind, due->sequence, webhook.secret,
                                                     clock_.nowMillis() / 1000, due->body)) {
      headers.push_back(name + ": " + value);
    }
    lock.unlock();
    auto status = post_(webhook.url, headers, due->body, static_cast<long>(config_.timeoutMillis));
    lock.lock();
    ++due->attempts;
    if (status && *status >= 200 && *status < 300) {
      ++counts_.delivered;
      logger_->debug("notifications: delivered {} #{} to {} (attempt {})", due->kind,
                     due->sequence, webhook.url, due->attempts);
      continue;
    }
    std::string why = status ? "HTTP status " + std::to_string(*status) : status.error().message;
    if (due->attempts >= static_cast<std::uint32_t>(config_.maxAttempts)) {
      ++counts_.failed;
      logger_->error("notifications: gave up on {} #{} to {} after {} attempts: {}", due->kind,
                     due->sequence, webhook.url, due->attempts, why);
      continue;
    }
    ++counts_.retried;
    std::uint64_t wait = backoffMillis(due->attempts,
                                       static_cast<std::uint64_t>(config_.initialBackoffMillis),
                                       static_cast<std::uint64_t>(config_.maxBackoffMillis));
    logger_->warn("notifications: {} #{} to {} failed (attempt {} of {}): {}; retrying in {} ms",
                  due->kind, due->sequence, webhook.url, due->attempts, config_.maxAttempts, why,
                  wait);
    due->dueSteadyMillis = clock_.steadyMillis() + wait;
    if (auto old = queue_.pushRetry(std::move(*due))) dropped(*old, "queue full");
  }
}

}  // namespace rollgate::coordinator::notify
