// Notifier: sends decisions to the configured webhooks from a worker thread of its own, so the
// coordinator's loop never waits on a receiver. notify() formats one delivery per webhook that
// wants the notification's kind and puts it in a bounded queue (DeliveryQueue: a full queue drops
// the oldest and counts it; the count is logged and exported on /metrics). The worker posts each
// delivery through libcurl (agent/curl), signed (payload.h); a transport error or a status other
// than 2xx is retried after backoffMillis (exponential, capped) until max_attempts, then given up
// and logged. Deliveries still queued when the coordinator stops are dropped (logged).
// Thread-safety: notify(), counts() and stop() from any thread; the worker is internal.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "common/result.h"
#include "coordinator/notify/delivery_queue.h"
#include "coordinator/notify/notification.h"
#include "coordinator/notify/notify_config.h"

namespace rollgate::coordinator::notify {

struct NotifierCounts {
  std::uint64_t queued = 0;
  std::uint64_t delivered = 0;
  std::uint64_t retried = 0;  // failed attempts tried again later
  std::uint64_t failed = 0;   // given up after the last attempt
  std::uint64_t dropped = 0;  // pushed out of the full queue
};

class Notifier {
 public:
  // One HTTP POST: the status code, or an error (connection refused, timeout...).
  using Post = std::function<Result<long>(const std::string& url,
                                          const std::vector<std::string>& headers,
                                          const std::string& body, long timeoutMillis)>;
  // The POST through libcurl.
  static Post curlPost();

  // Starts the worker. Requires: `clock` outlives this.
  Notifier(NotifyConfig config, const Clock& clock, Logger logger, Post post = curlPost());
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues `n` (its sequence is set here) for every webhook that wants its kind. Never blocks on
  // the network.
  void notify(Notification n);
  NotifierCounts counts() const;
  // Stops the worker after the attempt in flight; queued deliveries are dropped.
  void stop();

 private:
  void work();
  void dropped(const Delivery& delivery, const char* why);

  NotifyConfig config_;
  const Clock& clock_;
  Logger logger_;
  Post post_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  DeliveryQueue queue_;
  NotifierCounts counts_;
  std::uint64_t nextSequence_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace rollgate::coordinator::notify
