// Coordinator config unit tests: defaults with an empty file or an absent default path, every key
// read, and errors that name the file, the key and what was expected.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "coordinator/coordinator_config.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate::coordinator {
namespace {

void requireError(const Result<CoordinatorConfig>& result, const std::vector<std::string>& needles) {
  REQUIRE_FALSE(result.ok());
  const std::string& message = result.error().message;
  INFO("error: " << message);
  for (const auto& needle : needles) CHECK(message.find(needle) != std::string::npos);
}

TEST_CASE("an empty config gives the documented defaults") {
  auto config = parseCoordinatorConfig("", "coordinator.toml");
  REQUIRE(config.ok());
  CHECK(config->agentEndpoint == "tcp://0.0.0.0:7400");
  CHECK(config->adminEndpoint == "tcp://127.0.0.1:7401");
  CHECK(config->broadcastEndpoint == "tcp://0.0.0.0:7402");
  CHECK(config->keyFile == "/etc/rollgate/coordinator.key");
  CHECK(config->agentsDir == "/etc/rollgate/agents.d");
  CHECK(config->adminsDir == "/etc/rollgate/admins.d");
  CHECK(config->stateDir == "/var/lib/rollgate");
  CHECK(config->heartbeatSeconds == 5);
  CHECK(config->hostTimeoutSeconds == 15);
  CHECK(config->windowSeconds == 10);
  CHECK(config->telemetryRetentionHours == 168);
  CHECK(config->logLevel == "info");
  // An empty [coordinator] table is the same.
  CHECK(parseCoordinatorConfig("[coordinator]\n", "c.toml").ok());
}

TEST_CASE("every key is read") {
  auto config = parseCoordinatorConfig(R"(
[coordinator]
agent_endpoint = "tcp://10.0.0.1:17400"
admin_endpoint = "ipc:///run/rollgate/admin.sock"
broadcast_endpoint = "tcp://10.0.0.1:17402"
key = "/tmp/c.key"
agents_dir = "/tmp/agents.d"
admins_dir = "/tmp/admins.d"
state_dir = "/tmp/state"
heartbeat_seconds = 2
host_timeout_seconds = 7
window_seconds = 30
telemetry_retention_hours = 24
log_level = "debug"
)", "coordinator.toml");
  INFO((config.ok() ? std::string() : config.error().message));
  REQUIRE(config.ok());
  CHECK(config->agentEndpoint == "tcp://10.0.0.1:17400");
  CHECK(config->adminEndpoint == "ipc:///run/rollgate/admin.sock");
  CHECK(config->broadcastEndpoint == "tcp://10.0.0.1:17402");
  CHECK(config->keyFile == "/tmp/c.key");
  CHECK(config->agentsDir == "/tmp/agents.d");
  CHECK(config->adminsDir == "/tmp/admins.d");
  CHECK(config->stateDir == "/tmp/state");
  CHECK(config->heartbeatSeconds == 2);
  CHECK(config->hostTimeoutSeconds == 7);
  CHECK(config->windowSeconds == 30);
  CHECK(config->telemetryRetentionHours == 24);
  CHECK(config->logLevel == "debug");
}

TEST_CASE("the host timeout must be longer than the heartbeat") {
  requireError(parseCoordinatorConfig("[coordinator]\nheartbeat_seconds = 10\nhost_timeout_seconds = 10\n",
                                      "coordinator.toml"),
               {"coordinator.toml", "'coordinator.host_timeout_seconds'",
                "greater than heartbeat_seconds (10)", "got 10"});
  requireError(parseCoordinatorConfig("[coordinator]\nhost_timeout_seconds = 3\n", "c.toml"),
               {"'coordinator.host_timeout_seconds'", "heartbeat_seconds (5)", "got 3"});
  CHECK(parseCoordinatorConfig("[coordinator]\nheartbeat_seconds = 10\nhost_timeout_seconds = 11\n",
                               "c.toml")
            .ok());
}

TEST_CASE("a bad endpoint names the key and the value") {
  requireError(parseCoordinatorConfig("[coordinator]\nagent_endpoint = \"10.0.0.1:7400\"\n",
                                      "coordinator.toml"),
               {"coordinator.toml", "'coordinator.agent_endpoint'", "tcp://HOST:PORT",
                "\"10.0.0.1:7400\""});
  requireError(parseCoordinatorConfig("[coordinator]\nbroadcast_endpoint = \"udp://x:1\"\n", "c.toml"),
               {"'coordinator.broadcast_endpoint'", "udp://x:1"});
}

TEST_CASE("wrong types, ranges and unknown keys are errors naming the file and key") {
  requireError(parseCoordinatorConfig("[coordinator]\nheartbeat_seconds = \"5\"\n", "c.toml"),
               {"c.toml", "'coordinator.heartbeat_seconds'", "expected an integer from 1 to 3600",
                "string \"5\""});
  requireError(parseCoordinatorConfig("[coordinator]\nwindow_seconds = 0\n", "c.toml"),
               {"'coordinator.window_seconds'", "from 1 to 3600", "integer 0"});
  requireError(parseCoordinatorConfig("[coordinator]\nstate_dir = 5\n", "c.toml"),
               {"'coordinator.state_dir'", "expected a string", "integer 5"});
  requireError(parseCoordinatorConfig("[coordinator]\nheartbeat = 5\n", "c.toml"),
               {"c.toml", "unknown key 'coordinator.heartbeat'"});
  requireError(parseCoordinatorConfig("[coordinatr]\n", "c.toml"), {"unknown key 'coordinatr'"});
  requireError(parseCoordinatorConfig("coordinator = 1\n", "c.toml"),
               {"'coordinator'", "expected a table"});
  requireError(parseCoordinatorConfig("[coordinator\n", "c.toml"), {"c.toml:1:"});
}

TEST_CASE("loading: a missing explicit file is an error naming it; a file on disk is read") {
  rollgate::testing::ScopedTempDir dir;
  requireError(loadCoordinatorConfig(dir / "missing.toml"), {dir / "missing.toml"});
  rollgate::testing::writeFile(dir / "c.toml", "[coordinator]\nheartbeat_seconds = 3\n");
  auto config = loadCoordinatorConfig(dir / "c.toml");
  REQUIRE(config.ok());
  CHECK(config->heartbeatSeconds == 3);
  rollgate::testing::writeFile(dir / "bad.toml", "[coordinator]\nlog_level = true\n");
  requireError(loadCoordinatorConfig(dir / "bad.toml"), {dir / "bad.toml", "'coordinator.log_level'"});
}

}  // namespace
TEST_CASE("an unknown log_level names the file, the key and the accepted values") {
  requireError(parseCoordinatorConfig("[coordinator]\nlog_level = \"verbose\"\n",
                                      "/etc/rollgate/coordinator.toml"),
               {"/etc/rollgate/coordinator.toml", "'coordinator.log_level'",
                "trace, debug, info, warn, error, critical, off", "\"verbose\""});
  CHECK(parseCoordinatorConfig("[coordinator]\nlog_level = \"warn\"\n", "c.toml").ok());
}

