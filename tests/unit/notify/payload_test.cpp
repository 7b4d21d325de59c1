// Webhook payloads and signatures, the delivery queue and the [notify] config, as pure logic.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "coordinator/notify/delivery_queue.h"
#include "coordinator/notify/notify_config.h"
#include "coordinator/notify/payload.h"

using namespace rollgate::coordinator::notify;
using nlohmann::json;

namespace {

Notification failedStep() {
  Notification n;
  n.kind = "step_failed";
  n.rolloutId = "r12";
  n.service = "web";
  n.version = "1.2.0";
  n.step = 1;
  n.check = "http_5xx_ratio";
  n.look = 3;
  n.text = "canary <eu-a-1> 5xx ratio 4.1% > 0.2% & rising";
  n.atMillis = 1'700'000'000'000;
  n.sequence = 9;
  return n;
}

}  // namespace

TEST_CASE("HMAC-SHA256 matches RFC 4231's test vectors") {
  // Test case 2: a short key.
  CHECK(hmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size (131 bytes of 0xaa).
  CHECK(hmacSha256Hex(std::string(131, '\xaa'),
                      "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("the signature covers the timestamp and the body") {
  std::string body = R"({"kind":"held"})";
  std::string sig = signature("s3cret", 1700000000, body);
  CHECK(sig == "sha256=" + hmacSha256Hex("s3cret", "1700000000." + body));
  CHECK(sig != signature("s3cret", 1700000001, body));
  CHECK(sig != signature("other", 1700000000, body));
  auto headers = deliveryHeaders("held", 4, "s3cret", 1700000000, body);
  auto header = [&](const std::string& name) {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return std::string("<absent>");
  };
  CHECK(header("X-Rollgate-Signature") == sig);
  CHECK(header("X-Rollgate-Timestamp") == "1700000000");
  CHECK(header("X-Rollgate-Event") == "held");
  CHECK(header("X-Rollgate-Delivery") == "4");
  CHECK(header("Content-Type") == "application/json");
  // Without a secret: no signature headers at all.
  auto unsigned_ = deliveryHeaders("held", 4, "", 1700000000, body);
  for (const auto& [n, v] : unsigned_) {
    CHECK(n != "X-Rollgate-Signature");
    CHECK(n != "X-Rollgate-Timestamp");
  }
}

TEST_CASE("Slack format: text, then a mrkdwn section and a context line, escaped") {
  json slack = json::parse(slackBody(failedStep()));
  REQUIRE(slack["text"].is_string());
  CHECK(slack["text"] ==
        "rollgate: web 1.2.0 (rollout r12): step 1 failed (check http_5xx_ratio): canary "
        "&lt;eu-a-1&gt; 5xx ratio 4.1% &gt; 0.2% &amp; rising");
  REQUIRE(slack["blocks"].is_array());
  REQUIRE(slack["blocks"].size() == 2);
  CHECK(slack["blocks"][0]["type"] == "section");
  CHECK(slack["blocks"][0]["text"]["type"] == "mrkdwn");
  CHECK(slack["blocks"][0]["text"]["text"].get<std::string>().rfind("*rollgate* web 1.2.0", 0) == 0);
  CHECK(slack["blocks"][1]["type"] == "context");
  REQUIRE(slack["blocks"][1]["elements"].is_array());
  CHECK(slack["blocks"][1]["elements"][0]["type"] == "mrkdwn");
  CHECK(slack["blocks"][1]["elements"][0]["text"] ==
        "kind `step_failed` · rollout `r12` · step 1 · look 3");
  // Only Slack's three control characters are escaped.
  CHECK(slackEscape("a&b<c>d*e_") == "a&amp;b&lt;c&gt;d*e_");
}

TEST_CASE("JSON format: the notification's typed fields and a summary") {
  json j = json::parse(jsonBody(failedStep()));
  CHECK(j["kind"] == "step_failed");
  CHECK(j["rollout"] == "r12");
  CHECK(j["service"] == "web");
  CHECK(j["version"] == "1.2.0");
  CHECK(j["step"] == 1);
  CHECK(j["check"] == "http_5xx_ratio");
  CHECK(j["look"] == 3);
  CHECK(j["atMillis"] == 1'700'000'000'000ULL);
  CHECK(j["sequence"] == 9);
  CHECK(j["text"] == failedStep().text);  // unescaped: JSON needs no more than its own escaping
  CHECK(j["summary"].get<std::string>().find("step 1 failed") != std::string::npos);
}

TEST_CASE("summaries by kind") {
  Notification n;
  n.kind = "freeze";
  n.text = "incident 42";
  CHECK(summaryLine(n) == "fleet frozen: incident 42");
  n = Notification{};
  n.kind = "rollout_rolled_back";
  n.rolloutId = "r3";
  n.service = "api";
  n.version = "2.0.0";
  CHECK(summaryLine(n) == "api 2.0.0 (rollout r3): rollout rolled back");
  n.kind = "held";
  n.step = 2;
  CHECK(summaryLine(n) == "api 2.0.0 (rollout r3): step 2 held for an operator");
}

TEST_CASE("backoff doubles from the initial wait up to the cap") {
  CHECK(backoffMillis(1, 100, 1000) == 100);
  CHECK(backoffMillis(2, 100, 1000) == 200);
  CHECK(backoffMillis(3, 100, 1000) == 400);
  CHECK(backoffMillis(4, 100, 1000) == 800);
  CHECK(backoffMillis(5, 100, 1000) == 1000);
  CHECK(backoffMillis(60, 100, 1000) == 1000);  // no overflow
}

TEST_CASE("the delivery queue drops its oldest when full and counts it") {
  DeliveryQueue queue(3);
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    auto dropped = queue.push(Delivery{0, seq, "held", "{}", 0, 0});
    if (seq <= 3) {
      CHECK(!dropped);
    } else {
      REQUIRE(dropped);
      CHECK(dropped->sequence == seq - 3);
    }
  }
  CHECK(queue.size() == 3);
  CHECK(queue.dropped() == 2);
  // Oldest due first; a retry not yet due waits while later ones go.
  auto first = queue.takeDue(0);
  REQUIRE(first);
  CHECK(first->sequence == 3);
  first->dueSteadyMillis = 500;
  CHECK(!queue.pushRetry(*first));
  auto next = queue.takeDue(100);
  REQUIRE(next);
  CHECK(next->sequence == 4);
  CHECK(queue.nextDue() == 0u);
  CHECK(queue.takeDue(100)->sequence == 5);
  CHECK(queue.nextDue() == 500u);
  CHECK(!queue.takeDue(499));
  CHECK(queue.takeDue(500)->sequence == 3);
  CHECK(!queue.nextDue());
  // A retry into a full queue is itself the oldest: it is the one dropped.
  DeliveryQueue full(1);
  full.push(Delivery{0, 1, "held", "{}", 0, 0});
  auto droppedRetry = full.pushRetry(Delivery{0, 0, "held", "{}", 1, 0});
  REQUIRE(droppedRetry);
  CHECK(droppedRetry->sequence == 0);
  CHECK(full.dropped() == 1);
}

TEST_CASE("[notify] config: webhooks, defaults and errors naming key and value") {
  auto read = [](const std::string& text) {
    auto reader = rollgate::ConfigReader::parseString(text, "coordinator.toml");
    REQUIRE(reader.ok());
    NotifyConfig config;
    readNotifyConfig(reader->table("notify"), config);
    auto status = reader->finish();
    return std::make_pair(config, status.ok() ? std::string() : status.error().message);
  };
  auto [config, error] = read(R"(
[notify]
queue_capacity = 10
initial_backoff_millis = 50
[[notify.webhook]]
url = "https://hooks.example.com/T1"
format = "slack"
secret = "k"
kinds = ["step_failed", "rollout_rolled_back"]
[[notify.webhook]]
url = "http://127.0.0.1:9/hook"
)");
  CHECK(error == "");
  REQUIRE(config.webhooks.size() == 2);
  CHECK(config.queueCapacity == 10);
  CHECK(config.initialBackoffMillis == 50);
  CHECK((config.webhooks[0].format == WebhookFormat::kSlack));
  CHECK(config.webhooks[0].wants("step_failed"));
  CHECK(!config.webhooks[0].wants("held"));
  CHECK((config.webhooks[1].format == WebhookFormat::kJson));
  for (const auto& kind : defaultNotificationKinds()) CHECK(config.webhooks[1].wants(kind));
  CHECK(!config.webhooks[1].wants("host_installed"));

  CHECK(read("[[notify.webhook]]\nurl = \"ftp://x\"\n").second.find("\"ftp://x\"") !=
        std::string::npos);
  CHECK(read("[[notify.webhook]]\nurl = \"http://x\"\nformat = \"teams\"\n").second.find(
            "\"teams\"") != std::string::npos);
  CHECK(read("[[notify.webhook]]\nurl = \"http://x\"\nkinds = [\"Step Failed\"]\n").second.find(
            "\"Step Failed\"") != std::string::npos);
  CHECK(read("[[notify.webhook]]\nurl = \"http://x\"\nsecrte = \"k\"\n").second.find("secrte") !=
        std::string::npos);
  CHECK(read("[notify]\ninitial_backoff_millis = 500\nmax_backoff_millis = 100\n")
            .second.find("max_backoff_millis") != std::string::npos);
}
