// The collector keeps every finished window in the durable backlog together with the log
// positions after it, so a restart neither loses nor re-reads the lines of a kept window.
#include "agent/telemetry/telemetry_collector.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "tests/unit/telemetry/test_files.h"

using namespace rollgate::agent;
using rollgate::testing::LogWriter;
using rollgate::testing::TempDir;

namespace {

const std::string kLine =
    R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl")" "\n";

TelemetryCollectorConfig configIn(const TempDir& dir) {
  TelemetryCollectorConfig config;
  config.stateDir = dir.file("state");
  CollectedService service;
  service.telemetry.service = "web";
  service.telemetry.accessLogPath = dir.file("access.log");
  service.telemetry.window.windowMillis = 1000;
  service.unit = "web.service";
  config.services.push_back(service);
  return config;
}

std::unique_ptr<TelemetryCollector> collectorIn(const TempDir& dir, std::uint64_t nowMillis) {
  auto collector = TelemetryCollector::create(configIn(dir), {"1.0.0"}, nullptr,
                                              rollgate::makeLogger("test", "off"), nowMillis);
  REQUIRE_MESSAGE(collector.ok(), (collector.ok() ? "" : collector.error().message));
  return std::move(*collector);
}

std::uint64_t requests(const std::vector<rollgate::TelemetryWindow>& windows) {
  std::uint64_t sum = 0;
  for (const auto& window : windows) sum += window.requests;
  return sum;
}

}  // namespace

TEST_CASE("windows wait in the backlog until acknowledged, across a restart") {
  TempDir dir;
  LogWriter access(dir.file("access.log"));
  {
    auto collector = collectorIn(dir, 1000);
    access.raw(kLine + kLine + kLine);
    collector->tick({"1.0.0"}, 2000);
    auto windows = collector->unsent(10);
    REQUIRE(windows.size() == 1);
    CHECK(windows[0].requests == 3);
    CHECK(windows[0].release == "1.0.0");
    collector->markSent(windows[0].sequence);
    CHECK(collector->unsent(10).empty());
  }
  // Killed before the acknowledgement: the window is still owed, and its lines are not re-read.
  access.raw(kLine);
  auto collector = collectorIn(dir, 3000);
  collector->tick({"1.0.0"}, 4000);
  auto windows = collector->unsent(10);
  REQUIRE(windows.size() == 2);
  CHECK(windows[0].requests == 3);
  CHECK(windows[1].requests == 1);
  CHECK(windows[1].droppedBefore == 0);
  collector->acknowledge(windows[1].sequence);
  CHECK(collector->backlog().empty());
}

TEST_CASE("a crash between keeping a window and saving positions does not count its lines twice") {
  TempDir dir;
  LogWriter access(dir.file("access.log"));
  const std::string stateFile = dir.file("state/telemetry-web.state");
  const std::string savedCopy = dir.file("positions-before");
  {
    auto collector = collectorIn(dir, 1000);
    collector->tick({"1.0.0"}, 2000);  // an empty first window: positions are saved
    std::filesystem::copy_file(stateFile, savedCopy);
    access.raw(kLine + kLine);
    collector->tick({"1.0.0"}, 3000);
  }
  // The positions file as it was before the second window: the crash came between the two writes.
  std::filesystem::copy_file(savedCopy, stateFile, std::filesystem::copy_options::overwrite_existing);
  access.raw(kLine);
  auto collector = collectorIn(dir, 4000);
  collector->tick({"1.0.0"}, 5000);
  auto windows = collector->unsent(10);
  CHECK(requests(windows) == 3);
  REQUIRE(windows.size() == 3);
  CHECK(windows.back().requests == 1);
}

TEST_CASE("a release switch cuts the window; an unusable state directory is an error") {
  TempDir dir;
  LogWriter access(dir.file("access.log"));
  auto collector = collectorIn(dir, 1000);
  access.raw(kLine);
  collector->tick({"1.0.0"}, 1200);
  collector->tick({"2.0.0"}, 1400);
  auto windows = collector->unsent(10);
  REQUIRE(windows.size() == 1);
  CHECK(windows[0].release == "1.0.0");
  CHECK(windows[0].endMillis == 1400);

  TempDir other;
  { LogWriter plain(other.file("plain")); }
  auto config = configIn(other);
  config.stateDir = other.file("plain");
  auto refused = TelemetryCollector::create(config, {"1.0.0"}, nullptr,
                                            rollgate::makeLogger("test", "off"), 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(other.file("plain/telemetry-backlog")) != std::string::npos);
}
