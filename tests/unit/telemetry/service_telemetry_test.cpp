#include "agent/telemetry/service_telemetry.h"

#include <doctest/doctest.h>
#include <poll.h>

#include <chrono>
#include <functional>
#include <vector>

#include "tests/unit/telemetry/test_files.h"

using namespace rollgate::agent;
using rollgate::testing::LogWriter;
using rollgate::testing::TempDir;

namespace {

const std::string kLine = R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" )";

std::string accessLine(int status, const char* seconds) {
  return kLine + std::to_string(status) + R"( 5 "-" "curl" )" + seconds + "\n";
}

void pumpUntil(ServiceTelemetry& telemetry, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (int fd : telemetry.fds()) fds.push_back({fd, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 100);
    for (const auto& item : fds) {
      if ((item.revents & POLLIN) != 0) telemetry.onReadable(item.fd);
    }
  }
}

}  // namespace

TEST_CASE("follower state encodes to one line and back; bad text is an error naming it") {
  const FollowerState state{12345, 2049, 987, std::string("ab\n\0\xff", 5)};
  const auto text = encodeFollowerState(state);
  CHECK(text == "12345 2049 987 61620a00ff");
  auto decoded = decodeFollowerState(text);
  REQUIRE(decoded.ok());
  CHECK(*decoded == state);
  auto empty = decodeFollowerState(encodeFollowerState(FollowerState{1, 2, 0, ""}));
  REQUIRE(empty.ok());
  CHECK(empty->fingerprint.empty());
  for (const char* bad : {"", "1 2 3", "1 2 x -", "1 2 3 abc", "1 2 3 zz", "-1 2 3 -"}) {
    CAPTURE(bad);
    auto result = decodeFollowerState(bad);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find(std::string("'") + bad + "'") != std::string::npos);
  }
}

TEST_CASE("a service pipeline: access and error logs into windows, cut at a release switch") {
  TempDir dir;
  ServiceTelemetryConfig config;
  config.service = "web";
  config.accessLogPath = dir.file("access.log");
  config.accessLogFormat = "combined_rt";
  config.errorLogPath = dir.file("error.log");
  config.window.windowMillis = 1000;
  LogWriter access(config.accessLogPath);
  LogWriter errors(config.errorLogPath);
  access.raw(accessLine(200, "0.001"));  // history: not replayed
  auto created = ServiceTelemetry::create(config, "v1", 5000);
  REQUIRE(created.ok());
  ServiceTelemetry& telemetry = **created;
  CHECK(telemetry.fds().size() == 2);

  access.raw(accessLine(200, "0.010") + accessLine(500, "0.300") + "garbage\n");
  errors.raw("2024/01/01 [error] 1#1: boom\n2024/01/01 [notice] 1#1: fine\n");
  pumpUntil(telemetry, [&] { return telemetry.accessLines() == 3; });
  auto old =
      telemetry.switchRelease("v2", 5400, ResourceSample{.cpuMillis = 10, .memoryBytes = 1 << 20});
  REQUIRE(old.has_value());
  CHECK(old->release == "v1");
  CHECK(old->requests == 2);
  CHECK(old->status5xx == 1);
  CHECK(old->unparsedLines == 1);
  CHECK(old->errorLogLines == 1);
  CHECK(old->memoryBytes == 1 << 20);

  access.raw(accessLine(404, "0.002"));
  pumpUntil(telemetry, [&] { return telemetry.accessLines() == 4; });
  CHECK_FALSE(telemetry.onTimer(6399).has_value());
  auto next = telemetry.onTimer(6400, ResourceSample{.cpuMillis = 35, .memoryBytes = 2 << 20});
  REQUIRE(next.has_value());
  CHECK(next->release == "v2");
  CHECK(next->startMillis == 5400);
  CHECK(next->requests == 1);
  CHECK(next->status4xx == 1);
  CHECK(next->cpuMillis == 25);

  // Restart with the saved positions: lines written while stopped land in the first window.
  const auto saved = telemetry.state();
  REQUIRE(saved.accessLog.has_value());
  created.value().reset();
  access.raw(accessLine(200, "0.001") + accessLine(201, "0.001"));
  auto restarted = ServiceTelemetry::create(config, "v2", 7000, saved);
  REQUIRE(restarted.ok());
  auto window = (*restarted)->onTimer(8000);
  REQUIRE(window.has_value());
  CHECK(window->requests == 2);
  CHECK(window->errorLogLines == 0);
}

TEST_CASE("bad configuration names the service and the value") {
  ServiceTelemetryConfig config;
  config.service = "api";
  config.accessLogFormat = "$remote_addr";
  auto result = ServiceTelemetry::create(config, "v1", 0);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message.find("service 'api': log_format: no '$status'") == 0);
  config.accessLogFormat = "combined";
  config.errorPattern = "(";
  CHECK(ServiceTelemetry::create(config, "v1", 0).ok());  // no error log: the pattern is unused
  config.errorLogPath = "/nonexistent/error.log";
  result = ServiceTelemetry::create(config, "v1", 0);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message.find("service 'api': error log pattern '('") == 0);
}
