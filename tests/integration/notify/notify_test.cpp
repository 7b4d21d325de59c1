// The notifier against a real HTTP receiver on loopback (tests/support/fleet/webhook_receiver.h):
// the receiver checks every signature with OpenSSL, answers errors on demand and records when each
// attempt arrived, so retries and their backoff are seen from the outside. Then a real coordinator
// configured with a webhook sends its freeze and unfreeze decisions.
#include <doctest/doctest.h>

#include <chrono>

#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/notify/notifier.h"
#include "tests/support/fleet/fleet.h"
#include "tests/support/fleet/webhook_receiver.h"

using namespace rollgate::coordinator::notify;
using namespace rollgate::testing;
using std::chrono::milliseconds;

namespace {

const std::string kSecret = "webhook-test-secret";

NotifyConfig configFor(const std::vector<WebhookConfig>& webhooks) {
  NotifyConfig config;
  config.webhooks = webhooks;
  config.initialBackoffMillis = 200;
  config.maxBackoffMillis = 5000;
  config.maxAttempts = 5;
  config.timeoutMillis = 2000;
  return config;
}

Notification held(std::uint32_t step) {
  Notification n;
  n.kind = "held";
  n.rolloutId = "r1";
  n.service = "web";
  n.version = "1.1.0";
  n.step = step;
  n.text = "not enough data";
  return n;
}

long long millisBetween(const ReceivedWebhook& a, const ReceivedWebhook& b) {
  return std::chrono::duration_cast<milliseconds>(b.at - a.at).count();
}

}  // namespace

TEST_CASE("webhooks: signed, formatted per webhook, retried with backoff after 500s") {
  rollgate::SystemClock clock;
  WebhookReceiver json(kSecret);
  WebhookReceiver slack(kSecret);
  REQUIRE(json.port() > 0);
  REQUIRE(slack.port() > 0);
  json.failNext(2, 500);
  Notifier notifier(configFor({{json.url(), WebhookFormat::kJson, kSecret, {}},
                               {slack.url(), WebhookFormat::kSlack, kSecret, {"held"}},
                               {slack.url(), WebhookFormat::kSlack, kSecret, {"step_failed"}}}),
                    clock, rollgate::makeLogger("notify-test", "debug"));
  notifier.notify(held(2));

  REQUIRE(json.waitForAccepted(1));
  REQUIRE(slack.waitForAccepted(1));
  auto attempts = json.received();
  REQUIRE(attempts.size() == 3);
  CHECK(attempts[0].answered == 500);
  CHECK(attempts[1].answered == 500);
  CHECK(attempts[2].answered == 200);
  for (const auto& a : attempts) {
    CHECK(a.signatureValid);
    CHECK(a.body == attempts[0].body);  // the same delivery each time
    CHECK(a.delivery == attempts[0].delivery);
    CHECK(a.event == "held");
  }
  // Exponential backoff: 200 ms after the first failure, 400 ms after the second (lower bounds
  // only: a loaded machine may be later, never earlier).
  CHECK(millisBetween(attempts[0], attempts[1]) >= 200);
  CHECK(millisBetween(attempts[1], attempts[2]) >= 400);
  CHECK(attempts[2].json["kind"] == "held");
  CHECK(attempts[2].json["rollout"] == "r1");
  CHECK(attempts[2].json["step"] == 2);

  // The Slack webhook that wants `held` got Slack's shape; the one that wants only step_failed
  // got nothing.
  auto slackGot = slack.received();
  REQUIRE(slackGot.size() == 1);
  CHECK(slackGot[0].signatureValid);
  CHECK(slackGot[0].json["text"].get<std::string>().find("step 2 held for an operator") !=
        std::string::npos);
  CHECK(slackGot[0].json["blocks"][0]["type"] == "section");

  auto counts = notifier.counts();
  CHECK(counts.delivered == 2);
  CHECK(counts.retried == 2);
  CHECK(counts.failed == 0);
  CHECK(counts.dropped == 0);
}

