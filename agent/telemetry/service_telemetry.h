// ServiceTelemetry: one declared service's telemetry pipeline, ready for the agent's event loop:
// access log -> LogFollower -> AccessLogParser -> WindowBuilder, error log -> LogFollower ->
// ErrorPattern -> WindowBuilder. The agent puts fds() in its zmq_poll set, calls onReadable(fd)
// for a readable one, calls onTimer() from its timerfd (e.g. every second; windows are cut there),
// and switchRelease() when the service's active release changes. Resource samples (sd-bus, or
// ProcStats as fallback) are passed in; this class does no systemd I/O.
// Thread-safety: none; the event-loop thread owns it. Clock: passed in as milliseconds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/telemetry/access_log.h"
#include "agent/telemetry/error_log.h"
#include "agent/telemetry/log_follower.h"
#include "agent/telemetry/window_builder.h"
#include "common/messages.h"
#include "common/result.h"

namespace rollgate::agent {

struct ServiceTelemetryConfig {
  std::string service;
  std::string accessLogPath;                 // empty: no access log
  std::string accessLogFormat = "combined";  // as AccessLogParser::fromName, or "json"
  JsonFields jsonFields;                     // used when accessLogFormat == "json"
  std::string errorLogPath;                  // empty: no error log (the pattern is then unused)
  std::string errorPattern = R"(ERROR|FATAL|panic|\[error\]|\[crit\]|\[alert\]|\[emerg\])";
  WindowOptions window;
};

// Saved follower positions, to be persisted by the agent across restarts.
struct ServiceTelemetryState {
  std::optional<FollowerState> accessLog;
  std::optional<FollowerState> errorLog;
};

// FollowerState as one line of text ("inode device offset hex-fingerprint"), for a state file.
std::string encodeFollowerState(const FollowerState& state);
Result<FollowerState> decodeFollowerState(std::string_view text);

class ServiceTelemetry {
 public:
  // Fails on a bad format or pattern, naming the service and the value.
  static Result<std::unique_ptr<ServiceTelemetry>> create(ServiceTelemetryConfig config,
                                                          std::string release,
                                                          std::uint64_t nowMillis,
                                                          ServiceTelemetryState restored = {});

  std::vector<int> fds() const;
  // Requires: fd is one of fds(). Reads new lines into the current window.
  void onReadable(int fd);
  // Backstop poll of both logs; adds the sample if given; returns the window if one is due.
  std::optional<TelemetryWindow> onTimer(std::uint64_t nowMillis,
                                         std::optional<ResourceSample> sample = {});
  // Reads what the logs hold now (lines before the switch belong to the old release), then cuts.
  std::optional<TelemetryWindow> switchRelease(std::string release, std::uint64_t nowMillis,
                                               std::optional<ResourceSample> sample = {});
  ServiceTelemetryState state() const;

  const std::string& service() const { return config_.service; }
  const std::string& release() const { return builder_.release(); }
  std::uint64_t nextCutMillis() const { return builder_.nextCutMillis(); }
  void setWindowMillis(std::uint64_t windowMillis) { builder_.setWindowMillis(windowMillis); }
  std::uint64_t accessLines() const { return accessLines_; }

 private:
  ServiceTelemetry(ServiceTelemetryConfig config, AccessLogParser parser,
                   std::optional<ErrorPattern> pattern, std::string release,
                   std::uint64_t nowMillis);

  ServiceTelemetryConfig config_;
  AccessLogParser parser_;
  std::optional<ErrorPattern> pattern_;  // set when there is an error log
  WindowBuilder builder_;
  std::unique_ptr<LogFollower> access_;
  std::unique_ptr<LogFollower> errors_;
  std::uint64_t accessLines_ = 0;
};

}  // namespace rollgate::agent
