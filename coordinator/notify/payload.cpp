#include "coordinator/notify/payload.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "common/hex.h"

namespace rollgate::coordinator::notify {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// What happened, in a few words, by kind.
std::string what(const Notification& n) {
  const std::string step = n.step > 0 ? "step " + std::to_string(n.step) : "a step";
  if (n.kind == "step_passed") return step + " passed";
  if (n.kind == "step_failed") return step + " failed";
  if (n.kind == "held") return step + " held for an operator";
  if (n.kind == "abort") return "abort requested";
  if (n.kind == "freeze") return "fleet frozen";
  if (n.kind == "unfreeze") return "fleet unfrozen";
  if (n.kind.rfind("rollout_", 0) == 0) {
    std::string status = n.kind.substr(8);
    for (char& c : status) {
      if (c == '_') c = ' ';
    }
    return "rollout " + status;
  }
  return n.kind;
}

}  // namespace

const std::vector<std::string>& defaultNotificationKinds() {
  static const std::vector<std::string> kinds = {
      "step_passed",    "step_failed",         "held",           "rollout_succeeded",
      "rollout_rolled_back", "rollout_aborted", "rollout_failed",
      "rollout_rolled_back_incomplete", "abort", "freeze", "unfreeze",
      "train_bad_commit",    "train_stopped"};
  return kinds;
}

std::string_view toString(WebhookFormat format) {
  return format == WebhookFormat::kSlack ? "slack" : "json";
}

Result<WebhookFormat> parseWebhookFormat(std::string_view text) {
  if (text == "json") return WebhookFormat::kJson;
  if (text == "slack") return WebhookFormat::kSlack;
  return makeError("expected a webhook format (one of json, slack), got \"" + std::string(text) +
                   "\"");
}

std::string summaryLine(const Notification& n) {
  std::string subject;
  if (!n.service.empty()) subject = n.service + (n.version.empty() ? "" : " " + n.version);
  if (!n.rolloutId.empty()) {
    subject += (subject.empty() ? "rollout " : " (rollout ") + n.rolloutId +
               (subject.empty() ? "" : ")");
  }
  std::string line = subject.empty() ? what(n) : subject + ": " + what(n);
  if (!n.check.empty()) line += " (check " + n.check + ")";
  if (!n.text.empty()) line += ": " + n.text;
  return line;
}

std::string jsonBody(const Notification& n) {
  json j{{"kind", n.kind},       {"rollout", n.rolloutId}, {"service", n.service},
         {"version", n.version}, {"step", n.step},         {"host", n.host},
         {"check", n.check},     {"look", n.look},         {"text", n.text},
         {"atMillis", n.atMillis}, {"sequence", n.sequence}, {"summary", summaryLine(n)}};
  return dump(j);
}

std::string slackEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string slackBody(const Notification& n) {
  std::string context = "kind `" + slackEscape(n.kind) + "`";
  if (!n.rolloutId.empty()) context += " · rollout `" + slackEscape(n.rolloutId) + "`";
  if (n.step > 0) context += " · step " + std::to_string(n.step);
  if (!n.host.empty()) context += " · host `" + slackEscape(n.host) + "`";
  if (n.look > 0) context += " · look " + std::to_string(n.look);
  json blocks = json::array();
  blocks.push_back({{"type", "section"},
                    {"text", {{"type", "mrkdwn"}, {"text", "*rollgate* " + slackEscape(summaryLine(n))}}}});
  blocks.push_back({{"type", "context"},
                    {"elements", json::array({{{"type", "mrkdwn"}, {"text", context}}})}});
  json j{{"text", "rollgate: " + slackEscape(summaryLine(n))}, {"blocks", blocks}};
  return dump(j);
}

std::string hmacSha256Hex(const std::string& key, const std::string& data) {
  crypto_auth_hmacsha256_state state;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return toHex(mac, sizeof mac);
}

std::string signature(const std::string& secret, std::uint64_t timestampSeconds,
                      const std::string& body) {
  return "sha256=" + hmacSha256Hex(secret, std::to_string(timestampSeconds) + "." + body);
}

std::vector<std::pair<std::string, std::string>> deliveryHeaders(const std::string& kind,
                                                                 std::uint64_t sequence,
                                                                 const std::string& secret,
                                                                 std::uint64_t timestampSeconds,
                                                                 const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {kEventHeader, kind},
      {kDeliveryHeader, std::to_string(sequence)}};
  if (!secret.empty()) {
    headers.emplace_back(kTimestampHeader, std::to_string(timestampSeconds));
    headers.emplace_back(kSignatureHeader, signature(secret, timestampSeconds, body));
  }
  return headers;
}

}  // namespace rollgate::coordinator::notify
