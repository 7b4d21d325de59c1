#include "coordinator/metrics/coordinator_metrics.h"

#include "coordinator/rollout/rollout.h"

namespace rollgate::coordinator::metrics {
namespace {

const std::vector<std::string> kVerdicts = {"pass", "fail", "not_enough_data", "skipped"};

Labels checkLabels(const CheckGauge& c) {
  return {{"rollgate_rollout", c.rolloutId},
          {"rollgate_service", c.service},
          {"rollgate_check", c.check},
          {"rollgate_step", std::to_string(c.step)}};
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void countsByLabel(MetricFamily& f, const std::string& label,
                   const std::vector<std::string>& names,
                   const std::map<std::string, std::uint64_t>& counts) {
  for (const auto& name : names) {
    auto it = counts.find(name);
    f.samples.push_back(Sample{{{label, name}}, it == counts.end() ? 0.0 : double(it->second), {}});
  }
  for (const auto& [name, count] : counts) {  // any name not in the fixed list
    bool listed = false;
    for (const auto& n : names) listed = listed || n == name;
    if (!listed) f.samples.push_back(Sample{{{label, name}}, double(count), {}});
  }
}

MetricFamily scalar(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = family(std::move(name), std::move(help), type);
  f.samples.push_back(Sample{{}, value, {}});
  return f;
}

}  // namespace

std::vector<double> abortAckBucketsSeconds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> storeWriteBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}

namespace {

// The names of the rollout statuses, unfinished or terminal, in the engine's order (one name table:
// rollout::statusName).
std::vector<std::string> statusNames(bool terminal) {
  std::vector<std::string> names;
  for (int i = 0; i <= static_cast<int>(rollout::RolloutStatus::kRolledBackIncomplete); ++i) {
    auto status = static_cast<rollout::RolloutStatus>(i);
    if (rollout::isTerminal(status) == terminal) names.emplace_back(rollout::statusName(status));
  }
  return names;
}

}  // namespace

const std::vector<std::string>& runningStatusNames() {
  static const std::vector<std::string> names = statusNames(false);
  return names;
}

const std::vector<std::string>& finishedStatusNames() {
  static const std::vector<std::string> names = statusNames(true);
  return names;
}

namespace {

MetricFamily leaderFamily() {
  return family("rollgate_leader",
                "1 on the coordinator that leads, 0 on a standby (coordinators sharing "
                "PostgreSQL), labelled with its coordinator_id.",
                MetricType::kGauge);
}

std::vector<MetricFamily> standbyFamilies(const StandbyView& s) {
  std::vector<MetricFamily> out;
  MetricFamily leader = leaderFamily();
  leader.samples.push_back(Sample{{{"coordinator", s.coordinatorId}}, 0.0, {}});
  out.push_back(std::move(leader));
  out.push_back(scalar("rollgate_standby_lease_reachable",
                       "1 while this standby reaches the leader lease in PostgreSQL (it can take "
                       "over); 0 when its last try failed.",
                       MetricType::kGauge, s.leaseReachable ? 1.0 : 0.0));
  if (s.leader) {
    out.push_back(scalar("rollgate_standby_leader_epoch",
                         "The epoch of the leader lease as this standby last read it.",
                         MetricType::kGauge, double(s.leader->epoch)));
  }
  return out;
}

}  // namespace

std::vector<MetricFamily> metricFamilies(const MetricsSnapshot& s) {
  if (s.standby) return standbyFamilies(*s.standby);
  std::vector<MetricFamily> out;

  MetricFamily rollouts = family("rollgate_rollouts", "Unfinished rollouts by status.",
                                 MetricType::kGauge);
  countsByLabel(rollouts, "rollgate_status", runningStatusNames(), s.rolloutsByStatus);
  out.push_back(std::move(rollouts));

  MetricFamily finished = family("rollgate_rollouts_finished_total",
                                 "Rollouts that reached a terminal status since the coordinator "
                                 "started, by that status.",
                                 MetricType::kCounter);
  countsByLabel(finished, "rollgate_status", finishedStatusNames(), s.rolloutsFinished);
  out.push_back(std::move(finished));

  MetricFamily pValue = family("rollgate_check_p_value",
                               "Each running check's p-value at its last look (1 for checks "
                               "without a test).",
                               MetricType::kGauge);
  MetricFamily alpha = family("rollgate_check_alpha",
                              "The nominal level (alpha spent) at each running check's last look; "
                              "NaN for checks without a test.",
                              MetricType::kGauge);
  MetricFamily look = family("rollgate_check_look", "The last look evaluated of each running check.",
                             MetricType::kGauge);
  MetricFamily verdict = family("rollgate_check_verdict",
                                "Each running check's verdict at its last look: 1 for the verdict "
                                "it has, 0 for the others.",
                                MetricType::kGauge);
  for (const auto& c : s.checks) {
    Labels labels = checkLabels(c);
    pValue.samples.push_back(Sample{labels, c.pValue, {}});
    alpha.samples.push_back(Sample{labels, c.alphaAtLook, {}});
    look.samples.push_back(Sample{labels, double(c.look), {}});
    for (const auto& v : kVerdicts) {
      Labels withVerdict = labels;
      withVerdict.emplace_back("rollgate_verdict", v);
      verdict.samples.push_back(Sample{withVerdict, c.verdict == v ? 1.0 : 0.0, {}});
    }
  }
  out.push_back(std::move(pValue));
  out.push_back(std::move(alpha));
  out.push_back(std::move(look));
  out.push_back(std::move(verdict));

  MetricFamily ack = family("rollgate_abort_ack_latency_seconds",
                            "Time from an abort being opened to each targeted host's "
                            "acknowledgement.",
                            MetricType::kHistogram);
  ack.samples.push_back(Sample{{}, 0.0, s.abortAckSeconds});
  out.push_back(std::move(ack));

  MetricFamily hosts = family("rollgate_hosts", "Known hosts by state.", MetricType::kGauge);
  countsByLabel(hosts, "rollgate_state", {"healthy", "unhealthy"}, s.hostsByState);
  out.push_back(std::move(hosts));

  out.push_back(scalar("rollgate_telemetry_windows_received_total",
                       "Telemetry windows accepted from agents.", MetricType::kCounter,
                       double(s.telemetryWindowsReceived)));
  out.push_back(scalar("rollgate_telemetry_windows_dropped_total",
                       "Telemetry windows dropped (for a service the host does not declare).",
                       MetricType::kCounter, double(s.telemetryWindowsDropped)));
  const HostDrops& q = s.quotaDrops;
  MetricFamily quota = family("rollgate_quota_dropped_total",
                              "Messages from host keys dropped by the per-key limits ([limits]), "
                              "by kind; rollgate hosts names the hosts.",
                              MetricType::kCounter);
  countsByLabel(quota, "rollgate_kind",
                {"telemetry_window", "message", "chunk_reply", "unsolicited_result"},
                {{"telemetry_window", q.telemetryWindows},
                 {"message", q.messages},
                 {"chunk_reply", q.chunkReplies},
                 {"unsolicited_result", q.unsolicitedResults}});
  out.push_back(std::move(quota));
  out.push_back(scalar("rollgate_quota_dropped_telemetry_bytes_total",
                       "Bytes of the telemetry windows dropped over quota.", MetricType::kCounter,
                       double(q.telemetryBytes)));
  out.push_back(scalar("rollgate_sessions_replaced_total",
                       "Sessions closed because a newer hello came with the same host key.",
                       MetricType::kCounter, double(q.sessionsReplaced)));
  out.push_back(scalar("rollgate_commands_in_flight",
                       "Commands sent to agents and not yet answered.", MetricType::kGauge,
                       double(s.commandsInFlight)));
  out.push_back(scalar("rollgate_coordinator_stalls_total",
                       "Turns of the coordinator's loop that took seconds (an overloaded machine, a "
                       "slow disk, a store that did not answer); host silence and rollout timeouts "
                       "count again from the end of each.",
                       MetricType::kCounter, double(s.loopStalls)));

  if (s.leader) {
    MetricFamily leader = leaderFamily();
    leader.samples.push_back(Sample{{{"coordinator", s.leader->id}}, 1.0, {}});
    out.push_back(std::move(leader));
    out.push_back(scalar("rollgate_leader_epoch", "The epoch of the leader lease this coordinator "
                                                  "holds (every command carries it).",
                         MetricType::kGauge, double(s.leader->epoch)));
    out.push_back(scalar("rollgate_leader_since_seconds",
                         "Unix time at which this coordinator took the leader lease.",
                         MetricType::kGauge, double(s.leader->sinceMillis) / 1000.0));
  }

  MetricFamily store = family("rollgate_store_write_duration_seconds",
                              "Duration of the coordinator's writes to its store, by operation.",
                              MetricType::kHistogram);
  for (const auto& [operation, histogram] : s.storeWriteSeconds) {
    store.samples.push_back(Sample{{{"rollgate_operation", operation}}, 0.0, histogram});
  }
  out.push_back(std::move(store));

  const NotificationCounts& n = s.notifications;
  out.push_back(scalar("rollgate_notifications_queued",
                       "Webhook deliveries waiting to be sent or retried.", MetricType::kGauge,
                       double(n.queued)));
  out.push_back(scalar("rollgate_notifications_delivered_total",
                       "Webhook deliveries answered with a 2xx status.", MetricType::kCounter,
                       double(n.delivered)));
  out.push_back(scalar("rollgate_notifications_retried_total",
                       "Webhook delivery attempts that failed and were tried again later.",
                       MetricType::kCounter, double(n.retried)));
  out.push_back(scalar("rollgate_notifications_failed_total",
                       "Webhook deliveries given up after their last attempt.",
                       MetricType::kCounter, double(n.failed)));
  out.push_back(scalar("rollgate_notifications_dropped_total",
                       "Webhook deliveries dropped, oldest first, because the queue was full.",
                       MetricType::kCounter, double(n.dropped)));
  return out;
}

}  // namespace rollgate::coordinator::metrics
