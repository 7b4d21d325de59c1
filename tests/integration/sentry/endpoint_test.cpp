// The agent's Sentry endpoint over real HTTP on loopback (libmicrohttpd under test, libcurl as
// the client). Each bad input gets its status and its counter, memory stays bounded, and a flood
// on one service neither stops that service's counting for long nor another service's endpoint.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <cstring>
#include <thread>

#include "agent/sentry/sentry_endpoint.h"
#include "common/logging.h"
#include "tests/integration/sentry/http_post.h"
#include "tests/support/fleet/process.h"

using namespace rollgate;
using namespace rollgate::agent::sentry;
using namespace rollgate::testing::sentry;

namespace {

std::string readData(const std::string& name) {
  return rollgate::testing::sentry::readBytes(std::string(ROLLGATE_SENTRY_DATA) + "/" + name);
}

const std::string kAuth = "X-Sentry-Auth: Sentry sentry_key=k1, sentry_version=7";

std::uint64_t rssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

template <typename F>
bool waitFor(F condition) {
  for (int i = 0; i < 600; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

SentryServiceConfig service(const std::string& name, const std::string& key) {
  SentryServiceConfig config;
  config.service = name;
  config.key = key;
  config.maxRequestsPerSecond = 0;
  return config;
}

}  // namespace

TEST_CASE("accepted bodies from the SDK are counted into the service's next window") {
  auto endpoint = SentryEndpoint::start({service("web", "k1")}, makeLogger("sentry-test"));
  REQUIRE_MESSAGE(endpoint.ok(), (endpoint.ok() ? "" : endpoint.error().message));
  std::uint16_t port = (*endpoint)->port("web");
  REQUIRE(port != 0);
  for (auto name : {"store_handled_keyerror.json.gz", "store_unhandled_valueerror.json.gz",
                    "store_message_error.json.gz"}) {
    Reply r = send(port, {"/api/1/store/", readData(name), {kAuth, "Content-Encoding: gzip"}});
    CHECK_MESSAGE(r.status == 200, name << ": " << r.status << " " << r.body << r.error);
  }
  // The envelope with the key in the query string instead of a header.
  Reply r = send(port, {"/api/1/envelope/?sentry_key=k1&sentry_version=7",
                        readData("envelope_sessions.gz"),
                        {"Content-Encoding: gzip"}});
  CHECK(r.status == 200);
  // An envelope whose only key is its header's dsn; an event with no release.
  std::string body = R"({"dsn":"http://k1@127.0.0.1/1"})" "\n" R"({"type":"event"})" "\n"
                     R"({"level":"error","exception":{"values":[{"type":"NoRelease"}]}})" "\n";
  CHECK(send(port, {"/api/1/envelope/", body, {}}).status == 200);
  std::optional<SentryWindow> w = (*endpoint)->take("web");
  REQUIRE(w.has_value());
  CHECK(w->enabled);
  CHECK(w->errors == 4);
  CHECK(w->unhandled == 1);
  CHECK(w->noRelease == 1);
  CHECK(w->sessions == 2);
  CHECK(w->sessionsErrored == 1);
  REQUIRE(w->fingerprints.size() == 3);
  CHECK(w->fingerprints[0].type == "KeyError");
  CHECK(w->fingerprints[0].frame == "__main__.load_order");
  CHECK(w->fingerprints[1].type == "ValueError");
  CHECK(w->fingerprints[1].unhandled == 1);
  CHECK(w->rejected == 0);
  CHECK_FALSE((*endpoint)->take("other").has_value());
}

TEST_CASE("bad input: each gets its status and a counter, memory stays bounded") {
  auto config = service("web", "k1");
  auto endpoint = SentryEndpoint::start({config, service("api", "k2")}, makeLogger("sentry-test"));
  REQUIRE(endpoint.ok());
  std::uint16_t port = (*endpoint)->port("web");
  std::string event = R"({"level":"error","release":"r1","message":"x"})";
  const std::vector<BadInput> cases = badInputs(kAuth);
  std::uint64_t rssBefore = rssBytes();
  for (const auto& c : cases) {
    Reply r = send(port, c.post);
    CHECK_MESSAGE(r.status == c.status, c.what << ": got " << r.status << " " << r.body << " "
                                               << r.error);
    if (r.status >= 400) {
      CHECK_MESSAGE(r.body.find("detail") != std::string::npos, c.what << ": " << r.body);
    }
  }
  std::uint64_t rssAfter = rssBytes();
  // Stated bound: bodies held (2 MiB) + one decompressed body (2 MiB) + connection pools.
  CHECK_MESSAGE(rssAfter < rssBefore + (8u << 20),
                "RSS grew from " << rssBefore << " to " << rssAfter << " bytes");
  SentryCounters counters = (*endpoint)->counters("web");
  CHECK(counters.rejected == cases.size());
  CHECK(counters.accepted == 0);
  CHECK(counters.bodyBytesHeld == 0);
  std::optional<SentryWindow> w = (*endpoint)->take("web");
  REQUIRE(w.has_value());
  CHECK(w->rejected == cases.size());
  CHECK(w->errors == 0);
  // The endpoint still works after all of it, and so does the other service's.
  CHECK(send(port, {"/api/1/store/", event, {kAuth}}).status == 200);
  CHECK(send((*endpoint)->port("api"), {"/api/1/store/", event,
                                        {"X-Sentry-Auth: Sentry sentry_key=k2"}}).status == 200);
  CHECK((*endpoint)->take("web")->errors == 1);
  CHECK((*endpoint)->take("api")->errors == 1);
}

TEST_CASE("bodies beyond the memory budget get 503 with Retry-After, and are counted") {
  SentryEndpointOptions options;
  options.bodyBudgetBytes = 4096;
  auto endpoint = SentryEndpoint::start({service("web", "k1")}, makeLogger("sentry-test"), options);
  REQUIRE(endpoint.ok());
  std::string big = R"({"level":"error","message":")" + std::string(8192, 'x') + "\"}";
  Reply r = send((*endpoint)->port("web"), {"/api/1/store/", big, {kAuth}});
  CHECK(r.status == 503);
  CHECK(r.headers.find("Retry-After: 1") != std::string::npos);
  CHECK(send((*endpoint)->port("web"), {"/api/1/store/", R"({"level":"error"})", {kAuth}}).status == 200);
  SentryWindow w = *(*endpoint)->take("web");
  CHECK(w.rejected == 1);
  CHECK(w.errors == 1);
  CHECK((*endpoint)->counters("web").bodyBytesHeld == 0);
}

TEST_CASE("a flood from one application gets 429 with Retry-After; other services are unaffected") {
  auto flooded = service("web", "k1");
  flooded.maxRequestsPerSecond = 20;
  auto endpoint = SentryEndpoint::start({flooded, service("api", "k2")}, makeLogger("sentry-test"));
  REQUIRE(endpoint.ok());
  std::string event = R"({"level":"error","release":"r1","message":"x"})";
  int ok = 0, limited = 0;
  bool retryAfter = true;
  for (int i = 0; i < 200; ++i) {
    Reply r = send((*endpoint)->port("web"), {"/api/1/store/", event, {kAuth}});
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      retryAfter = retryAfter && r.headers.find("Retry-After: 1") != std::string::npos;
    }
    Reply other = send((*endpoint)->port("api"), {"/api/1/store/", event,
                                                  {"X-Sentry-Auth: Sentry sentry_key=k2"}});
    REQUIRE(other.status == 200);
  }
  CHECK(ok >= 20);
  CHECK(limited > 0);
  CHECK(ok + limited == 200);
  CHECK(retryAfter);
  std::optional<SentryWindow> w = (*endpoint)->take("web");
  CHECK(w->rateLimited == static_cast<std::uint64_t>(limited));
  CHECK(w->errors == static_cast<std::uint64_t>(ok));
  CHECK((*endpoint)->take("api")->errors == 200);
}

