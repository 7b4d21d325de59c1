// Self-protection logic: token buckets, per-host quotas and telemetry holes (host_quota.h), the
// [limits] table of coordinator.toml, sessions by key in the registry, and the event log's
// retention in the real SQLite store.
#include <doctest/doctest.h>

#include "coordinator/coordinator_config.h"
#include "coordinator/host_quota.h"
#include "coordinator/registry.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate::coordinator {
namespace {

TEST_CASE("a token bucket starts full, refills at its rate and never holds more than its burst") {
  TokenBucket bucket(10, 2, 1000);  // 10 a second, 20 held
  int taken = 0;
  while (bucket.take(1, 1000)) ++taken;
  CHECK(taken == 20);
  CHECK_FALSE(bucket.take(1, 1050));    // 0.5 refilled
  CHECK(bucket.take(1, 1100));          // 1 refilled
  CHECK(bucket.tokens() < 1);
  CHECK_FALSE(bucket.take(25, 100'000)); // full again is 20, not more
  CHECK(bucket.take(20, 100'000));
}

TEST_CASE("messages over a host's quota are dropped and counted for that host only") {
  HostQuotas quotas(QuotaLimits{20, 1 << 20, 100, 1});
  int admitted = 0;
  for (int i = 0; i < 150; ++i) admitted += quotas.admitMessage("flood", 5000);
  CHECK(admitted == 100);
  CHECK(quotas.dropsOf("flood").messages == 50);
  CHECK(quotas.admitMessage("quiet", 5000));
  CHECK(quotas.dropsOf("quiet").messages == 0);
  CHECK(quotas.admitMessage("flood", 5010));  // 10 ms at 100/s: one more
}

TEST_CASE("hellos are held to a few a second per host") {
  HostQuotas quotas(QuotaLimits{});
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += quotas.admitHello("h", 1000);
  CHECK(admitted == 5);
  CHECK(quotas.dropsOf("h").messages == 95);
  CHECK(quotas.admitHello("h", 2000));
  CHECK(quotas.admitHello("other", 2000));
}

TEST_CASE("the drops of every host sum up for /metrics") {
  HostQuotas quotas(QuotaLimits{});
  for (int i = 0; i < 7; ++i) quotas.admitHello("a", 1000);
  for (int i = 0; i < 8; ++i) quotas.admitHello("b", 1000);
  quotas.drops("b").chunkReplies = 4;
  HostDrops total = quotas.total();
  CHECK(total.messages == 2 + 3);
  CHECK(total.chunkReplies == 4);
  CHECK(total.telemetryWindows == 0);
}

TEST_CASE("a telemetry window over quota opens a hole until the agent re-sends") {
  HostQuotas quotas(QuotaLimits{2, 1 << 20, 1000, 2});  // 4 windows held
  for (int i = 0; i < 4; ++i) CHECK(quotas.admitWindow("h", 100, 1000));
  CHECK_FALSE(quotas.admitWindow("h", 100, 1000));
  CHECK(quotas.inHole("h"));
  // Refilled, but still in the hole: a later window would pass the one dropped.
  CHECK_FALSE(quotas.admitWindow("h", 100, 60'000));
  quotas.beginReport("h", /*resent=*/false);
  CHECK_FALSE(quotas.admitWindow("h", 100, 60'000));
  quotas.beginReport("h", /*resent=*/true);
  CHECK(quotas.admitWindow("h", 100, 60'000));
  CHECK(quotas.dropsOf("h").telemetryWindows == 3);
  CHECK(quotas.dropsOf("h").telemetryBytes == 300);
  // A new session closes the hole too (the agent re-sends everything unacknowledged).
  for (int i = 0; i < 10; ++i) quotas.admitWindow("h", 100, 60'000);
  CHECK(quotas.inHole("h"));
  quotas.onNewSession("h");
  CHECK_FALSE(quotas.inHole("h"));
}

TEST_CASE("the byte quota holds a window back without charging the window quota") {
  HostQuotas quotas(QuotaLimits{100, 1000, 1000, 1});  // 1000 bytes held
  CHECK(quotas.admitWindow("h", 900, 1000));
  CHECK_FALSE(quotas.admitWindow("h", 200, 1000));
  CHECK(quotas.dropsOf("h").telemetryBytes == 200);
}

TEST_CASE("drops are logged as what is new since the last line") {
  HostQuotas quotas(QuotaLimits{});
  quotas.drops("h").unsolicitedResults += 7;
  CHECK(quotas.takeUnlogged("h").unsolicitedResults == 7);
  CHECK(quotas.takeUnlogged("h") == HostDrops{});
  quotas.drops("h").chunkReplies += 2;
  auto delta = quotas.takeUnlogged("h");
  CHECK(delta.chunkReplies == 2);
  CHECK(delta.unsolicitedResults == 0);
}

TEST_CASE("a newer hello replaces the session; the older connection counts as contact") {
  Registry registry(15'000);
  HostQuotas quotas(QuotaLimits{});
  registry.showDrops(&quotas);
  Hello hello;
  hello.region = "eu";
  hello.cluster = "eu-a";
  registry.onHello("web-1", hello, "conn-1", 1000);
  registry.onHello("web-1", hello, "conn-2", 2000);
  CHECK(registry.routingIdOf("web-1") == "conn-2");
  CHECK(registry.wasReplaced("web-1", "conn-1"));
  CHECK_FALSE(registry.wasReplaced("web-1", "conn-2"));
  CHECK_FALSE(registry.onContact("web-1", "conn-1", 3000, nullptr));
  // The old session's messages still show the host alive.
  CHECK_FALSE(registry.touch("web-1", 20'000));
  CHECK(registry.expire(30'000).empty());
  CHECK(registry.find("web-1", 30'000)->healthy);
  CHECK(registry.expire(40'000) == std::vector<std::string>{"web-1"});
  CHECK(registry.touch("web-1", 41'000));  // silent, then heard from: reported healthy again
  // The old connection may say hello again and take the session back.
  registry.onHello("web-1", hello, "conn-1", 42'000);
  CHECK(registry.wasReplaced("web-1", "conn-2"));
  CHECK_FALSE(registry.wasReplaced("web-1", "conn-1"));
  quotas.drops("web-1").sessionsReplaced = 2;
  CHECK(registry.find("web-1", 42'000)->dropped.sessionsReplaced == 2);
  CHECK_FALSE(registry.touch("unknown", 42'000));
}

TEST_CASE("[limits] has safe defaults and names the file, key and value of a bad one") {
  auto config = parseCoordinatorConfig("", "coordinator.toml");
  REQUIRE(config.ok());
  CHECK(config->limits.telemetryWindowsPerSecond == 20);
  CHECK(config->limits.telemetryBytesPerSecond == 1 << 20);
  CHECK(config->limits.messagesPerSecond == 1000);
  CHECK(config->limits.burstSeconds == 30);
  CHECK(config->limits.pendingChunkRequests == 8);
  CHECK(config->limits.eventRetentionDays == 90);
  CHECK(config->limits.eventMaxRows == 1'000'000);
  auto read = parseCoordinatorConfig(
      "[limits]\ntelemetry_windows_per_second = 5\ntelemetry_bytes_per_second = 4096\n"
      "messages_per_second = 50\nburst_seconds = 3\npending_chunk_requests = 4\n"
      "event_retention_days = 7\nevent_max_rows = 5000\n",
      "c.toml");
  REQUIRE(read.ok());
  CHECK(read->limits.telemetryWindowsPerSecond == 5);
  CHECK(read->limits.telemetryBytesPerSecond == 4096);
  CHECK(read->limits.messagesPerSecond == 50);
  CHECK(read->limits.burstSeconds == 3);
  CHECK(read->limits.pendingChunkRequests == 4);
  CHECK(read->limits.eventRetentionDays == 7);
  CHECK(read->limits.eventMaxRows == 5000);
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {"[limits]\ntelemetry_windows_per_second = 0\n", "telemetry_windows_per_second"},
           {"[limits]\nmessages_per_second = \"fast\"\n", "messages_per_second"},
           {"[limits]\npending_chunk_requests = 5000\n", "pending_chunk_requests"},
           {"[limits]\nevent_max_rows = 10\n", "event_max_rows"}}) {
    auto bad = parseCoordinatorConfig(text, "/etc/rollgate/coordinator.toml");
    REQUIRE_FALSE(bad.ok());
    INFO(bad.error().message);
    CHECK(bad.error().message.find("coordinator.toml") != std::string::npos);
    CHECK(bad.error().message.find(key) != std::string::npos);
  }
}

TEST_CASE("the event log keeps what is newer than its retention, up to its row bound") {
  testing::ScopedTempDir dir;
  auto store = SqliteStore::open(dir.path());
  REQUIRE(store.ok());
  for (std::uint64_t i = 0; i < 100; ++i) {
    REQUIRE((*store)->recordEvent(EventRecord{1000 + i, "test", "h", "r-1", "event"}).ok());
  }
  auto byAge = (*store)->pruneEvents(1010, 1'000'000);
  REQUIRE(byAge.ok());
  CHECK(*byAge == 10);
  auto byRows = (*store)->pruneEvents(0, 30);
  REQUIRE(byRows.ok());
  CHECK(*byRows == 60);
  auto left = (*store)->eventsOf("r-1");
  REQUIRE(left.ok());
  REQUIRE(left->size() == 30);
  CHECK(left->front().atMillis == 1070);  // the newest are kept
}

}  // namespace
}  // namespace rollgate::coordinator
