// ConfigReader unit tests: values are read with their types and ranges, and every mistake an
// operator can make gives an error naming the file, the key, what was expected and what was found.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate {
namespace {

ConfigReader parse(const std::string& text) {
  auto reader = ConfigReader::parseString(text, "/etc/rollgate/test.toml");
  INFO("parse error: " << (reader.ok() ? std::string() : reader.error().message));
  REQUIRE(reader.ok());
  return std::move(*reader);
}

void requireError(const Status& status, const std::vector<std::string>& needles) {
  REQUIRE_FALSE(status.ok());
  const std::string& message = status.error().message;
  INFO("error: " << message);
  for (const auto& needle : needles) CHECK(message.find(needle) != std::string::npos);
}

TEST_CASE("values of every type are read, absent keys keep their defaults") {
  ConfigReader reader = parse(R"(
[agent]
name = "web-eu-1"
enabled = true
count = 7
ratio = 0.25
whole = 3
tags = ["a", "b"]
)");
  ConfigReader agent = reader.table("agent");
  std::string name;
  bool enabled = false;
  std::int64_t count = 0;
  std::int64_t absent = 99;
  double ratio = 0;
  double whole = 0;
  std::vector<std::string> tags;
  agent.get("name", name);
  agent.get("enabled", enabled);
  agent.get("count", count, 1, 10);
  agent.get("absent", absent, 1, 1000);
  agent.get("ratio", ratio, 0.0, 1.0);
  agent.get("whole", whole, 0.0, 10.0);  // an integer is accepted where a number is expected
  agent.get("tags", tags);
  CHECK(name == "web-eu-1");
  CHECK(enabled);
  CHECK(count == 7);
  CHECK(absent == 99);
  CHECK(ratio == doctest::Approx(0.25));
  CHECK(whole == doctest::Approx(3.0));
  CHECK(tags == std::vector<std::string>{"a", "b"});
  CHECK(agent.has("name"));
  CHECK_FALSE(agent.has("absent"));
  CHECK(reader.finish().ok());
  CHECK(reader.source() == "/etc/rollgate/test.toml");
}

TEST_CASE("a syntax error names the file, line and column") {
  auto reader = ConfigReader::parseString("[agent]\nregion = \"eu\"\nbroken = \n", "agent.toml");
  REQUIRE_FALSE(reader.ok());
  INFO(reader.error().message);
  CHECK(reader.error().message.rfind("agent.toml:3:", 0) == 0);
}

TEST_CASE("a missing file names the path") {
  rollgate::testing::ScopedTempDir dir;
  auto reader = ConfigReader::parseFile(dir / "nope.toml");
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().message.find(dir / "nope.toml") != std::string::npos);
}

TEST_CASE("a file is read from disk and its path is the source in errors") {
  rollgate::testing::ScopedTempDir dir;
  rollgate::testing::writeFile(dir / "c.toml", "[agent]\nregion = 3\n");
  auto reader = ConfigReader::parseFile(dir / "c.toml");
  REQUIRE(reader.ok());
  std::string region;
  reader->table("agent").get("region", region);
  requireError(reader->finish(), {dir / "c.toml", "'agent.region'", "expected a string",
                                  "integer 3"});
}

TEST_CASE("a wrong type names the file, the qualified key, what was expected and what was found") {
  SUBCASE("string expected, integer found") {
    ConfigReader reader = parse("[agent]\nregion = 3\n");
    std::string region = "default";
    reader.table("agent").get("region", region);
    CHECK(region == "default");
    requireError(reader.finish(),
                 {"/etc/rollgate/test.toml", "key 'agent.region'", "expected a string",
                  "got integer 3"});
  }
  SUBCASE("integer expected, string found") {
    ConfigReader reader = parse("[agent]\nheartbeat_seconds = \"5s\"\n");
    std::int64_t seconds = 5;
    reader.table("agent").get("heartbeat_seconds", seconds, 1, 3600);
    requireError(reader.finish(), {"key 'agent.heartbeat_seconds'", "expected an integer",
                                   "got string \"5s\""});
  }
  SUBCASE("boolean expected, string found") {
    ConfigReader reader = parse("enabled = \"yes\"\n");
    bool enabled = false;
    reader.get("enabled", enabled);
    requireError(reader.finish(), {"key 'enabled'", "expected true or false", "string \"yes\""});
  }
  SUBCASE("number expected, boolean found") {
    ConfigReader reader = parse("ratio = true\n");
    double ratio = 0.5;
    reader.get("ratio", ratio, 0.0, 1.0);
    requireError(reader.finish(), {"key 'ratio'", "expected a number", "boolean true"});
  }
  SUBCASE("array of strings expected, one element is an integer") {
    ConfigReader reader = parse("tags = [\"a\", 2]\n");
    std::vector<std::string> tags{"keep"};
    reader.get("tags", tags);
    CHECK(tags == std::vector<std::string>{"keep"});
    requireError(reader.finish(), {"key 'tags'", "array of strings", "element 1", "integer 2"});
  }
  SUBCASE("array expected, string found") {
    ConfigReader reader = parse("tags = \"a\"\n");
    std::vector<std::string> tags;
    reader.get("tags", tags);
    requireError(reader.finish(), {"key 'tags'", "expected an array of strings", "string \"a\""});
  }
}

