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
  // Bounds on one release archive, checked while unpacking (agent/install/unpack.h, whose
  // UnpackLimits holds the defaults): max_unpacked_bytes, max_unpack_ratio, max_entries,
  // max_path_bytes.
  std::int64_t maxUnpackedBytes = -1;  // -1: the default
  std::int64_t maxUnpackRatio = -1;
  std::int64_t maxEntries = -1;
  std::int64_t maxPathBytes = -1;
  // HAProxy in front of this service (empty haproxy: none). Every restart drains the server
  // haproxyBackend/haproxyServer first and sets it ready after (agent/lb/haproxy_gate.h).
  std::string haproxy;                     // runtime API: socket path or HOST:PORT
  std::string haproxyBackend;              // required with haproxy
  std::string haproxyServer;               // default: agent.host
  std::int64_t haproxyDrainSeconds = 30;   // longest wait for the server's sessions to end
  std::int64_t haproxyUpSeconds = 30;      // longest wait for HAProxy's check after ready
  std::int64_t haproxyTimeoutSeconds = 3;  // one runtime API command
  // JSON access logs: field names.
  std::string jsonStatusField = "status";
  std::string jsonLatencyField = "request_time";
  std::string jsonMethodField = "method";
  // [service.sentry]: the local Sentry endpoint the application's DSN points at; unset: none.
  std::optional<sentry::SentryServiceConfig> sentry;
};

struct AgentConfig {
  std::string sourceName = "agent.toml";  // the file it was read from, for messages
  std::string host;                 // informational; identity is the key's enrolled name
  std::string region;
  std::string cluster;
  std::string coordinator;          // tcp://HOST:7400 (the first of `coordinators`)
  std::string broadcast;            // tcp://HOST:7402; default: coordinator's host, port 7402
  // Coordinators sharing PostgreSQL: every one's agent and broadcast endpoint, in the same order
  // (one each otherwise). The agent stays with the one that welcomed it and moves to the next
  // when it loses it (README, "High availability").
  std::vector<std::string> coordinators;
  std::vector<std::string> broadcasts;
  std::string coordinatorKeyFile = "/etc/rollgate/coordinator.pub";
  std::string keyFile = "/etc/rollgate/agent.key";
  std::string stateDir = "/var/lib/rollgate/agent";
  std::string systemd = "system";   // system | user | none
  std::int64_t heartbeatSeconds = 5;
  // The telemetry window is the coordinator's ([coordinator] window_seconds, sent in its Welcome).
  // 0 (the default): follow it, cutting 10 s windows until the first Welcome. Set, it is only a
  // check: when the coordinator's differs, windowDisagreement() names both and the agent follows
  // the coordinator.
  std::int64_t windowSeconds = 0;
  std::int64_t backlogWindows = 360;
  std::string logLevel = "info";
  std::vector<ServiceConfig> services;
};

inline constexpr const char* kDefaultAgentConfig = "/etc/rollgate/agent.toml";

// The window the agent cuts until the coordinator's Welcome tells it the real one.
inline constexpr std::uint64_t kDefaultWindowMillis = 10'000;
std::uint64_t initialWindowMillis(const AgentConfig& config);

// The error to report when agent.toml sets window_seconds and the coordinator's window
// (Welcome.windowMillis) is another; empty when they agree or agent.toml does not set it.
std::string windowDisagreement(const AgentConfig& config, std::uint64_t coordinatorWindowMillis);

Result<AgentConfig> loadAgentConfig(const std::string& path);
Result<AgentConfig> parseAgentConfig(const std::string& text, const std::string& sourceName);

}  // namespace rollgate::agent
