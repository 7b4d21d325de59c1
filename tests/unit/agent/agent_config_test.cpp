// Agent config unit tests: region, cluster and coordinator are required with messages that say
// what to write; everything else has the documented default (unit = NAME.service, broadcast on
// the coordinator's host at port 7402); service mistakes name the service entry and the key.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate::agent {
namespace {

const std::string kMinimal = R"([agent]
region = "eu-west"
cluster = "eu-west-a"
coordinator = "tcp://10.0.0.1:7400"
)";

void requireError(const Result<AgentConfig>& result, const std::vector<std::string>& needles) {
  REQUIRE_FALSE(result.ok());
  const std::string& message = result.error().message;
  INFO("error: " << message);
  for (const auto& needle : needles) CHECK(message.find(needle) != std::string::npos);
}

AgentConfig parseOk(const std::string& text) {
  auto config = parseAgentConfig(text, "agent.toml");
  INFO("error: " << (config.ok() ? std::string() : config.error().message));
  REQUIRE(config.ok());
  return *config;
}

TEST_CASE("region, cluster and coordinator are required, each with an example") {
  requireError(parseAgentConfig("", "/etc/rollgate/agent.toml"),
               {"/etc/rollgate/agent.toml", "'agent.region'", "is required", "region = "});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncoordinator = \"tcp://h:7400\"\n",
                                "agent.toml"),
               {"'agent.cluster'", "is required", "cluster = "});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncluster = \"eu-a\"\n", "agent.toml"),
               {"'agent.coordinator'", "is required", "tcp://"});
}

TEST_CASE("invalid region, cluster or coordinator values are named") {
  requireError(parseAgentConfig("[agent]\nregion = \"eu west\"\ncluster = \"a\"\n"
                                "coordinator = \"tcp://h:1\"\n", "agent.toml"),
               {"'agent.region'", "invalid name \"eu west\""});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncluster = \"-a\"\n"
                                "coordinator = \"tcp://h:1\"\n", "agent.toml"),
               {"'agent.cluster'", "\"-a\""});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncluster = \"a\"\n"
                                "coordinator = \"10.0.0.1:7400\"\n", "agent.toml"),
               {"'agent.coordinator'", "expected tcp://HOST:PORT", "\"10.0.0.1:7400\""});
}

TEST_CASE("several coordinators sharing PostgreSQL: lists of endpoints, in the same order") {
  AgentConfig config = parseOk("[agent]\nregion = \"eu\"\ncluster = \"eu-a\"\n"
                               "coordinator = [\"tcp://10.0.0.1:7400\", \"tcp://10.0.0.2:7400\"]\n");
  CHECK(config.coordinators == std::vector<std::string>{"tcp://10.0.0.1:7400", "tcp://10.0.0.2:7400"});
  CHECK(config.broadcasts == std::vector<std::string>{"tcp://10.0.0.1:7402", "tcp://10.0.0.2:7402"});
  CHECK(config.coordinator == "tcp://10.0.0.1:7400");
  CHECK(config.broadcast == "tcp://10.0.0.1:7402");
  AgentConfig one = parseOk(kMinimal);
  CHECK(one.coordinators == std::vector<std::string>{"tcp://10.0.0.1:7400"});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncluster = \"a\"\n"
                                "coordinator = [\"tcp://a:1\", \"tcp://b:1\"]\n"
                                "broadcast = [\"tcp://a:2\"]\n", "agent.toml"),
               {"'agent.broadcast'", "1 endpoints for 2 coordinators"});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncluster = \"a\"\n"
                                "coordinator = [\"tcp://a:1\", 7]\n", "agent.toml"),
               {"'agent.coordinator'", "list of endpoints"});
  requireError(parseAgentConfig("[agent]\nregion = \"eu\"\ncluster = \"a\"\n"
                                "coordinator = [\"tcp://a:1\", \"b:1\"]\n", "agent.toml"),
               {"'agent.coordinator'", "\"b:1\""});
}