TEST_CASE("[store]: a PostgreSQL URL shared by coordinators; mistakes are named, passwords never") {
  auto config = parseCoordinatorConfig(
      "[coordinator]\nadmin_endpoint = \"tcp://10.0.0.1:7401\"\n"
      "[store]\nurl = \"postgresql://rollgate:pw@db:5432/rollgate\"\ncoordinator_id = \"coord-a\"\n"
      "lease_seconds = 5\n",
      "c.toml");
  REQUIRE(config.ok());
  CHECK(config->storeUrl == "postgresql://rollgate:pw@db:5432/rollgate");
  CHECK(config->coordinatorId == "coord-a");
  CHECK(config->leaseSeconds == 5);
  CHECK(config->advertiseAdmin == "tcp://10.0.0.1:7401");  // default: the admin endpoint
  auto sqlite = parseCoordinatorConfig("", "c.toml");
  REQUIRE(sqlite.ok());
  CHECK(sqlite->storeUrl.empty());  // SQLite, one coordinator
  CHECK_FALSE(sqlite->coordinatorId.empty());  // the host name
  auto wrong = parseCoordinatorConfig("[store]\nurl = \"mysql://root:secret@db/x\"\n", "c.toml");
  requireError(wrong, {"'store.url'", "postgresql://"});
  CHECK(wrong.error().message.find("secret") == std::string::npos);
  requireError(parseCoordinatorConfig("[store]\ncoordinator_id = \"a b\"\n", "c.toml"),
               {"'store.coordinator_id'", "\"a b\""});
  requireError(parseCoordinatorConfig("[store]\nlease_seconds = 1\n", "c.toml"),
               {"'store.lease_seconds'"});
}

}  // namespace rollgate::coordinator

TEST_CASE("[prometheus] takes a URL and a timeout, and refuses what is not an http URL") {
  auto config = rollgate::coordinator::parseCoordinatorConfig(
      "[prometheus]\nurl = \"http://127.0.0.1:9090\"\ntimeout_millis = 1500\n", "c.toml");
  REQUIRE(config.ok());
  CHECK(config->prometheusUrl == "http://127.0.0.1:9090");
  CHECK(config->prometheusTimeoutMillis == 1500);
  CHECK(rollgate::coordinator::parseCoordinatorConfig("", "c.toml")->prometheusUrl.empty());
  auto bad = rollgate::coordinator::parseCoordinatorConfig("[prometheus]\nurl = \"prom:9090\"\n",
                                                           "c.toml");
  REQUIRE(!bad.ok());
  CHECK(bad.error().message.find("prom:9090") != std::string::npos);
  auto typo = rollgate::coordinator::parseCoordinatorConfig("[prometheus]\nulr = \"x\"\n", "c.toml");
  CHECK(!typo.ok());
}

TEST_CASE("[metrics] and [notify]: read, and bad values refused naming key and value") {
  auto none = rollgate::coordinator::parseCoordinatorConfig("", "c.toml");
  REQUIRE(none.ok());
  CHECK(none->metricsListen.empty());  // not served unless configured
  CHECK(none->notify.webhooks.empty());
  auto config = rollgate::coordinator::parseCoordinatorConfig(
      "[metrics]\nlisten = \":9464\"\n[[notify.webhook]]\nurl = \"http://127.0.0.1:9/h\"\n",
      "c.toml");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->metricsListen == ":9464");
  REQUIRE(config->notify.webhooks.size() == 1);
  auto badListen = rollgate::coordinator::parseCoordinatorConfig(
      "[metrics]\nlisten = \"localhost:http\"\n", "c.toml");
  REQUIRE(!badListen.ok());
  CHECK(badListen.error().message.find("metrics.listen") != std::string::npos);
  CHECK(badListen.error().message.find("localhost:http") != std::string::npos);
  auto badUrl = rollgate::coordinator::parseCoordinatorConfig(
      "[[notify.webhook]]\nurl = \"hooks.example.com\"\n", "c.toml");
  REQUIRE(!badUrl.ok());
  CHECK(badUrl.error().message.find("hooks.example.com") != std::string::npos);
}
