// The durable telemetry backlog: windows survive a restart until acknowledged, the bounds drop the
// oldest, and every drop is reported (as droppedBefore) even across restarts.
#include "agent/telemetry/backlog.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/unit/telemetry/test_files.h"

using rollgate::TelemetryWindow;
using rollgate::agent::BacklogLimits;
using rollgate::agent::TelemetryBacklog;
using rollgate::testing::TempDir;

namespace {

constexpr std::uint64_t kNow = 1'700'000'000'000;

TelemetryWindow windowAt(std::uint64_t start, const std::string& service = "web") {
  TelemetryWindow window;
  window.service = service;
  window.release = "1.0.0";
  window.startMillis = start;
  window.endMillis = start + 10;
  window.requests = start;
  window.status2xx = start;
  return window;
}

std::unique_ptr<TelemetryBacklog> openBacklog(const TempDir& dir, BacklogLimits limits = {}) {
  auto backlog = TelemetryBacklog::open(dir.file("backlog"), limits, kNow);
  REQUIRE(backlog.ok());
  return std::move(*backlog);
}

std::vector<std::uint64_t> starts(const std::vector<TelemetryWindow>& windows) {
  std::vector<std::uint64_t> out;
  for (const auto& window : windows) out.push_back(window.startMillis);
  return out;
}

std::size_t windowFiles(const TempDir& dir) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("backlog"))) {
    if (entry.path().extension() == ".window") ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a new backlog numbers from the wall clock and hands windows out oldest first") {
  TempDir dir;
  auto backlog = openBacklog(dir);
  CHECK(backlog->nextSequence() == kNow);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto pushed = backlog->push(windowAt(i * 10), "annex");
    CHECK(pushed.sequence == kNow + i);
    CHECK(pushed.droppedNow == 0);
    CHECK_FALSE(pushed.error);
  }
  auto out = backlog->unsent(2);
  CHECK(starts(out) == std::vector<std::uint64_t>{0, 10});
  CHECK(out[0].sequence == kNow);
  CHECK(out[1].sequence == kNow + 1);
  CHECK(out[0].droppedBefore == 0);
  backlog->markSent(out.back().sequence);
  CHECK(starts(backlog->unsent(10)) == std::vector<std::uint64_t>{20});
  // A new session: everything not acknowledged goes again.
  backlog->resendAll();
  CHECK(backlog->unsent(10).size() == 3);
  REQUIRE(backlog->acknowledge(kNow + 1).ok());
  CHECK(starts(backlog->unsent(10)) == std::vector<std::uint64_t>{20});
  CHECK(backlog->size() == 1);
  CHECK(windowFiles(dir) == 1);
}

TEST_CASE("a restart keeps every window not acknowledged, sent or not, with its annex") {
  TempDir dir;
  {
    auto backlog = openBacklog(dir);
    for (std::uint64_t i = 0; i < 4; ++i) {
      CHECK_FALSE(backlog->push(windowAt(i * 10), "positions " + std::to_string(i)).error);
    }
    backlog->markSent(kNow + 2);  // three sent, none acknowledged: then the agent dies
    REQUIRE(backlog->acknowledge(kNow).ok());
  }
  auto backlog = openBacklog(dir);
  auto out = backlog->unsent(10);
  CHECK(starts(out) == std::vector<std::uint64_t>{10, 20, 30});
  CHECK(out[0].droppedBefore == 0);
  CHECK(out[0].requests == 10);  // the content survives, not just the number
  CHECK(backlog->nextSequence() == kNow + 4);
  auto annex = backlog->newestAnnex("web");
  REQUIRE(annex);
  CHECK(annex->first == kNow + 3);
  CHECK(annex->second == "positions 3");
  CHECK_FALSE(backlog->newestAnnex("api"));
}

TEST_CASE("the count bound drops the oldest and the next window says how many are missing") {
  TempDir dir;
  auto backlog = openBacklog(dir, BacklogLimits{3, 1 << 20});
  std::size_t droppedNow = 0;
  for (std::uint64_t i = 0; i < 5; ++i) droppedNow += backlog->push(windowAt(i * 10), "").droppedNow;
  CHECK(droppedNow == 2);
  CHECK(backlog->droppedTotal() == 2);
  CHECK(backlog->size() == 3);
  CHECK(windowFiles(dir) == 3);
  auto out = backlog->unsent(10);
  CHECK(starts(out) == std::vector<std::uint64_t>{20, 30, 40});
  CHECK(out[0].droppedBefore == 2);
  CHECK(out[1].droppedBefore == 0);
  CHECK(out[2].droppedBefore == 0);
}

