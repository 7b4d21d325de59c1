// The console's pure logic: [console] parsing and its refusals, roles, token shape, sessions that
// expire, CSRF comparison, the snapshot board's waiting and the loop queue's bound.
#include <doctest/doctest.h>

#include <thread>

#include "common/sha256.h"
#include "coordinator/console/console_config.h"
#include "coordinator/console/loop_queue.h"
#include "coordinator/console/sessions.h"
#include "coordinator/console/snapshot.h"
#include "coordinator/console_feed.h"
#include "coordinator/coordinator_config.h"
#include "tests/unit/coordinator/fake_store.h"

using namespace rollgate;
using namespace rollgate::console;

namespace {

Result<coordinator::CoordinatorConfig> parse(const std::string& console) {
  return coordinator::parseCoordinatorConfig("[console]\n" + console, "test.toml");
}

}  // namespace

TEST_CASE("[console] is off by default and binds loopback") {
  auto config = coordinator::parseCoordinatorConfig("", "test.toml");
  REQUIRE(config.ok());
  CHECK_FALSE(config->console.enabled);
  CHECK(config->console.listen == "127.0.0.1:7443");
  CHECK_FALSE(config->console.plainHttp);
}

TEST_CASE("[console] refuses plain HTTP off loopback, naming the key and the value") {
  auto bad = parse("enabled = true\nlisten = \"0.0.0.0:8443\"\nplain_http = true\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("plain_http") != std::string::npos);
  CHECK(bad.error().message.find("0.0.0.0:8443") != std::string::npos);
  CHECK(parse("enabled = true\nlisten = \"127.0.0.1:8080\"\nplain_http = true\n").ok());
  CHECK(parse("enabled = true\nlisten = \"[::1]:8080\"\nplain_http = true\n").ok());
}

TEST_CASE("[console] checks listen, cert and key, and the limits") {
  auto listen = parse("listen = \"localhost\"\n");
  REQUIRE_FALSE(listen.ok());
  CHECK(listen.error().message.find("\"localhost\"") != std::string::npos);
  auto cert = parse("cert = \"/etc/rollgate/console.pem\"\n");
  REQUIRE_FALSE(cert.ok());
  CHECK(cert.error().message.find("key") != std::string::npos);
  auto threads = parse("threads = 2\n");
  REQUIRE_FALSE(threads.ok());
  CHECK(threads.error().message.find("threads") != std::string::npos);
  auto ok = parse("threads = 16\nmax_request_bytes = 4096\ntimeout_seconds = 3\n");
  REQUIRE(ok.ok());
  CHECK(ok->console.threads == 16);
  CHECK(ok->console.maxRequestBytes == 4096);
}

TEST_CASE(
    "[console] public_url: what a standby sends operators to, checked, else the listen address") {
  auto bad = parse("enabled = true\npublic_url = \"rg-a.example:7443\"\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("public_url") != std::string::npos);
  CHECK(bad.error().message.find("\"rg-a.example:7443\"") != std::string::npos);
  REQUIRE_FALSE(parse("enabled = true\npublic_url = \"https://a b/\"\n").ok());
  auto given = parse("enabled = true\npublic_url = \"https://rg.example/console\"\n");
  REQUIRE(given.ok());
  CHECK(advertisedUrl(given->console) == "https://rg.example/console/");
  auto loopback = parse("enabled = true\nlisten = \"127.0.0.1:8080\"\nplain_http = true\n");
  REQUIRE(loopback.ok());
  CHECK(advertisedUrl(loopback->console) == "http://127.0.0.1:8080/");
  auto v6 = parse("enabled = true\nlisten = \"[2001:db8::1]:7443\"\n");
  REQUIRE(v6.ok());
  CHECK(advertisedUrl(v6->console) == "https://[2001:db8::1]:7443/");
  // A wildcard address is nobody's to open: this machine's name instead.
  auto wildcard = parse("enabled = true\nlisten = \"0.0.0.0:7443\"\n");
  REQUIRE(wildcard.ok());
  const std::string url = advertisedUrl(wildcard->console);
  CHECK(url.rfind("https://", 0) == 0);
  CHECK(url.find("0.0.0.0") == std::string::npos);
  CHECK(url.size() > std::string("https://:7443/").size());
  // Off: nothing advertised.
  auto off = parse("public_url = \"https://rg.example/\"\n");
  REQUIRE(off.ok());
  CHECK(advertisedUrl(off->console).empty());
}

TEST_CASE("listen addresses and loopback") {
  std::string host;
  int port = 0;
  CHECK(splitListen("127.0.0.1:7443", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 7443);
  CHECK(splitListen("[::1]:1", host, port));
  CHECK(host == "::1");
  CHECK_FALSE(splitListen("127.0.0.1:0", host, port));
  CHECK_FALSE(splitListen("127.0.0.1:99999", host, port));
  CHECK_FALSE(splitListen("::1:80", host, port));
  CHECK(isLoopbackHost("127.0.0.1"));
  CHECK(isLoopbackHost("127.1.2.3"));
  CHECK(isLoopbackHost("::1"));
  CHECK(isLoopbackHost("localhost"));
  CHECK_FALSE(isLoopbackHost("0.0.0.0"));
  CHECK_FALSE(isLoopbackHost("10.0.0.1"));
  CHECK_FALSE(isLoopbackHost("::"));
}

TEST_CASE("roles and tokens") {
  CHECK((parseRole("viewer").value() == Role::kViewer));
  CHECK((parseRole("operator").value() == Role::kOperator));
  auto bad = parseRole("admin");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("\"admin\"") != std::string::npos);
  std::string token = newToken();
  CHECK(looksLikeToken(token));
  CHECK(token != newToken());
  CHECK_FALSE(looksLikeToken("rgc_xyz"));
  CHECK_FALSE(looksLikeToken(token.substr(1)));
  CHECK_FALSE(looksLikeToken("rgc_" + std::string(64, 'G')));
}

TEST_CASE("sessions expire and keep no id in clear") {
  SessionTable table(2);
  std::string id = table.create(Session{"alice", Role::kOperator, "", 10'000}, 1'000);
  auto found = table.find(id, 9'999);
  REQUIRE(found);
  CHECK(found->operatorName == "alice");
  CHECK(found->csrf.size() == 64);
  CHECK_FALSE(table.find(id, 10'000));  // expired: gone
  CHECK_FALSE(table.find("", 1'000));
  CHECK_FALSE(table.find("not-a-session", 1'000));
  // Full: the session expiring soonest makes room.
  std::string a = table.create(Session{"a", Role::kViewer, "", 5'000}, 1'000);
  std::string b = table.create(Session{"b", Role::kViewer, "", 9'000}, 1'000);
  std::string c = table.create(Session{"c", Role::kViewer, "", 8'000}, 1'000);
  CHECK_FALSE(table.find(a, 2'000));
  CHECK(table.find(b, 2'000));
  CHECK(table.find(c, 2'000));
  table.remove(b);
  CHECK_FALSE(table.find(b, 2'000));
}

TEST_CASE("CSRF tokens compare whole and never empty") {
  CHECK(sameSecret("abc", "abc"));
  CHECK_FALSE(sameSecret("abc", "abd"));
  CHECK_FALSE(sameSecret("abc", "ab"));
  CHECK_FALSE(sameSecret("", ""));
}

TEST_CASE("the board wakes waiters on a newer snapshot and on stop") {
  ConsoleBoard board;
  auto snapshot = std::make_shared<ConsoleSnapshot>();
  snapshot->version = 1;
  std::thread publisher([&] { board.publish(snapshot); });
  auto seen = board.waitNewer(0, std::chrono::hours(1));  // returns only once version 1 is out
  publisher.join();
  CHECK(seen->version == 1);
  std::thread stopper([&] { board.stop(); });
  auto after = board.waitNewer(1, std::chrono::hours(1));
  stopper.join();
  CHECK(board.stopped());
  CHECK(after->version == 1);
  board.want("r1", 1'000);
  CHECK(board.wanted(2'000, 30'000).count("r1") == 1);
  CHECK(board.wanted(40'000, 30'000).empty());
}

TEST_CASE("the loop queue runs tasks in order and refuses beyond its bound") {
  LoopQueue queue(2);
  REQUIRE(queue.fd() >= 0);
  std::vector<int> ran;
  CHECK(queue.post([&] { ran.push_back(1); }));
  CHECK(queue.post([&] { ran.push_back(2); }));
  CHECK_FALSE(queue.post([&] { ran.push_back(3); }));
  CHECK(queue.drain() == 2);
  CHECK(ran == std::vector<int>{1, 2});
  CHECK(queue.drain() == 0);
}

TEST_CASE("a console token is stored as its SHA-256 only, with its role and expiry") {
  coordinator::testing::FakeStore store;
  auto issued = coordinator::issueConsoleToken(store, ConsoleTokenRequest{"bob", "viewer", 3600},
                                               "admin", 1'000);
  REQUIRE(issued.ok());
  const auto& [token, record] = *issued;
  CHECK(looksLikeToken(token));
  REQUIRE(store.consoleTokens.size() == 1);
  const auto& stored = store.consoleTokens.begin()->second;
  CHECK(stored.sha256Hex == sha256Hex(token));
  CHECK(stored.sha256Hex.find(token) == std::string::npos);
  CHECK(stored.role == "viewer");
  CHECK(stored.expiresMillis == 1'000 + 3'600'000);
  CHECK(stored.createdBy == "admin");

  auto role = coordinator::issueConsoleToken(store, ConsoleTokenRequest{"bob", "root", 60}, "a", 0);
  REQUIRE_FALSE(role.ok());
  CHECK(role.error().message.find("\"root\"") != std::string::npos);
  auto name = coordinator::issueConsoleToken(
      store, ConsoleTokenRequest{"<script>", "viewer", 60}, "a", 0);
  REQUIRE_FALSE(name.ok());
  CHECK(name.error().message.find("<script>") != std::string::npos);
  auto ttl = coordinator::issueConsoleToken(store, ConsoleTokenRequest{"bob", "viewer", 0}, "a", 0);
  REQUIRE_FALSE(ttl.ok());
  CHECK(ttl.error().message.find("ttl") != std::string::npos);
  CHECK(store.consoleTokens.size() == 1);

  store.failing.insert("saveConsoleToken");
  auto failed =
      coordinator::issueConsoleToken(store, ConsoleTokenRequest{"carol", "operator", 60}, "a", 0);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("cannot store") != std::string::npos);
}
