#include "coordinator/coordinator_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log_level.h"
#include "coordinator/metrics/metrics_server.h"
#include "coordinator/store/pg.h"

namespace rollgate::coordinator {
namespace {

Result<CoordinatorConfig> fromReader(ConfigReader reader) {
  CoordinatorConfig config;
  ConfigReader c = reader.table("coordinator");
  c.get("agent_endpoint", config.agentEndpoint);
  c.get("admin_endpoint", config.adminEndpoint);
  c.get("broadcast_endpoint", config.broadcastEndpoint);
  c.get("key", config.keyFile);
  c.get("agents_dir", config.agentsDir);
  c.get("admins_dir", config.adminsDir);
  c.get("state_dir", config.stateDir);
  c.get("heartbeat_seconds", config.heartbeatSeconds, 1, 3600);
  c.get("host_timeout_seconds", config.hostTimeoutSeconds, 1, 86400);
  c.get("window_seconds", config.windowSeconds, 1, 3600);
  c.get("telemetry_retention_hours", config.telemetryRetentionHours, 1, 24 * 365);
  c.get("log_level", config.logLevel);
  if (!isValidLogLevel(config.logLevel)) c.fail("log_level", logLevelProblem(config.logLevel));
  for (const char* key : {"agent_endpoint", "admin_endpoint", "broadcast_endpoint"}) {
    std::string value;
    c.get(key, value);
    if (!value.empty() && value.rfind("tcp://", 0) != 0 && value.rfind("ipc://", 0) != 0) {
      c.fail(key, "expected an endpoint like tcp://HOST:PORT or ipc://PATH, got \"" + value + "\"");
    }
  }
  ConfigReader p = reader.table("prometheus");
  p.get("url", config.prometheusUrl);
  p.get("timeout_millis", config.prometheusTimeoutMillis, 100, 60'000);
  if (!config.prometheusUrl.empty() && config.prometheusUrl.rfind("http://", 0) != 0 &&
      config.prometheusUrl.rfind("https://", 0) != 0) {
    p.fail("url", "expected an http:// or https:// URL of Prometheus, got \"" +
                      config.prometheusUrl + "\"");
  }
  ConfigReader consoleTable = reader.table("console");
  console::readConsoleConfig(consoleTable, config.console);
  ConfigReader l = reader.table("limits");
  l.get("telemetry_windows_per_second", config.limits.telemetryWindowsPerSecond, 1, 1'000'000);
  l.get("telemetry_bytes_per_second", config.limits.telemetryBytesPerSecond, 1024,
        std::int64_t{1} << 40);
  l.get("messages_per_second", config.limits.messagesPerSecond, 10, 10'000'000);
  l.get("burst_seconds", config.limits.burstSeconds, 1, 3600);
  l.get("pending_chunk_requests", config.limits.pendingChunkRequests, 1, 1024);
  l.get("event_retention_days", config.limits.eventRetentionDays, 1, 36500);
  l.get("event_max_rows", config.limits.eventMaxRows, 1000, std::int64_t{1} << 40);
  ConfigReader m = reader.table("metrics");
  m.get("listen", config.metricsListen);
  if (m.has("listen")) {
    if (auto address = metrics::parseListenAddress(config.metricsListen); !address) {
      m.fail("listen", address.error().message);
    }
  }
  notify::readNotifyConfig(reader.table("notify"), config.notify);
  if (config.hostTimeoutSeconds <= config.heartbeatSeconds) {
    c.fail("host_timeout_seconds", "must be greater than heartbeat_seconds (" +
                                       std::to_string(config.heartbeatSeconds) + "), got " +
                                       std::to_string(config.hostTimeoutSeconds));
  }
  ConfigReader backtest = reader.table("backtest");
  backtest.get("max_bytes", config.backtestMaxBytes, 1LL << 20, 1LL << 40);
  backtest.get("good_after_hours", config.backtestGoodAfterHours, 1, 24 * 365);
  ConfigReader store = reader.table("store");
  store.get("url", config.storeUrl);
  store.get("coordinator_id", config.coordinatorId);
  store.get("lease_seconds", config.leaseSeconds, 2, 300);
  store.get("advertise_admin", config.advertiseAdmin);
  if (!config.storeUrl.empty() && config.storeUrl.rfind("postgresql://", 0) != 0 &&
      config.storeUrl.rfind("postgres://", 0) != 0) {
    store.fail("url", "expected a postgresql://USER@HOST:PORT/DATABASE URL, got \"" +
                          pg::redactUrl(config.storeUrl) + "\"");
  }
  if (config.coordinatorId.empty()) {
    char host[256] = {};
    config.coordinatorId = ::gethostname(host, sizeof(host) - 1) == 0 ? host : "coordinator";
  }
  if (config.coordinatorId.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789._-") != std::string::npos ||
      config.coordinatorId.size() > 64) {
    store.fail("coordinator_id", "expected up to 64 letters, digits, '.', '_' or '-', got \"" +
                                     config.coordinatorId.substr(0, 80) + "\"");
  }
  if (config.advertiseAdmin.empty()) config.advertiseAdmin = config.adminEndpoint;
  if (auto status = reader.finish(); !status) return status.error();
  return config;
}

}  // namespace

Result<CoordinatorConfig> parseCoordinatorConfig(const std::string& text,
                                                 const std::string& sourceName) {
  auto reader = ConfigReader::parseString(text, sourceName);
  if (!reader) return reader.error();
  return fromReader(std::move(*reader));
}

Result<CoordinatorConfig> loadCoordinatorConfig(const std::string& path) {
  struct stat st {};
  if (path == kDefaultCoordinatorConfig && ::stat(path.c_str(), &st) != 0) {
    return CoordinatorConfig{};
  }
  auto reader = ConfigReader::parseFile(path);
  if (!reader) return reader.error();
  return fromReader(std::move(*reader));
}

}  // namespace rollgate::coordinator
