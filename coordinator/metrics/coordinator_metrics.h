// What the coordinator exports on /metrics: a snapshot its loop publishes (MetricsSnapshot) and
// the metric families made from one. Names follow Prometheus's rules: the `rollgate_` prefix,
// base units (seconds), `_total` on counters, and label names of our own (`rollgate_service`,
// `rollgate_status`, ...) so that none clashes with a target label (region, cluster, service,
// instance, job). docs/metrics.md lists every metric. Pure: no I/O, no clock.
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "coordinator/metrics/exposition.h"

namespace rollgate::coordinator::metrics {

// The last result of one check of a running rollout.
struct CheckGauge {
  std::string rolloutId;
  std::string service;
  std::string check;
  std::uint32_t step = 0;  // 1-based
  std::uint32_t look = 0;  // 1-based
  double pValue = 1.0;
  double alphaAtLook = 0.0;  // NaN for checks without a test
  std::string verdict;       // pass, fail, not_enough_data, skipped
};

// Upper bounds (seconds) of the two latency histograms.
std::vector<double> abortAckBucketsSeconds();
std::vector<double> storeWriteBucketsSeconds();

struct NotificationCounts {
  std::uint64_t queued = 0;     // waiting or waiting for a retry
  std::uint64_t delivered = 0;  // answered 2xx
  std::uint64_t retried = 0;    // failed attempts that were tried again later
  std::uint64_t failed = 0;     // given up after the last attempt
  std::uint64_t dropped = 0;    // pushed out of the full queue (oldest first)
};

// A standby (coordinators sharing PostgreSQL, another one leading): what its /metrics shows.
struct StandbyView {
  std::string coordinatorId;  // this coordinator's
  bool leaseReachable = false;  // its last try to take the lease reached PostgreSQL
  std::optional<LeaderInfo> leader;  // the lease's holder as it last read it
};

struct MetricsSnapshot {
  std::map<std::string, std::uint64_t> rolloutsByStatus;  // unfinished rollouts
  std::map<std::string, std::uint64_t> rolloutsFinished;  // since the coordinator started
  std::vector<CheckGauge> checks;
  HistogramValue abortAckSeconds{abortAckBucketsSeconds(),
                                 std::vector<std::uint64_t>(abortAckBucketsSeconds().size() + 1)};
  std::map<std::string, std::uint64_t> hostsByState;  // healthy, unhealthy
  std::uint64_t telemetryWindowsReceived = 0;
  std::uint64_t telemetryWindowsDropped = 0;
  HostDrops quotaDrops;  // every host key's drops summed (`rollgate hosts` has them per host)
  std::uint64_t commandsInFlight = 0;
  std::uint64_t loopStalls = 0;  // turns of the coordinator's loop that took seconds
  std::map<std::string, HistogramValue> storeWriteSeconds;  // by store operation
  NotificationCounts notifications;
  std::optional<LeaderInfo> leader;  // coordinators sharing PostgreSQL: this one, leading
  // Set on a standby, which exports only rollgate_leader (0) and the rollgate_standby_* families:
  // it runs no rollouts and hears no agents, so every other figure would be a misleading zero.
  std::optional<StandbyView> standby;
};

// The unfinished statuses rollgate_rollouts always reports (0 when none), and the terminal ones
// rollgate_rollouts_finished_total does.
const std::vector<std::string>& runningStatusNames();
const std::vector<std::string>& finishedStatusNames();

std::vector<MetricFamily> metricFamilies(const MetricsSnapshot& snapshot);
inline std::string renderMetrics(const MetricsSnapshot& snapshot) {
  return renderText(metricFamilies(snapshot));
}

}  // namespace rollgate::coordinator::metrics
