// The [notify] table of coordinator.toml and its [[notify.webhook]] entries
// (docs/notifications.md):
//   [notify]
//   queue_capacity = 1000          # deliveries waiting; a full queue drops the oldest
//   max_attempts = 6               # per delivery, the first included
//   initial_backoff_millis = 1000  # doubled after each failure ...
//   max_backoff_millis = 60000     # ... up to this
//   timeout_millis = 5000          # per attempt, connect included
//   [[notify.webhook]]
//   url = "https://hooks.slack.com/services/..."
//   format = "slack"               # or "json" (the default)
//   secret = "..."                 # HMAC-SHA256 key; no signature headers without one
//   kinds = ["step_failed", "rollout_rolled_back"]  # default: every decision
// Thread-safety: value types; readNotifyConfig on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "coordinator/notify/payload.h"

namespace rollgate::coordinator::notify {

struct WebhookConfig {
  std::string url;
  WebhookFormat format = WebhookFormat::kJson;
  std::string secret;
  std::vector<std::string> kinds;  // empty: defaultNotificationKinds()
  bool wants(const std::string& kind) const;
};

struct NotifyConfig {
  std::vector<WebhookConfig> webhooks;
  std::int64_t queueCapacity = 1000;
  std::int64_t maxAttempts = 6;
  std::int64_t initialBackoffMillis = 1000;
  std::int64_t maxBackoffMillis = 60'000;
  std::int64_t timeoutMillis = 5000;
};

// Reads the [notify] table (`notify` is reader.table("notify")); errors are recorded in the
// reader and name the key and value (a webhook's url must be http:// or https://, its format json
// or slack, its kinds non-empty names).
void readNotifyConfig(ConfigReader notify, NotifyConfig& config);

}  // namespace rollgate::coordinator::notify