TEST_CASE("relay: every accepted body goes on unchanged to the upstream Sentry") {
  // A second endpoint stands in for the team's Sentry (project 42, its own key).
  auto upstreamConfig = service("team-sentry", "upkey");
  upstreamConfig.project = "42";
  auto upstream = SentryEndpoint::start({upstreamConfig}, makeLogger("upstream"));
  REQUIRE(upstream.ok());
  auto config = service("web", "k1");
  config.upstreamDsn = "http://upkey@127.0.0.1:" + std::to_string((*upstream)->port("team-sentry")) + "/42";
  auto endpoint = SentryEndpoint::start({config}, makeLogger("sentry-test"));
  REQUIRE(endpoint.ok());
  std::uint16_t port = (*endpoint)->port("web");
  CHECK(send(port, {"/api/1/store/", readData("store_handled_keyerror.json.gz"),
                    {kAuth, "Content-Encoding: gzip"}}).status == 200);
  CHECK(send(port, {"/api/1/envelope/", readData("envelope_sessions.gz"),
                    {kAuth, "Content-Encoding: gzip"}}).status == 200);
  CHECK(send(port, {"/api/1/store/", "{bad", {kAuth}}).status == 400);  // not relayed
  REQUIRE(waitFor([&] { return (*endpoint)->counters("web").relayed == 2; }));
  SentryWindow up = *(*upstream)->take("team-sentry");
  CHECK(up.errors == 1);
  CHECK(up.sessions == 2);
  REQUIRE(up.fingerprints.size() == 1);
  CHECK(up.fingerprints[0].type == "KeyError");
  CHECK(up.rejected == 0);
  CHECK((*endpoint)->take("web")->relayDropped == 0);
}

TEST_CASE("relay: an unreachable upstream and a full queue are counted, the application is answered") {
  auto config = service("web", "k1");
  config.upstreamDsn = "http://upkey@127.0.0.1:" + std::to_string(testing::freePort()) + "/42";
  config.relayQueueEnvelopes = 2;
  auto endpoint = SentryEndpoint::start({config}, makeLogger("sentry-test"));
  REQUIRE(endpoint.ok());
  std::string event = R"({"level":"error","release":"r1","message":"x"})";
  for (int i = 0; i < 50; ++i) {
    REQUIRE(send((*endpoint)->port("web"), {"/api/1/store/", event, {kAuth}}).status == 200);
  }
  REQUIRE(waitFor([&] {
    SentryCounters c = (*endpoint)->counters("web");
    return c.relayDropped == 50 && c.relayQueueBytes == 0;
  }));
  SentryWindow w = *(*endpoint)->take("web");
  CHECK(w.errors == 50);
  CHECK(w.relayDropped == 50);
}