TEST_CASE("the byte bound drops the oldest too; a window over it alone is dropped and counted") {
  TempDir dir;
  std::uint64_t oneWindowBytes = 0;
  {
    TempDir probe;
    auto sizing = openBacklog(probe);
    (void)sizing->push(windowAt(0), "");
    oneWindowBytes = sizing->sizeBytes();
  }
  auto backlog = openBacklog(dir, BacklogLimits{100, oneWindowBytes * 2 + oneWindowBytes / 2});
  for (std::uint64_t i = 0; i < 4; ++i) (void)backlog->push(windowAt(i * 10), "");
  CHECK(backlog->size() == 2);
  CHECK(backlog->sizeBytes() <= oneWindowBytes * 2 + oneWindowBytes / 2);
  auto huge = backlog->push(windowAt(40), std::string(oneWindowBytes * 3, 'x'));
  CHECK(huge.droppedNow == 1);
  REQUIRE(huge.error);
  CHECK(huge.error->message.find("over the backlog's bound") != std::string::npos);
  (void)backlog->push(windowAt(50), "");
  auto out = backlog->unsent(10);
  CHECK(starts(out) == std::vector<std::uint64_t>{30, 50});
  CHECK(out[0].droppedBefore == 3);  // 0, 10, 20
  CHECK(out[1].droppedBefore == 1);  // the oversized 40
}

TEST_CASE("the drop count survives a restart, even when the dropped window was the newest") {
  TempDir dir;
  {
    auto backlog = openBacklog(dir, BacklogLimits{2, 1 << 20});
    for (std::uint64_t i = 0; i < 5; ++i) (void)backlog->push(windowAt(i * 10), "");
    REQUIRE(backlog->acknowledge(kNow - 1).ok());  // nothing new acknowledged
  }
  {
    auto backlog = openBacklog(dir, BacklogLimits{2, 1 << 20});
    auto out = backlog->unsent(10);
    CHECK(starts(out) == std::vector<std::uint64_t>{30, 40});
    CHECK(out[0].droppedBefore == 3);
    // The newest window is refused (over the byte bound); then the agent dies.
    auto refused = backlog->push(windowAt(50), std::string(2 << 20, 'x'));
    CHECK(refused.droppedNow == 1);
  }
  auto backlog = openBacklog(dir, BacklogLimits{2, 1 << 20});
  (void)backlog->push(windowAt(60), "");  // 30 is dropped by the count bound now
  auto out = backlog->unsent(10);
  CHECK(starts(out) == std::vector<std::uint64_t>{40, 60});
  CHECK(out[0].droppedBefore == 4);  // 0, 10, 20, 30
  CHECK(out[1].droppedBefore == 1);  // 50, refused before the restart
}

TEST_CASE("acknowledged windows stay forgotten after a restart; stale files are removed") {
  TempDir dir;
  {
    auto backlog = openBacklog(dir);
    for (std::uint64_t i = 0; i < 3; ++i) (void)backlog->push(windowAt(i * 10), "");
    REQUIRE(backlog->acknowledge(kNow + 1).ok());
    // An acknowledgement beyond anything handed out is clamped.
    REQUIRE(backlog->acknowledge(kNow + 1000).ok());
    CHECK(backlog->ackedThrough() == kNow + 2);
    CHECK(backlog->empty());
  }
  // A crash between the meta write and the unlink leaves the file of an acknowledged window.
  auto sequenceFile = [&](std::uint64_t sequence) {
    char name[32];
    std::snprintf(name, sizeof name, "%020llu.window", static_cast<unsigned long long>(sequence));
    return dir.file("backlog/" + std::string(name));
  };
  { rollgate::testing::LogWriter stale(sequenceFile(kNow + 1)); stale.raw("anything"); }
  { rollgate::testing::LogWriter leftover(dir.file("backlog/meta.tmp")); leftover.raw("x"); }
  auto backlog = openBacklog(dir);
  CHECK(backlog->empty());
  CHECK(windowFiles(dir) == 0);
  CHECK_FALSE(std::filesystem::exists(dir.file("backlog/meta.tmp")));
  auto pushed = backlog->push(windowAt(30), "");
  CHECK(pushed.sequence == kNow + 3);
  CHECK(backlog->unsent(10).at(0).droppedBefore == 0);
}

TEST_CASE("a corrupt window file is removed and counted as dropped") {
  TempDir dir;
  {
    auto backlog = openBacklog(dir);
    for (std::uint64_t i = 0; i < 3; ++i) (void)backlog->push(windowAt(i * 10), "");
  }
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.window", static_cast<unsigned long long>(kNow + 1));
  { rollgate::testing::LogWriter corrupt(dir.file("backlog/" + std::string(name)), false); corrupt.raw("garbage"); }
  auto backlog = openBacklog(dir);
  auto out = backlog->unsent(10);
  CHECK(starts(out) == std::vector<std::uint64_t>{0, 20});
  CHECK(out[1].droppedBefore == 1);
}

TEST_CASE("a backlog directory that cannot be created is an error naming it") {
  TempDir dir;
  { rollgate::testing::LogWriter file(dir.file("plain")); }
  auto backlog = TelemetryBacklog::open(dir.file("plain/backlog"), {}, kNow);
  REQUIRE_FALSE(backlog.ok());
  CHECK(backlog.error().message.find(dir.file("plain/backlog")) != std::string::npos);
}