TEST_CASE("webhooks: a receiver that refuses connections is retried until it is up") {
  rollgate::SystemClock clock;
  int port = freePort();
  auto config = configFor({{"http://127.0.0.1:" + std::to_string(port) + "/hook",
                            WebhookFormat::kJson, kSecret, {}}});
  config.initialBackoffMillis = 100;
  config.maxAttempts = 20;
  Notifier notifier(config, clock, rollgate::makeLogger("notify-test", "debug"));
  notifier.notify(held(1));
  REQUIRE(waitUntil([&] { return notifier.counts().retried >= 2; }));
  CHECK(notifier.counts().delivered == 0);
  WebhookReceiver receiver(kSecret, port);
  REQUIRE(receiver.port() == port);
  REQUIRE(receiver.waitForAccepted(1));
  CHECK(receiver.received().size() == 1);
  CHECK(receiver.received()[0].signatureValid);
  REQUIRE(waitUntil([&] { return notifier.counts().delivered == 1; }));
}

TEST_CASE("webhooks: a delivery given up after its last attempt is counted as failed") {
  rollgate::SystemClock clock;
  WebhookReceiver receiver(kSecret);
  receiver.failNext(100, 503);
  auto config = configFor({{receiver.url(), WebhookFormat::kJson, kSecret, {}}});
  config.initialBackoffMillis = 10;
  config.maxAttempts = 3;
  Notifier notifier(config, clock, rollgate::makeLogger("notify-test", "debug"));
  notifier.notify(held(1));
  REQUIRE(waitUntil([&] { return notifier.counts().failed == 1; }));
  CHECK(receiver.received().size() == 3);
  CHECK(notifier.counts().retried == 2);
  CHECK(notifier.counts().queued == 0);
}

TEST_CASE("webhooks: a full queue drops its oldest deliveries and counts them") {
  rollgate::SystemClock clock;
  WebhookReceiver receiver(kSecret);
  receiver.holdNext();
  auto config = configFor({{receiver.url(), WebhookFormat::kJson, kSecret, {}}});
  config.queueCapacity = 3;
  config.timeoutMillis = 60'000;
  Notifier notifier(config, clock, rollgate::makeLogger("notify-test", "debug"));
  notifier.notify(held(1));
  REQUIRE(receiver.waitForHeld());  // delivery 1 is in flight, out of the queue
  for (std::uint32_t step = 2; step <= 6; ++step) notifier.notify(held(step));
  auto counts = notifier.counts();
  CHECK(counts.queued == 3);
  CHECK(counts.dropped == 2);
  receiver.release();
  REQUIRE(receiver.waitForAccepted(4));
  std::vector<int> steps;
  for (const auto& r : receiver.accepted()) steps.push_back(r.json["step"].get<int>());
  CHECK(steps == std::vector<int>{1, 4, 5, 6});  // 2 and 3, the oldest queued, were dropped
  CHECK(notifier.counts().dropped == 2);
}

TEST_CASE("webhooks: a real coordinator sends its freeze and unfreeze decisions") {
  WebhookReceiver receiver(kSecret);
  LocalFleet fleet("heartbeat_seconds = 1\nhost_timeout_seconds = 4\n\n[[notify.webhook]]\nurl = \"" +
                   receiver.url() + "\"\nsecret = \"" + kSecret + "\"\nformat = \"json\"\n");
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  auto frozen = fleet.cli({"freeze", "--reason", "incident <42> & co"});
  REQUIRE_MESSAGE(frozen.exitCode == 0, frozen.err << frozen.out);
  auto unfrozen = fleet.cli({"unfreeze"});
  REQUIRE_MESSAGE(unfrozen.exitCode == 0, unfrozen.err << unfrozen.out);
  REQUIRE_MESSAGE(receiver.waitForAccepted(2), readFile(fleet.coordinatorLog()));
  auto got = receiver.accepted();
  CHECK(got[0].event == "freeze");
  CHECK(got[0].json["kind"] == "freeze");
  CHECK(got[0].json["text"].get<std::string>().rfind("incident <42> & co", 0) == 0);
  CHECK(got[0].signatureValid);
  CHECK(got[1].event == "unfreeze");
  CHECK(got[1].signatureValid);
}
