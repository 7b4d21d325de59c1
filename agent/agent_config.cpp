#include "agent/agent_config.h"

#include <unistd.h>

#include <set>
#include <toml++/toml.h>

#include "agent/lb/haproxy_runtime.h"
#include "agent/sentry/envelope.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/log_level.h"

namespace rollgate::agent {
namespace {

// [service.sentry]: every key but `key` has a default; the endpoint binds loopback.
sentry::SentryServiceConfig readSentry(ConfigReader& t, const std::string& service) {
  sentry::SentryServiceConfig out;
  out.service = service;
  std::int64_t port = 0, bodyBytes = static_cast<std::int64_t>(out.maxBodyBytes),
               inflatedBytes = static_cast<std::int64_t>(out.maxDecompressedBytes),
               queueEnvelopes = static_cast<std::int64_t>(out.relayQueueEnvelopes),
               queueBytes = static_cast<std::int64_t>(out.relayQueueBytes);
  t.get("bind", out.bind);
  t.get("port", port, 1, 65535);
  t.get("key", out.key);
  t.get("project", out.project);
  t.get("upstream_dsn", out.upstreamDsn);
  t.get("max_requests_per_second", out.maxRequestsPerSecond, 0, 1e6);
  t.get("max_body_bytes", bodyBytes, 1024, static_cast<std::int64_t>(sentry::kSentryMaxCompressedBytes));
  t.get("max_decompressed_bytes", inflatedBytes, 1024,
        static_cast<std::int64_t>(sentry::kSentryMaxDecompressedBytes));
  t.get("relay_queue_envelopes", queueEnvelopes, 1, 100'000);
  t.get("relay_queue_bytes", queueBytes, 1024, 1LL << 30);
  if (!t.has("port")) t.fail("port", "is required (e.g. port = 9001; the DSN's port)");
  if (out.key.empty()) {
    t.fail("key", "is required: the public key of the DSN the application uses "
                  "(e.g. key = \"3f2a...\" for DSN http://3f2a...@127.0.0.1:9001/1)");
  }
  if (!out.upstreamDsn.empty()) {
    if (auto target = sentry::parseDsn(out.upstreamDsn); !target) {
      t.fail("upstream_dsn", target.error().message);
    }
  }
  out.port = static_cast<std::uint16_t>(port);
  out.maxBodyBytes = static_cast<std::size_t>(bodyBytes);
  out.maxDecompressedBytes = static_cast<std::size_t>(inflatedBytes);
  out.relayQueueEnvelopes = static_cast<std::size_t>(queueEnvelopes);
  out.relayQueueBytes = static_cast<std::size_t>(queueBytes);
  return out;
}

std::string defaultHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

Result<AgentConfig> fromReader(ConfigReader reader) {
  AgentConfig config;
  config.host = defaultHostName();
  ConfigReader a = reader.table("agent");
  a.get("host", config.host);
  a.get("region", config.region);
  a.get("cluster", config.cluster);
  // One endpoint, or a list when coordinators share PostgreSQL (the agent follows the leader).
  auto endpoints = [&a](const char* key, std::vector<std::string>& out) {
    const toml::node* node = a.node(key);
    if (node == nullptr) return;
    if (const auto* text = node->as_string()) {
      out = {text->get()};
    } else if (const auto* array = node->as_array()) {
      for (const auto& item : *array) {
        if (const auto* v = item.as_string()) {
          out.push_back(v->get());
        } else {
          a.fail(key, "expected a list of endpoints (strings)");
          return;
        }
      }
    } else {
      a.fail(key, "expected an endpoint or a list of endpoints");
    }
  };
  endpoints("coordinator", config.coordinators);
  endpoints("broadcast", config.broadcasts);
  a.get("coordinator_key", config.coordinatorKeyFile);
  a.get("key", config.keyFile);
  a.get("state_dir", config.stateDir);
  a.get("systemd", config.systemd);
  a.get("heartbeat_seconds", config.heartbeatSeconds, 1, 3600);
  a.get("window_seconds", config.windowSeconds, 1, 3600);
  a.get("backlog_windows", config.backlogWindows, 1, 1'000'000);
  a.get("log_level", config.logLevel);
  if (!isValidLogLevel(config.logLevel)) a.fail("log_level", logLevelProblem(config.logLevel));

  if (!isValidName(config.region)) {
    a.fail("region", config.region.empty() ? "is required (e.g. region = \"eu-west\")"
                                           : "invalid name \"" + config.region + "\"");
  }
  if (!isValidName(config.cluster)) {
    a.fail("cluster", config.cluster.empty() ? "is required (e.g. cluster = \"eu-west-a\")"
                                             : "invalid name \"" + config.cluster + "\"");
  }
  if (config.coordinators.empty()) {
    a.fail("coordinator", "is required (e.g. coordinator = \"tcp://10.0.0.1:7400\")");
  }
  for (const auto& endpoint : config.coordinators) {
    if (endpoint.rfind("tcp://", 0) != 0 && endpoint.rfind("ipc://", 0) != 0) {
      a.fail("coordinator", "expected tcp://HOST:PORT, got \"" + endpoint + "\"");
    }
  }
  if (config.broadcasts.empty()) {
    for (const auto& endpoint : config.coordinators) {
      config.broadcasts.push_back(endpoint.substr(0, endpoint.rfind(':')) + ":7402");
    }
  } else if (config.broadcasts.size() != config.coordinators.size()) {
    a.fail("broadcast", "names " + std::to_string(config.broadcasts.size()) +
                            " endpoints for " + std::to_string(config.coordinators.size()) +
                            " coordinators; give one per coordinator, in the same order");
  }
  if (!config.coordinators.empty()) config.coordinator = config.coordinators.front();
  if (!config.broadcasts.empty()) config.broadcast = config.broadcasts.front();
  if (config.systemd != "system" && config.systemd != "user" && config.systemd != "none") {
    a.fail("systemd", "expected \"system\", \"user\" or \"none\", got \"" + config.systemd + "\"");
  }

  std::set<std::string> names;
  for (auto& s : reader.tables("service")) {
    ServiceConfig service;
    s.get("name", service.name);
    s.get("unit", service.unit);
    s.get("install_root", service.installRoot);
    s.get("access_log", service.accessLog);
    s.get("access_log_format", service.accessLogFormat);
    s.get("error_log", service.errorLog);
    s.get("error_pattern", service.errorPattern);
    s.get("health_url", service.healthUrl);
    s.get("health_timeout_seconds", service.healthTimeoutSeconds, 1, 3600);
    s.get("trusted_keys", service.trustedKeys);
    s.get("restart_command", service.restartCommand);
    s.get("keep_releases", service.keepReleases, 2, 60);  // under kMaxReportedReleases
    s.get("max_unpacked_bytes", service.maxUnpackedBytes, 1, std::int64_t{1} << 50);
    s.get("max_unpack_ratio", service.maxUnpackRatio, 0, 1'000'000);
    s.get("max_entries", service.maxEntries, 1, 100'000'000);
    s.get("max_path_bytes", service.maxPathBytes, 16, 4096);
    s.get("json_status_field", service.jsonStatusField);
    s.get("json_latency_field", service.jsonLatencyField);
    s.get("json_method_field", service.jsonMethodField);
    s.get("haproxy", service.haproxy);
    s.get("haproxy_backend", service.haproxyBackend);
    s.get("haproxy_server", service.haproxyServer);
    s.get("haproxy_drain_seconds", service.haproxyDrainSeconds, 0, 3600);
    s.get("haproxy_up_seconds", service.haproxyUpSeconds, 0, 3600);
    s.get("haproxy_timeout_seconds", service.haproxyTimeoutSeconds, 1, 60);
    if (!service.haproxy.empty()) {
      if (auto address = lb::parseRuntimeAddress(service.haproxy); !address) {
        s.fail("haproxy", address.error().message);
      }
      if (service.haproxyBackend.empty()) {
        s.fail("haproxy_backend", "is required with haproxy = \"" + service.haproxy + "\"");
      }
      if (service.haproxyServer.empty()) service.haproxyServer = config.host;
    } else if (!service.haproxyBackend.empty() || !service.haproxyServer.empty()) {
      s.fail("haproxy",
             "is required with haproxy_backend or haproxy_server (the runtime API "
             "socket, e.g. haproxy = \"/run/haproxy/admin.sock\")");
    }
    if (s.has("sentry")) {
      ConfigReader t = s.table("sentry");
      service.sentry = readSentry(t, service.name);
    }
    if (!isValidName(service.name)) {
      s.fail("name", service.name.empty() ? "is required" : "invalid name \"" + service.name + "\"");
    } else if (!names.insert(service.name).second) {
      s.fail("name", "service \"" + service.name + "\" is declared twice");
    }
    if (service.unit.empty()) service.unit = service.name + ".service";
    if (service.installRoot.empty()) service.installRoot = "/srv/" + service.name;
    if (config.systemd == "none" && service.restartCommand.empty()) {
      s.fail("restart_command", "is required when agent.systemd = \"none\"");
    }
    config.services.push_back(std::move(service));
  }
  if (auto status = reader.finish(); !status) return status.error();
  return config;
}

}  // namespace

std::uint64_t initialWindowMillis(const AgentConfig& config) {
  return config.windowSeconds > 0 ? static_cast<std::uint64_t>(config.windowSeconds) * 1000
                                  : kDefaultWindowMillis;
}

std::string windowDisagreement(const AgentConfig& config, std::uint64_t coordinatorWindowMillis) {
  const std::string& configPath = config.sourceName;
  if (config.windowSeconds <= 0 || coordinatorWindowMillis == 0) return "";
  const std::uint64_t mine = static_cast<std::uint64_t>(config.windowSeconds) * 1000;
  if (mine == coordinatorWindowMillis) return "";
  auto seconds = [](std::uint64_t millis) {
    return millis % 1000 == 0 ? std::to_string(millis / 1000) + " s"
                              : std::to_string(millis) + " ms";
  };
  return configPath + ": key 'agent.window_seconds' = " + std::to_string(config.windowSeconds) +
         " disagrees with the coordinator's telemetry window of " +
         seconds(coordinatorWindowMillis) +
         " ([coordinator] window_seconds in its coordinator.toml decides); cutting " +
         seconds(coordinatorWindowMillis) + " windows. Remove window_seconds from " + configPath +
         " or make the two equal";
}

Result<AgentConfig> parseAgentConfig(const std::string& text, const std::string& sourceName) {
  auto reader = ConfigReader::parseString(text, sourceName);
  if (!reader) return reader.error();
  auto config = fromReader(std::move(*reader));
  if (config) config->sourceName = sourceName;
  return config;
}

Result<AgentConfig> loadAgentConfig(const std::string& path) {
  auto reader = ConfigReader::parseFile(path);
  if (!reader) return reader.error();
  auto config = fromReader(std::move(*reader));
  if (config) config->sourceName = path;
  return config;
}

}  // namespace rollgate::agent
