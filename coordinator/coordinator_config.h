// The coordinator's configuration (/etc/rollgate/coordinator.toml, tables [coordinator],
// [prometheus], [limits], [console], [metrics] and [notify]).
// Every key is optional; defaults suit a single control host with the packaged paths.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "coordinator/console/console_config.h"
#include "coordinator/notify/notify_config.h"

namespace rollgate::coordinator {

// [limits]: what one host key may cost the coordinator (README, "Limits"). Rates are per host
// key; a bucket holds burstSeconds of its rate, so a reconnecting agent's backlog goes through.
struct LimitsConfig {
  std::int64_t telemetryWindowsPerSecond = 20;
  std::int64_t telemetryBytesPerSecond = 1 << 20;
  std::int64_t messagesPerSecond = 1000;  // every message, checked before decoding
  std::int64_t burstSeconds = 30;
  std::int64_t pendingChunkRequests = 8;  // chunk replies queued per connection (the credit)
  std::int64_t eventRetentionDays = 90;
  std::int64_t eventMaxRows = 1'000'000;
};

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
  // [console]: the web console (coordinator/console/console_config.h, docs/console.md).
  console::ConsoleConfig console;
  LimitsConfig limits;
  // [metrics] listen: where /metrics is served (docs/metrics.md): "HOST:PORT", or ":PORT" / "PORT"
  // on loopback. Empty (no [metrics] table): not served.
  std::string metricsListen;
  // [notify]: webhooks on decisions (docs/notifications.md). No [[notify.webhook]]: none sent.
  notify::NotifyConfig notify;
  // [backtest] (docs/backtest.md): the rollouts' kept inputs may take max_bytes (the oldest
  // finished rollouts' go first); a promoted rollout not reverted within good_after_hours is
  // labelled good.
  std::int64_t backtestMaxBytes = 256LL << 20;
  std::int64_t backtestGoodAfterHours = 24;
  // [store] (README, "High availability"). No url: SQLite in state_dir, one coordinator. A
  // postgresql:// URL: every coordinator given it shares that database and one leads at a time
  // through a lease of lease_seconds (coordinator/store/leader_lease.h). coordinator_id names this
  // one to operators (default: the host name); advertise_admin is where standbys send the CLI
  // when this one leads (default: admin_endpoint).
  std::string storeUrl;
  std::string coordinatorId;
  std::int64_t leaseSeconds = 10;
  std::string advertiseAdmin;
};

inline constexpr const char* kDefaultCoordinatorConfig = "/etc/rollgate/coordinator.toml";

// Reads `path`. A missing file is an error unless `path` is the default path, in which case the
// defaults are used. Errors name the file, the key and what was expected.
Result<CoordinatorConfig> loadCoordinatorConfig(const std::string& path);
Result<CoordinatorConfig> parseCoordinatorConfig(const std::string& text,
                                                 const std::string& sourceName);

}  // namespace rollgate::coordinator
