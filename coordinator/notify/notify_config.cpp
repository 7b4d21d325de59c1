#include "coordinator/notify/notify_config.h"

#include <algorithm>

namespace rollgate::coordinator::notify {

bool WebhookConfig::wants(const std::string& kind) const {
  const auto& list = kinds.empty() ? defaultNotificationKinds() : kinds;
  return std::find(list.begin(), list.end(), kind) != list.end();
}

void readNotifyConfig(ConfigReader notify, NotifyConfig& config) {
  notify.get("queue_capacity", config.queueCapacity, 1, 1'000'000);
  notify.get("max_attempts", config.maxAttempts, 1, 100);
  notify.get("initial_backoff_millis", config.initialBackoffMillis, 1, 3'600'000);
  notify.get("max_backoff_millis", config.maxBackoffMillis, 1, 86'400'000);
  notify.get("timeout_millis", config.timeoutMillis, 100, 600'000);
  if (config.maxBackoffMillis < config.initialBackoffMillis) {
    notify.fail("max_backoff_millis", "must be at least initial_backoff_millis (" +
                                          std::to_string(config.initialBackoffMillis) + "), got " +
                                          std::to_string(config.maxBackoffMillis));
  }
  for (auto& table : notify.tables("webhook")) {
    WebhookConfig webhook;
    table.get("url", webhook.url);
    if (webhook.url.rfind("http://", 0) != 0 && webhook.url.rfind("https://", 0) != 0) {
      table.fail("url", "expected an http:// or https:// URL, got \"" + webhook.url + "\"");
    }
    std::string format = "json";
    table.get("format", format);
    if (auto parsed = parseWebhookFormat(format)) {
      webhook.format = *parsed;
    } else {
      table.fail("format", parsed.error().message);
    }
    table.get("secret", webhook.secret);
    table.get("kinds", webhook.kinds);
    for (const auto& kind : webhook.kinds) {
      bool valid = !kind.empty() && std::all_of(kind.begin(), kind.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
      if (!valid) {
        table.fail("kinds", "expected event kinds such as \"step_failed\" (lower case, digits, "
                            "_), got \"" + kind + "\"");
      }
    }
    config.webhooks.push_back(std::move(webhook));
  }
}

}  // namespace rollgate::coordinator::notify
