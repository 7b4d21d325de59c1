// Webhook bodies and signatures, pure. Two formats: Slack's incoming-webhook message (`text` for
// notifications and clients without blocks, plus `blocks`: a section in mrkdwn and a context
// line) and rollgate's plain JSON (one object with the notification's typed fields).
// The signature is HMAC-SHA256 with the webhook's secret over "<timestamp>.<body>", sent as
//   X-Rollgate-Timestamp: <Unix seconds>
//   X-Rollgate-Signature: sha256=<lower-case hex>
// so a receiver can check both who sent a body and that it is not an old one replayed
// (docs/notifications.md shows how to verify).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "coordinator/notify/notification.h"

namespace rollgate::coordinator::notify {

enum class WebhookFormat : std::uint8_t { kJson, kSlack };
std::string_view toString(WebhookFormat format);
// "json" or "slack"; an error names the value.
Result<WebhookFormat> parseWebhookFormat(std::string_view text);

// One line for people: "web 1.2.0 (rollout r3): step 1 failed: ...".
std::string summaryLine(const Notification& n);
std::string jsonBody(const Notification& n);
std::string slackBody(const Notification& n);
inline std::string body(WebhookFormat format, const Notification& n) {
  return format == WebhookFormat::kSlack ? slackBody(n) : jsonBody(n);
}
// `text` with Slack's control characters escaped (&, <, >).
std::string slackEscape(const std::string& text);

// HMAC-SHA256 of `data` with `key`, lower-case hex.
std::string hmacSha256Hex(const std::string& key, const std::string& data);

inline constexpr const char* kSignatureHeader = "X-Rollgate-Signature";
inline constexpr const char* kTimestampHeader = "X-Rollgate-Timestamp";
inline constexpr const char* kEventHeader = "X-Rollgate-Event";
inline constexpr const char* kDeliveryHeader = "X-Rollgate-Delivery";

// "sha256=" + hmacSha256Hex(secret, timestamp + "." + body).
std::string signature(const std::string& secret, std::uint64_t timestampSeconds,
                      const std::string& body);

// The headers of one delivery (content type, event, delivery id, and with a secret the timestamp
// and signature).
std::vector<std::pair<std::string, std::string>> deliveryHeaders(const std::string& kind,
                                                                 std::uint64_t sequence,
                                                                 const std::string& secret,
                                                                 std::uint64_t timestampSeconds,
                                                                 const std::string& body);

}  // namespace rollgate::coordinator::notify
