// What keeps a report, a key file or a version from failing silently: honest truncation
// (common/text_fit.h) and what fitToWire makes of an oversized command result (common/codec.h),
// the coordinator's reading of a refused result, the one version grammar (common/version.h), the
// secret key file checks (common/keys.h), private state files (common/sys/env.h) and log levels.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/codec.h"
#include "common/keys.h"
#include "common/log_level.h"
#include "common/sys/private_files.h"
#include "common/text_fit.h"
#include "common/version.h"
#include "common/wire_fit.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate {
namespace {

using rollgate::testing::ScopedTempDir;
using rollgate::testing::writeFile;

// True when `text` is well-formed UTF-8 (no cut character anywhere).
bool validUtf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > text.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("truncateUtf8: text that fits is unchanged; longer text is cut with the count, in bounds") {
  CHECK(truncateUtf8("short", 100) == "short");
  CHECK(truncateUtf8(std::string(100, 'x'), 100) == std::string(100, 'x'));
  std::string cut = truncateUtf8(std::string(1000, 'x'), 100);
  CHECK(cut.size() <= 100);
  // What was kept plus what the marker says was cut is the whole.
  std::size_t kept = cut.find("\xE2\x80\xA6 [truncated ");
  REQUIRE(kept != std::string::npos);
  CHECK(cut == std::string(kept, 'x') + truncationMarker(1000 - kept));
  // The marker's digits change the room left: every limit near a digit boundary stays in bounds.
  for (std::size_t total : {50u, 130u, 1009u, 10'020u, 100'030u}) {
    for (std::size_t limit = 20; limit < 60; ++limit) {
      std::string text(total, 'y');
      std::string out = truncateUtf8(text, limit);
      CAPTURE(total);
      CAPTURE(limit);
      CHECK(out.size() <= limit);
      if (total > limit) {
        std::size_t at = out.find("\xE2\x80\xA6 [truncated ");
        if (at != std::string::npos) CHECK(out == text.substr(0, at) + truncationMarker(total - at));
      }
    }
  }
  // Too small for the marker: a plain prefix.
  CHECK(truncateUtf8("abcdefgh", 3) == "abc");
}

TEST_CASE("truncateUtf8 never splits a character, whatever the limit") {
  // 2-, 3- and 4-byte characters mixed: é, €, 𝄞.
  std::string text;
  for (int i = 0; i < 200; ++i) text += i % 3 == 0 ? "\xC3\xA9" : i % 3 == 1 ? "\xE2\x82\xAC" : "\xF0\x9D\x84\x9E";
  REQUIRE(validUtf8(text));
  for (std::size_t limit = 0; limit < 80; ++limit) {
    std::string out = truncateUtf8(text, limit);
    CAPTURE(limit);
    CHECK(out.size() <= limit);
    CHECK(validUtf8(out));
  }
}

TEST_CASE("fitToWire: an oversized failure report is cut to the wire's limits and then validates") {
  CommandResult result;
  result.command = CommandRef{"r-1", 3, 7};
  result.service = "web";
  result.outcome = Outcome::kFailed;
  result.message = "health check http://127.0.0.1/" + std::string(200'000, 'x') + " failed";
  for (int i = 0; i < 500; ++i) result.events.push_back("event " + std::to_string(i) + std::string(3000, 'e'));
  AgentMessage message = result;
  CHECK_FALSE(validate(message).ok());  // as the agent used to send it: refused
  CHECK(fitToWire(message) > 0);
  REQUIRE_MESSAGE(validate(message).ok(), validate(message).error().message);
  const auto& fitted = std::get<CommandResult>(message);
  CHECK(fitted.message.size() <= kMaxResultMessageBytes);
  CHECK(fitted.message.starts_with("health check http://127.0.0.1/xxx"));
  CHECK(fitted.message.find("[truncated ") != std::string::npos);
  REQUIRE(fitted.events.size() == kMaxResultEvents);
  CHECK(fitted.events.front().starts_with("event 0"));
  CHECK(fitted.events.back().starts_with("event 499"));
  CHECK(fitted.events[31] == "\xE2\x80\xA6 [437 events truncated]");
  for (const auto& e : fitted.events) CHECK(e.size() <= kMaxResultEventBytes);
  // Encoded, it fits the frame limit by far and decodes to the same result.
  std::string frame = encode(message);
  CHECK(frame.size() < kMaxAgentMessageBytes);
  auto decoded = decodeAgentMessage(bytesOf(frame));
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().message);
  CHECK(std::get<CommandResult>(*decoded) == fitted);
  // A report that fits is left alone.
  AgentMessage small = CommandResult{CommandRef{"r-1", 1, 1}, "web", Outcome::kSucceeded, "1.0", "ok", {"a"}, 1, false, 0, 0};
  AgentMessage copy = small;
  CHECK(fitToWire(copy) == 0);
  CHECK(copy == small);
}

TEST_CASE("fitToWire: more releases on disk than the wire carries reports the first (newest) ones") {
  Heartbeat heartbeat;
  ServiceRelease service{"web", "100", {}};
  for (int i = 100; i > 0; --i) service.releases.push_back(std::to_string(i));
  heartbeat.services.push_back(service);
  AgentMessage message = heartbeat;
  CHECK_FALSE(validate(message).ok());
  CHECK(fitToWire(message) == 1);
  CHECK(validate(message).ok());
  const auto& releases = std::get<Heartbeat>(message).services[0].releases;
  CHECK(releases.size() == kMaxReportedReleases);
  CHECK(releases.front() == "100");
}

TEST_CASE("peekRefusedResult: a result the decoder refuses still names its command") {
  CommandResult result;
  result.command = CommandRef{"r-9", 4, 2};
  result.service = "web";
  result.message = std::string(kMaxResultMessageBytes + 1, 'm');  // over the limit: refused
  std::string frame = encode(AgentMessage{result});
  Bytes bytes(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  auto decoded = decodeAgentMessage(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().message.find("commandResult.message") != std::string::npos);
  auto refused = peekRefusedResult(bytes);
  REQUIRE(refused.has_value());
  CHECK(refused->command == result.command);
  CHECK(refused->service == "web");
  CHECK_FALSE(refused->progress);
  // Not a result, or not a frame at all: nothing to fail.
  std::string heartbeat = encode(AgentMessage{Heartbeat{}});
  CHECK_FALSE(peekRefusedResult(bytesOf(heartbeat)).has_value());
  std::string garbage(64, '\x7f');
  CHECK_FALSE(peekRefusedResult(bytesOf(garbage)).has_value());
}

TEST_CASE("one version grammar: the codec, the agent and the coordinator agree") {
  for (const char* good : {"1.0", "1.0.0-rc1", "2024.01.05", "v10", "1.2.3+build_4-x", "A"}) {
    CAPTURE(good);
    CHECK(validateVersion(good).ok());
    CHECK(isValidVersion(good));
  }
  for (std::string bad : {std::string("1.0~rc1"), std::string(""), std::string(".1"),
                          std::string("-1"), std::string("_1"), std::string("+1"),
                          std::string("1/2"), std::string("1 2"), std::string("1\n"),
                          std::string(129, '1'), std::string("1.0\xC3\xA9")}) {
    CAPTURE(bad);
    CHECK_FALSE(validateVersion(bad).ok());
    CHECK_FALSE(isValidVersion(bad));
  }
  CHECK(validateVersion(std::string(128, '1')).ok());
  auto tilde = validateVersion("1.0~rc1");
  REQUIRE_FALSE(tilde.ok());
  CHECK(tilde.error().message ==
        "version '1.0~rc1': '~' is not allowed: only letters, digits and . _ + - are "
        "(docs/versions.md)");
  // The wire refuses it too, naming the field.
  AgentMessage hello = Hello{"h", "eu", "eu-a", "1", {ServiceRelease{"web", "1.0~rc1", {}}}, 0, {}};
  auto status = validate(hello);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("hello.services[0].activeRelease") != std::string::npos);
  CHECK(status.error().message.find("'~' is not allowed") != std::string::npos);
}

TEST_CASE("secret key files: owned by the reader, mode 0600 or stricter, else a fix is named") {
  ScopedTempDir dir;
  CurveKeyPair pair = generateCurveKeyPair();
  REQUIRE(writeKeyPair(dir / "daemon", pair, false).ok());
  CHECK(modeOf(dir / "daemon.key") == 0600);
  auto read = readSecretKeyFile(dir / "daemon.key");
  REQUIRE_MESSAGE(read.ok(), read.error().message);
  CHECK(*read == pair.secretKey);
  for (unsigned mode : {0644u, 0640u, 0604u, 0620u, 0602u, 0666u}) {
    REQUIRE(::chmod((dir / "daemon.key").c_str(), mode) == 0);
    auto refused = readSecretKeyFile(dir / "daemon.key");
    CAPTURE(mode);
    REQUIRE_FALSE(refused.ok());
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    CHECK(refused.error().message == "secret key file " + dir / "daemon.key" + " has mode " +
                                         octal + ": group or others may read or write it; fix: " +
                                         "chmod 600 " + dir / "daemon.key");
  }
  REQUIRE(::chmod((dir / "daemon.key").c_str(), 0400) == 0);
  CHECK(readSecretKeyFile(dir / "daemon.key").ok());
  // Another owner (checked without root: the pure check with another uid).
  auto other = checkSecretFileMode("/etc/k.key", ::geteuid() + 1, 0100600, ::geteuid());
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message.find("/etc/k.key is owned by") != std::string::npos);
  CHECK(other.error().message.find("fix: chown ") != std::string::npos);
  CHECK(readSecretKeyFile(dir / "missing.key").error().message.find(dir / "missing.key") !=
        std::string::npos);
}

TEST_CASE("private state: directories 0700 and files 0600 whatever the umask") {
  ScopedTempDir dir;
  mode_t old = ::umask(0);
  auto created = sys::createPrivateDir(dir / "state");
  auto file = sys::ensurePrivateFile(dir / "state/db");
  ::umask(old);
  REQUIRE(created.ok());
  REQUIRE(file.ok());
  CHECK(modeOf(dir / "state") == 0700);
  CHECK(modeOf(dir / "state/db") == 0600);
  // An existing file left readable by others is tightened.
  writeFile(dir / "state/wal", "x");
  REQUIRE(::chmod((dir / "state/wal").c_str(), 0644) == 0);
  REQUIRE(sys::ensurePrivateFile(dir / "state/wal").ok());
  CHECK(modeOf(dir / "state/wal") == 0600);
}

TEST_CASE("log levels: the accepted ones, and the problem named for any other") {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    CHECK(isValidLogLevel(level));
  }
  for (const char* level : {"", "INFO", "warning", "inf", "verbose"}) CHECK_FALSE(isValidLogLevel(level));
  CHECK(logLevelProblem("verbose") ==
        "expected one of trace, debug, info, warn, error, critical, off, got \"verbose\"");
}

}  // namespace
}  // namespace rollgate