TEST_CASE("defaults for everything else") {
  AgentConfig config = parseOk(kMinimal);
  CHECK(config.region == "eu-west");
  CHECK(config.cluster == "eu-west-a");
  CHECK(config.coordinator == "tcp://10.0.0.1:7400");
  CHECK(config.broadcast == "tcp://10.0.0.1:7402");  // derived from the coordinator's host
  CHECK(config.coordinatorKeyFile == "/etc/rollgate/coordinator.pub");
  CHECK(config.keyFile == "/etc/rollgate/agent.key");
  CHECK(config.stateDir == "/var/lib/rollgate/agent");
  CHECK(config.systemd == "system");
  CHECK(config.heartbeatSeconds == 5);
  CHECK(config.windowSeconds == 0);  // the coordinator's window
  CHECK(initialWindowMillis(config) == 10'000);  // until its Welcome says otherwise
  CHECK(config.backlogWindows == 360);
  CHECK(config.logLevel == "info");
  CHECK_FALSE(config.host.empty());  // the machine's host name
  CHECK(config.services.empty());
}

TEST_CASE("the coordinator's window decides; a window_seconds that disagrees is named") {
  AgentConfig follows = parseOk(kMinimal);
  CHECK(windowDisagreement(follows, 1000).empty());
  CHECK(windowDisagreement(follows, 60'000).empty());

  auto parsed = parseAgentConfig(std::string(kMinimal) + "window_seconds = 5\n", "/etc/rollgate/agent.toml");
  REQUIRE(parsed.ok());
  CHECK(initialWindowMillis(*parsed) == 5000);
  CHECK(windowDisagreement(*parsed, 5000).empty());
  CHECK(windowDisagreement(*parsed, 0).empty());  // a coordinator that sends no window
  CHECK(windowDisagreement(*parsed, 10'000) ==
        "/etc/rollgate/agent.toml: key 'agent.window_seconds' = 5 disagrees with the coordinator's "
        "telemetry window of 10 s ([coordinator] window_seconds in its coordinator.toml decides); "
        "cutting 10 s windows. Remove window_seconds from /etc/rollgate/agent.toml or make the two "
        "equal");
  CHECK(windowDisagreement(*parsed, 1500).find("telemetry window of 1500 ms") != std::string::npos);
}

TEST_CASE("the broadcast endpoint is derived from the coordinator's host unless given") {
  AgentConfig derived = parseOk("[agent]\nregion = \"eu\"\ncluster = \"a\"\n"
                                "coordinator = \"tcp://coord.example.org:17400\"\n");
  CHECK(derived.broadcast == "tcp://coord.example.org:7402");
  AgentConfig given = parseOk(kMinimal + "broadcast = \"tcp://10.0.0.2:9999\"\n");
  CHECK(given.broadcast == "tcp://10.0.0.2:9999");
}

TEST_CASE("a service gets unit NAME.service and the documented defaults") {
  AgentConfig config = parseOk(kMinimal + R"(
[[service]]
name = "web"
access_log = "/var/log/nginx/access.log"

[[service]]
name = "api"
unit = "api-server.service"
install_root = "/opt/api"
access_log_format = "json"
keep_releases = 3
health_url = "http://127.0.0.1:8080/health"
trusted_keys = ["/etc/rollgate/build.pub"]
)");
  REQUIRE(config.services.size() == 2);
  const ServiceConfig& web = config.services[0];
  CHECK(web.name == "web");
  CHECK(web.unit == "web.service");
  CHECK(web.installRoot == "/srv/web");
  CHECK(web.accessLog == "/var/log/nginx/access.log");
  CHECK(web.accessLogFormat == "combined");
  CHECK(web.healthTimeoutSeconds == 30);
  CHECK(web.keepReleases == 5);
  CHECK(web.trustedKeys.empty());
  const ServiceConfig& api = config.services[1];
  CHECK(api.unit == "api-server.service");
  CHECK(api.installRoot == "/opt/api");
  CHECK(api.accessLogFormat == "json");
  CHECK(api.keepReleases == 3);
  CHECK(api.healthUrl == "http://127.0.0.1:8080/health");
  CHECK(api.trustedKeys == std::vector<std::string>{"/etc/rollgate/build.pub"});
}

TEST_CASE("a service declared twice is an error naming the service") {
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\n[[service]]\nname = \"api\"\n"
                                           "[[service]]\nname = \"web\"\n", "agent.toml"),
               {"agent.toml", "'service[2].name'", "service \"web\" is declared twice"});
}

TEST_CASE("a service without a valid name is an error naming the entry") {
  requireError(parseAgentConfig(kMinimal + "[[service]]\nunit = \"x.service\"\n", "agent.toml"),
               {"'service[0].name'", "is required"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"../web\"\n", "agent.toml"),
               {"'service[0].name'", "invalid name \"../web\""});
}

TEST_CASE("systemd = \"none\" needs a restart command for every service") {
  requireError(parseAgentConfig(kMinimal + "systemd = \"none\"\n[[service]]\nname = \"web\"\n",
                                "agent.toml"),
               {"'service[0].restart_command'", "is required when agent.systemd = \"none\""});
  AgentConfig config = parseOk(kMinimal + "systemd = \"none\"\n[[service]]\nname = \"web\"\n"
                                          "restart_command = [\"/usr/bin/web-restart\", \"--now\"]\n");
  CHECK(config.systemd == "none");
  CHECK(config.services[0].restartCommand ==
        std::vector<std::string>{"/usr/bin/web-restart", "--now"});
  requireError(parseAgentConfig(kMinimal + "systemd = \"upstart\"\n", "agent.toml"),
               {"'agent.systemd'", "\"system\", \"user\" or \"none\"", "\"upstart\""});
  CHECK(parseOk(kMinimal + "systemd = \"user\"\n").systemd == "user");
}

TEST_CASE("unknown keys are errors, inside [[service]] too") {
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\nunti = \"web.service\"\n",
                                "agent.toml"),
               {"agent.toml", "unknown key 'service[0].unti'"});
  requireError(parseAgentConfig(kMinimal + "heartbeat = 5\n", "agent.toml"),
               {"unknown key 'agent.heartbeat'"});
  requireError(parseAgentConfig(kMinimal + "[services]\nname = \"web\"\n", "agent.toml"),
               {"unknown key 'services'"});
}

