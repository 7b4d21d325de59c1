#include "agent/sentry/envelope.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <string>

#include "tests/support/sentry/bodies.h"

using namespace rollgate::agent::sentry;
using rollgate::testing::sentry::gzipped;

namespace {

std::string readData(const std::string& name) {
  return rollgate::testing::sentry::readBytes(std::string(ROLLGATE_SENTRY_DATA) + "/" + name);
}

std::string gunzipped(const std::string& name) {
  std::string out, error;
  REQUIRE(inflateBody(readData(name), 1 << 20, out, error) == InflateStatus::kOk);
  return out;
}

}  // namespace

TEST_CASE("a handled exception from the SDK's /store/ body: type, top in-app frame, message") {
  auto parsed = parseStoreBody(gunzipped("store_handled_keyerror.json.gz"));
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  REQUIRE(parsed->events.size() == 1);
  const SentryEvent& e = parsed->events[0];
  CHECK(e.level == "error");
  CHECK(e.error);
  CHECK(e.exception);
  CHECK_FALSE(e.unhandled);
  CHECK(e.release == "shop@2.0.0");
  CHECK(e.type == "KeyError");
  CHECK(e.frame == "__main__.load_order");  // the innermost in-app frame, not <module>
  CHECK(e.message == "'missing'");
}

TEST_CASE("an unhandled exception (excepthook, handled false) is marked unhandled") {
  auto parsed = parseStoreBody(gunzipped("store_unhandled_valueerror.json.gz"));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->events.size() == 1);
  CHECK(parsed->events[0].unhandled);
  CHECK(parsed->events[0].type == "ValueError");
  CHECK(parsed->events[0].frame == "__main__.<module>");
  CHECK(parsed->events[0].message == "boom unhandled");
}

TEST_CASE("a message event at level error counts as an error without a fingerprint") {
  auto parsed = parseStoreBody(gunzipped("store_message_error.json.gz"));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->events.size() == 1);
  CHECK(parsed->events[0].error);
  CHECK_FALSE(parsed->events[0].exception);
  CHECK(parsed->events[0].message == "disk almost full");
}

TEST_CASE("the SDK's session envelope: one application session and one request aggregate") {
  auto parsed = parseEnvelope(gunzipped("envelope_sessions.gz"));
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  CHECK(parsed->events.empty());
  // The application session started and exited cleanly; the aggregate bucket holds one errored.
  CHECK(parsed->sessions == SessionCounts{2, 1, 0, 0});
}

TEST_CASE("envelope items: length-prefixed and newline-ended payloads, unknown types skipped") {
  std::string event = R"({"level":"fatal","release":"r1","exception":{"values":[)"
                      R"({"type":"Inner","value":"first"},)"
                      R"({"type":"Outer","module":"app.errors","value":"second","mechanism":{"handled":false},)"
                      R"("stacktrace":{"frames":[{"module":"app.main","function":"run","in_app":true},)"
                      R"({"module":"lib.db","function":"query","in_app":false}]}}]}})";
  std::string body = R"({"event_id":"abc","dsn":"http://pub:secret@127.0.0.1:1/7"})"
                     "\n" R"({"type":"attachment","length":5})" "\nhello\n"
                     R"({"type":"event","length":)" + std::to_string(event.size()) + "}\n" + event +
                     "\n" R"({"type":"client_report"})" "\n{\"discarded_events\":[]}\n"
                     R"({"type":"session"})" "\n"
                     R"({"sid":"x","init":false,"status":"crashed","errors":1})" "\n";
  auto parsed = parseEnvelope(body);
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  CHECK(parsed->dsnKey == "pub");
  CHECK(parsed->skippedItems == 2);
  REQUIRE(parsed->events.size() == 1);
  const SentryEvent& e = parsed->events[0];
  CHECK(e.error);
  CHECK(e.unhandled);
  CHECK(e.type == "app.errors.Outer");  // the last exception is the outermost
  CHECK(e.frame == "app.main.run");     // the last in-app frame, library frames skipped
  CHECK(e.message == "second");
  CHECK(parsed->sessions == SessionCounts{0, 0, 1, 0});
}

TEST_CASE("an event below level error is not an error; no level means error") {
  auto warning = parseStoreBody(R"({"level":"warning","message":"slow"})");
  REQUIRE(warning.ok());
  CHECK_FALSE(warning->events[0].error);
  auto none = parseStoreBody(R"({"message":"no level"})");
  REQUIRE(none.ok());
  CHECK(none->events[0].error);
  CHECK(none->events[0].release.empty());
}

