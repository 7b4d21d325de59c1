// The coordinator's configuration (/etc/rollgate/coordinator.toml, tables [coordinator] and
// [prometheus]).
// Every key is optional; defaults suit a single control host with the packaged paths.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace rollgate::coordinator {

struct CoordinatorConfig {
  std::string agentEndpoint = "tcp://0.0.0.0:7400";
  std::string adminEndpoint = "tcp://127.0.0.1:7401";
  std::string broadcastEndpoint = "tcp://0.0.0.0:7402";
  std::string keyFile = "/etc/rollgate/coordinator.key";
  std::string agentsDir = "/etc/rollgate/agents.d";
  std::string adminsDir = "/etc/rollgate/admins.d";
  std::string stateDir = "/var/lib/rollgate";
  std::int64_t heartbeatSeconds = 5;         // told to agents in Welcome
  std::int64_t hostTimeoutSeconds = 15;      // silent this long: unhealthy
  std::int64_t windowSeconds = 10;           // telemetry window told to agents
  std::int64_t telemetryRetentionHours = 168;
  std::string logLevel = "info";
  // [prometheus]: the team's Prometheus, for checks with metric = "prometheus". Empty url: none
  // (a rollout with a Prometheus check is refused). timeout_millis bounds each query.
  std::string prometheusUrl;
  std::int64_t prometheusTimeoutMillis = 2000;
  // [backtest] (docs/backtest.md): the rollouts' kept inputs may take max_bytes (the oldest
  // finished rollouts' go first); a promoted rollout not reverted within good_after_hours is
  // labelled good.
  std::int64_t backtestMaxBytes = 256LL << 20;
  std::int64_t backtestGoodAfterHours = 24;
};

inline constexpr const char* kDefaultCoordinatorConfig = "/etc/rollgate/coordinator.toml";

// Reads `path`. A missing file is an error unless `path` is the default path, in which case the
// defaults are used. Errors name the file, the key and what was expected.
Result<CoordinatorConfig> loadCoordinatorConfig(const std::string& path);
Result<CoordinatorConfig> parseCoordinatorConfig(const std::string& text,
                                                 const std::string& sourceName);

}  // namespace rollgate::coordinator
