#include <doctest/doctest.h>

#include "agent/sentry/relay_queue.h"
#include "agent/sentry/sentry_tally.h"

using namespace rollgate;
using namespace rollgate::agent::sentry;

namespace {
SentryEvent exceptionEvent(std::string type, std::string frame, bool unhandled = false) {
  SentryEvent e;
  e.error = e.exception = true;
  e.release = "r1";
  e.type = std::move(type);
  e.frame = std::move(frame);
  e.message = "message of " + e.type;
  e.unhandled = unhandled;
  return e;
}
}  // namespace

TEST_CASE("the tally counts errors, unhandled, sessions and fingerprints, then starts afresh") {
  SentryTally tally;
  ParsedEnvelope env;
  env.events.push_back(exceptionEvent("KeyError", "app.load"));
  env.events.push_back(exceptionEvent("KeyError", "app.load", true));
  env.events.push_back(exceptionEvent("KeyError", "app.save"));
  SentryEvent warning;
  warning.level = "warning";
  env.events.push_back(warning);  // no release, not an error
  env.sessions = SessionCounts{10, 2, 1, 1};
  tally.add(env);
  SentryWindow w = tally.take();
  CHECK(w.enabled);
  CHECK(w.errors == 3);
  CHECK(w.unhandled == 1);
  CHECK(w.noRelease == 1);
  CHECK(w.sessions == 10);
  CHECK(w.sessionsErrored == 2);
  CHECK(w.sessionsCrashed == 1);
  CHECK(w.sessionsAbnormal == 1);
  REQUIRE(w.fingerprints.size() == 2);
  CHECK(w.fingerprints[0] ==
        SentryFingerprint{"KeyError", "app.load", 2, 1, "message of KeyError"});
  CHECK(w.fingerprints[1].frame == "app.save");
  SentryWindow next = tally.take();
  CHECK(next == SentryWindow{.enabled = true});
}

TEST_CASE("the fingerprint table is bounded; events that do not fit are counted") {
  SentryTally tally;
  ParsedEnvelope env;
  for (std::size_t i = 0; i < kMaxSentryFingerprints + 10; ++i) {
    env.events.push_back(exceptionEvent("E" + std::to_string(i), "f"));
  }
  env.events.push_back(exceptionEvent("E0", "f"));  // known: still counted
  tally.add(env);
  SentryWindow w = tally.take();
  CHECK(w.fingerprints.size() == kMaxSentryFingerprints);
  CHECK(w.fingerprintsDropped == 10);
  CHECK(w.errors == kMaxSentryFingerprints + 11);
  CHECK(w.fingerprints[0].count == 2);
}

TEST_CASE("the relay queue drops the oldest to make room, and a body larger than the bound") {
  RelayQueue queue(3, 100);
  auto item = [](std::size_t bytes) { return RelayItem{"web", false, "", std::string(bytes, 'x')}; };
  CHECK(queue.push(item(10)) == 0);
  CHECK(queue.push(item(20)) == 0);
  CHECK(queue.push(item(30)) == 0);
  CHECK(queue.push(item(5)) == 1);  // count bound: the 10-byte one goes
  CHECK(queue.size() == 3);
  CHECK(queue.bytes() == 55);
  CHECK(queue.push(item(80)) == 2);  // byte bound: the oldest go until 80 more fit
  CHECK(queue.bytes() == 85);
  CHECK(queue.push(item(101)) == 1);  // larger than the whole bound: dropped itself
  CHECK(queue.size() == 2);
  CHECK(queue.pop().body.size() == 5);
  CHECK(queue.pop().body.size() == 80);
  CHECK(queue.empty());
}

TEST_CASE("the rate limiter allows a burst of one second, then perSecond a second") {
  RateLimiter limiter(5);
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += limiter.allow(1000) ? 1 : 0;
  CHECK(allowed == 5);
  CHECK(limiter.retryAfterSeconds() == 1);
  CHECK_FALSE(limiter.allow(1100));  // 0.5 tokens
  CHECK(limiter.allow(1200));        // 1 token
  RateLimiter unlimited(0);
  for (int i = 0; i < 1000; ++i) REQUIRE(unlimited.allow(0));
  RateLimiter slow(0.5);
  CHECK(slow.allow(0));
  CHECK_FALSE(slow.allow(1000));
  CHECK(slow.retryAfterSeconds() == 1);
  CHECK(slow.allow(2000));
}