TEST_CASE("malformed envelopes fail naming the item and what is wrong") {
  struct Case {
    std::string body;
    std::string message;
  };
  std::vector<Case> cases = {
      {"not json\n", "envelope header"},
      {"[1,2]\n", "envelope header: expected a JSON object"},
      {"{}\n{\"length\":2}\n{}\n", "envelope item 1 header: missing \"type\""},
      {"{}\n{\"type\":\"event\",\"length\":999}\n{}\n", "runs past the end"},
      {"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n", "not a non-negative integer"},
      {"{}\n{\"type\":\"event\"}\n[1]\n", "event item 1: expected a JSON object"},
      {"{}\n{\"type\":\"event\"}\n{\"a\":\n", "event item 1: invalid JSON"},
      {"{}\n" + std::string("{\"type\":\"event\"}\n") + std::string(100, '[') + "\n",
       "nested deeper than 64"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.substr(0, 60));
    auto parsed = parseEnvelope(c.body);
    REQUIRE_FALSE(parsed.ok());
    CHECK_MESSAGE(parsed.error().message.find(c.message) != std::string::npos,
                  parsed.error().message);
  }
}

TEST_CASE("an event over 1 MiB is skipped and counted, the rest of the envelope still counts") {
  std::string big = R"({"message":")" + std::string(kSentryMaxEventBytes, 'x') + "\"}";
  std::string body = "{}\n{\"type\":\"event\",\"length\":" + std::to_string(big.size()) + "}\n" +
                     big + "\n{\"type\":\"session\"}\n{\"init\":true,\"status\":\"ok\"}\n";
  auto parsed = parseEnvelope(body);
  REQUIRE(parsed.ok());
  CHECK(parsed->events.empty());
  CHECK(parsed->oversizedItems == 1);
  CHECK(parsed->sessions.started == 1);
}

TEST_CASE("more than 100 session items in one envelope: the excess is not counted") {
  std::string body = "{}\n";
  for (int i = 0; i < 150; ++i) body += "{\"type\":\"session\"}\n{\"init\":true}\n";
  auto parsed = parseEnvelope(body);
  REQUIRE(parsed.ok());
  CHECK(parsed->sessions.started == kSentryMaxSessionsPerEnvelope);
  CHECK(parsed->excessSessions == 50);
}

TEST_CASE("inflate: gzip and zlib bodies, a bomb stops at the limit, garbage is malformed") {
  std::string out, error;
  CHECK(inflateBody(gzipped("hello"), 100, out, error) == InflateStatus::kOk);
  CHECK(out == "hello");
  std::string bomb = gzipped(std::string(50u << 20, '\0'));  // 50 MiB of zeros, ~50 KiB gzipped
  CHECK(bomb.size() < 100'000);
  CHECK(inflateBody(bomb, 2u << 20, out, error) == InflateStatus::kTooLarge);
  CHECK(error.find("exceeds 2097152 bytes") != std::string::npos);
  CHECK(out.empty());
  CHECK(inflateBody("definitely not gzip", 100, out, error) == InflateStatus::kMalformed);
  std::string truncated = gzipped("hello world, hello world");
  truncated.resize(truncated.size() / 2);
  CHECK(inflateBody(truncated, 100, out, error) == InflateStatus::kMalformed);
}

TEST_CASE("keys from X-Sentry-Auth and DSNs; DSN targets") {
  CHECK(keyFromAuthHeader("Sentry sentry_key=publickey, sentry_version=7, "
                          "sentry_client=sentry.python/1.9.10") == "publickey");
  CHECK(keyFromAuthHeader("Sentry sentry_version=7,sentry_key=k2") == "k2");
  CHECK_FALSE(keyFromAuthHeader("Sentry sentry_version=7").has_value());
  CHECK_FALSE(keyFromAuthHeader("Sentry xsentry_key=nope").has_value());
  CHECK(keyFromDsn("http://abc@127.0.0.1:9000/42") == "abc");
  CHECK(keyFromDsn("https://abc:secret@o1.ingest.sentry.io/42") == "abc");
  CHECK_FALSE(keyFromDsn("http://127.0.0.1:9000/42").has_value());
  auto target = parseDsn("https://abc@sentry.example.com:9000/sub/42");
  REQUIRE(target.ok());
  CHECK(target->envelopeUrl() == "https://sentry.example.com:9000/sub/api/42/envelope/");
  CHECK(target->storeUrl() == "https://sentry.example.com:9000/sub/api/42/store/");
  CHECK(target->key == "abc");
  auto bad = parseDsn("ftp://abc@host/1");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("ftp://abc@host/1") != std::string::npos);
  CHECK_FALSE(parseDsn("http://abc@host").ok());
}
