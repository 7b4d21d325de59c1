// The agent's configuration (/etc/rollgate/agent.toml): [agent] for the host and the coordinator,
// one [[service]] table per service the agent manages. The agent acts only on services declared
// here. Every key but region, cluster and the coordinator's address has a default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/sentry/sentry_endpoint.h"
#include "common/result.h"

namespace rollgate::agent {

struct ServiceConfig {
  std::string name;
  std::string unit;                 // systemd unit; default "<name>.service"
  std::string installRoot;          // releases/<version>/ and `current` live here
  std::string accessLog;
  std::string accessLogFormat = "combined";  // combined | combined_rt | json | a log_format string
  std::string errorLog;
  std::string errorPattern = "ERROR|FATAL|panic|\\[error\\]|\\[crit\\]|\\[emerg\\]";
  std::string healthUrl;
  std::int64_t healthTimeoutSeconds = 30;
  std::vector<std::string> trustedKeys;     // Ed25519 public key files; empty: unsigned allowed
  std::vector<std::string> restartCommand;  // used instead of systemd when systemd = "none"
  std::int64_t keepReleases = 5;
  // JSON access logs: field names.
  std::string jsonStatusField = "status";
  std::string jsonLatencyField = "request_time";
  std::string jsonMethodField = "method";
  // [service.sentry]: the local Sentry endpoint the application's DSN points at; unset: none.
  std::optional<sentry::SentryServiceConfig> sentry;
};

struct AgentConfig {
  std::string host;                 // informational; identity is the key's enrolled name
  std::string region;
  std::string cluster;
  std::string coordinator;          // tcp://HOST:7400
  std::string broadcast;            // tcp://HOST:7402; default: coordinator's host, port 7402
  std::string coordinatorKeyFile = "/etc/rollgate/coordinator.pub";
  std::string keyFile = "/etc/rollgate/agent.key";
  std::string stateDir = "/var/lib/rollgate/agent";
  std::string systemd = "system";   // system | user | none
  std::int64_t heartbeatSeconds = 5;
  std::int64_t windowSeconds = 10;
  std::int64_t backlogWindows = 360;
  std::string logLevel = "info";
  std::vector<ServiceConfig> services;
};

inline constexpr const char* kDefaultAgentConfig = "/etc/rollgate/agent.toml";

Result<AgentConfig> loadAgentConfig(const std::string& path);
Result<AgentConfig> parseAgentConfig(const std::string& text, const std::string& sourceName);

}  // namespace rollgate::agent