TEST_CASE("an out-of-range integer names the range and the value, and leaves the default") {
  ConfigReader reader = parse("[agent]\nheartbeat_seconds = 0\nwindow_seconds = 99999\n");
  ConfigReader agent = reader.table("agent");
  std::int64_t heartbeat = 5;
  std::int64_t window = 10;
  agent.get("heartbeat_seconds", heartbeat, 1, 3600);
  agent.get("window_seconds", window, 1, 3600);
  CHECK(heartbeat == 5);
  CHECK(window == 10);
  // The first error is reported.
  requireError(reader.finish(),
               {"key 'agent.heartbeat_seconds'", "from 1 to 3600", "got integer 0"});
}

TEST_CASE("an out-of-range float names the range") {
  ConfigReader reader = parse("ratio = 1.5\n");
  double ratio = 0.5;
  reader.get("ratio", ratio, 0.0, 1.0);
  CHECK(ratio == doctest::Approx(0.5));
  requireError(reader.finish(), {"key 'ratio'", "expected a number from 0 to 1", "1.5"});
}

TEST_CASE("an unknown key is an error naming the key, even in a known table") {
  ConfigReader reader = parse("[agent]\nregion = \"eu\"\nheartbeat_second = 5\n");
  std::string region;
  std::int64_t heartbeat = 5;
  reader.table("agent").get("region", region);
  reader.table("agent").get("heartbeat_seconds", heartbeat, 1, 60);
  requireError(reader.finish(), {"/etc/rollgate/test.toml", "unknown key 'agent.heartbeat_second'"});
}

TEST_CASE("an unknown table is an error naming the table") {
  ConfigReader reader = parse("[agnet]\nregion = \"eu\"\n");
  (void)reader.table("agent");
  requireError(reader.finish(), {"unknown key 'agnet'"});
}

TEST_CASE("a key where a table is expected names what was found") {
  ConfigReader reader = parse("agent = 3\n");
  ConfigReader agent = reader.table("agent");
  std::string region = "x";
  agent.get("region", region);  // reads from an absent table: the default stays
  CHECK(region == "x");
  requireError(reader.finish(), {"key 'agent'", "expected a table", "got integer 3"});
}

TEST_CASE("an absent table reads as empty and is not an error") {
  ConfigReader reader = parse("");
  std::string region = "default";
  reader.table("agent").get("region", region);
  CHECK(region == "default");
  CHECK(reader.finish().ok());
}

TEST_CASE("arrays of tables: each entry is read, errors name the entry index") {
  ConfigReader reader = parse(R"(
[[service]]
name = "web"
port = 80

[[service]]
name = "api"
port = 70000
)");
  auto services = reader.tables("service");
  REQUIRE(services.size() == 2);
  std::vector<std::string> names;
  std::vector<std::int64_t> ports;
  for (auto& s : services) {
    std::string name;
    std::int64_t port = 0;
    s.get("name", name);
    s.get("port", port, 1, 65535);
    names.push_back(name);
    ports.push_back(port);
  }
  CHECK(names == std::vector<std::string>{"web", "api"});
  CHECK(ports == std::vector<std::int64_t>{80, 0});
  requireError(reader.finish(), {"key 'service[1].port'", "from 1 to 65535", "integer 70000"});
}

TEST_CASE("an unknown key inside an array of tables names the entry") {
  ConfigReader reader = parse("[[service]]\nname = \"web\"\n[[service]]\nname = \"api\"\nunti = \"x\"\n");
  for (auto& s : reader.tables("service")) {
    std::string name;
    s.get("name", name);
  }
  requireError(reader.finish(), {"unknown key 'service[1].unti'"});
}

TEST_CASE("a single table where an array of tables is expected names both") {
  ConfigReader reader = parse("[service]\nname = \"web\"\n");
  CHECK(reader.tables("service").empty());
  requireError(reader.finish(), {"key 'service'", "expected an array of tables ([[service]])",
                                 "got a table"});
}

TEST_CASE("fail() records a problem naming the file and the qualified key") {
  ConfigReader reader = parse("[agent]\nsystemd = \"maybe\"\n");
  ConfigReader agent = reader.table("agent");
  std::string systemd;
  agent.get("systemd", systemd);
  agent.fail("systemd", "expected \"system\", \"user\" or \"none\", got \"maybe\"");
  requireError(reader.finish(),
               {"/etc/rollgate/test.toml: key 'agent.systemd': expected \"system\""});
}

}  // namespace
}  // namespace rollgate