TEST_CASE("wrong types and ranges name the key") {
  requireError(parseAgentConfig(kMinimal + "heartbeat_seconds = 0\n", "agent.toml"),
               {"'agent.heartbeat_seconds'", "from 1 to 3600", "integer 0"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\nkeep_releases = 1\n",
                                "agent.toml"),
               {"'service[0].keep_releases'", "from 2 to 60", "integer 1"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\nrestart_command = \"x\"\n",
                                "agent.toml"),
               {"'service[0].restart_command'", "expected an array of strings", "string \"x\""});
  requireError(parseAgentConfig(kMinimal + "[service]\nname = \"web\"\n", "agent.toml"),
               {"'service'", "array of tables"});
}

TEST_CASE("[service.sentry]: port and key required, loopback and the documented limits by default") {
  AgentConfig config = parseOk(kMinimal + "[[service]]\nname = \"web\"\n[service.sentry]\n"
                                          "port = 9001\nkey = \"abc\"\n");
  REQUIRE(config.services[0].sentry.has_value());
  const auto& sentry = *config.services[0].sentry;
  CHECK(sentry.service == "web");
  CHECK(sentry.port == 9001);
  CHECK(sentry.key == "abc");
  CHECK(sentry.bind == "127.0.0.1");
  CHECK(sentry.upstreamDsn.empty());
  CHECK(sentry.maxRequestsPerSecond == 50);
  CHECK(sentry.maxBodyBytes == 1u << 20);
  CHECK(sentry.maxDecompressedBytes == 2u << 20);
  CHECK_FALSE(parseOk(kMinimal + "[[service]]\nname = \"api\"\n").services[0].sentry.has_value());
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\n[service.sentry]\n",
                                "agent.toml"),
               {"'service[0].sentry.port'", "is required"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\n[service.sentry]\nport = 9001\n",
                                "agent.toml"),
               {"'service[0].sentry.key'", "is required", "DSN"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\n[service.sentry]\n"
                                           "port = 9001\nkey = \"k\"\nupstream_dsn = \"sentry.io/1\"\n",
                                "agent.toml"),
               {"'service[0].sentry.upstream_dsn'", "\"sentry.io/1\"", "scheme"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\n[service.sentry]\n"
                                           "port = 9001\nkey = \"k\"\nmax_body_bytes = 999999999\n",
                                "agent.toml"),
               {"'service[0].sentry.max_body_bytes'", "999999999"});
}

TEST_CASE("loading from a file names the file in errors") {
  rollgate::testing::ScopedTempDir dir;
  rollgate::testing::writeFile(dir / "agent.toml", kMinimal);
  auto config = loadAgentConfig(dir / "agent.toml");
  REQUIRE(config.ok());
  CHECK(config->cluster == "eu-west-a");
  rollgate::testing::writeFile(dir / "bad.toml", "[agent]\nregion = 1\n");
  requireError(loadAgentConfig(dir / "bad.toml"), {dir / "bad.toml", "'agent.region'"});
  requireError(loadAgentConfig(dir / "missing.toml"), {dir / "missing.toml"});
}

TEST_CASE(
    "haproxy keys: none by default; with a socket, a backend is required and the server defaults "
    "to the host") {
  AgentConfig plain = parseOk(kMinimal + "[[service]]\nname = \"web\"\n");
  CHECK(plain.services[0].haproxy.empty());
  AgentConfig config = parseOk(kMinimal +
                               "host = \"web-7\"\n[[service]]\nname = \"web\"\n"
                               "haproxy = \"/run/haproxy/admin.sock\"\n"
                               "haproxy_backend = \"web\"\n");
  const ServiceConfig& web = config.services[0];
  CHECK(web.haproxy == "/run/haproxy/admin.sock");
  CHECK(web.haproxyBackend == "web");
  CHECK(web.haproxyServer == "web-7");
  CHECK(web.haproxyDrainSeconds == 30);
  CHECK(web.haproxyUpSeconds == 30);
  CHECK(web.haproxyTimeoutSeconds == 3);
  CHECK(parseOk(kMinimal + "[[service]]\nname = \"web\"\nhaproxy = \"127.0.0.1:9999\"\n"
                           "haproxy_backend = \"b\"\nhaproxy_server = \"s1\"\n")
            .services[0]
            .haproxyServer == "s1");
  requireError(
      parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\nhaproxy = \"/run/h.sock\"\n",
                       "agent.toml"),
      {"'service[0].haproxy_backend'", "is required with haproxy = \"/run/h.sock\""});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\nhaproxy = \"localhost\"\n"
                                           "haproxy_backend = \"b\"\n",
                                "agent.toml"),
               {"'service[0].haproxy'", "\"localhost\"", "HOST:PORT"});
  requireError(parseAgentConfig(kMinimal + "[[service]]\nname = \"web\"\nhaproxy_backend = \"b\"\n",
                                "agent.toml"),
               {"'service[0].haproxy'", "is required with haproxy_backend"});
}

}  // namespace
TEST_CASE("an unknown log_level names the file, the key and the accepted values") {
  requireError(parseAgentConfig(kMinimal + "log_level = \"INFO\"\n", "/etc/rollgate/agent.toml"),
               {"/etc/rollgate/agent.toml", "'agent.log_level'",
                "trace, debug, info, warn, error, critical, off", "\"INFO\""});
}

TEST_CASE("archive bounds: defaults unless set, and each is range-checked") {
  AgentConfig defaults = parseOk(kMinimal + "\n[[service]]\nname = \"web\"\n");
  CHECK(defaults.services[0].maxUnpackedBytes == -1);
  AgentConfig set = parseOk(kMinimal + R"(
[[service]]
name = "web"
max_unpacked_bytes = 1048576
max_unpack_ratio = 0
max_entries = 10
max_path_bytes = 255
)");
  CHECK(set.services[0].maxUnpackedBytes == 1048576);
  CHECK(set.services[0].maxUnpackRatio == 0);
  CHECK(set.services[0].maxEntries == 10);
  CHECK(set.services[0].maxPathBytes == 255);
  requireError(parseAgentConfig(kMinimal + "\n[[service]]\nname = \"web\"\nmax_entries = 0\n",
                                "agent.toml"),
               {"max_entries", "expected an integer from 1"});
  requireError(parseAgentConfig(kMinimal + "\n[[service]]\nname = \"web\"\nkeep_releases = 61\n",
                                "agent.toml"),
               {"keep_releases", "2 to 60"});
}

}  // namespace rollgate::agent
