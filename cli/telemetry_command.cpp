// `rollgate telemetry`: the telemetry windows a host reported for a service.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"

namespace rollgate::cli {
namespace {

// Percentile of the window's raw latency sample, in milliseconds; negative when there is none.
double percentileMillis(std::vector<std::uint32_t> sample, double q) {
  if (sample.empty()) return -1;
  std::sort(sample.begin(), sample.end());
  std::size_t index = static_cast<std::size_t>(q * (sample.size() - 1) + 0.5);
  return sample[std::min(index, sample.size() - 1)] / 1000.0;
}

std::string clockTime(std::uint64_t millis) {
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%H:%M:%S", &tm);
  return buffer;
}

std::string fixed(double value, int digits) {
  if (value < 0) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

// What the service's Sentry endpoint counted (docs/sentry.md).
nlohmann::json sentryJson(const SentryWindow& s) {
  auto prints = nlohmann::json::array();
  for (const auto& f : s.fingerprints) {
    prints.push_back({{"type", f.type},
                      {"frame", f.frame},
                      {"count", f.count},
                      {"unhandled", f.unhandled},
                      {"sample_message", f.sampleMessage}});
  }
  return {{"errors", s.errors},
          {"unhandled", s.unhandled},
          {"sessions", s.sessions},
          {"sessions_errored", s.sessionsErrored},
          {"sessions_crashed", s.sessionsCrashed},
          {"sessions_abnormal", s.sessionsAbnormal},
          {"fingerprints", prints},
          {"fingerprints_dropped", s.fingerprintsDropped},
          {"no_release", s.noRelease},
          {"rejected", s.rejected},
          {"rate_limited", s.rateLimited},
          {"relay_dropped", s.relayDropped}};
}

nlohmann::json windowJson(const TelemetryWindow& w) {
  nlohmann::json codes = nlohmann::json::object();
  for (const auto& c : w.statusCodes) codes[std::to_string(c.code)] = c.count;
  nlohmann::json out = {{"service", w.service},
          {"release", w.release},
          {"start_ms", w.startMillis},
          {"end_ms", w.endMillis},
          {"requests", w.requests},
          {"status_1xx", w.status1xx},
          {"status_2xx", w.status2xx},
          {"status_3xx", w.status3xx},
          {"status_4xx", w.status4xx},
          {"status_5xx", w.status5xx},
          {"status_codes", codes},
          {"latency_p50_ms", percentileMillis(w.latencySampleMicros, 0.50)},
          {"latency_p90_ms", percentileMillis(w.latencySampleMicros, 0.90)},
          {"latency_p99_ms", percentileMillis(w.latencySampleMicros, 0.99)},
          {"latency_sample_size", w.latencySampleMicros.size()},
          {"latency_bucket_upper_us", w.latencyBucketUpperMicros},
          {"latency_bucket_counts", w.latencyBucketCounts},
          {"error_log_lines", w.errorLogLines},
          {"unparsed_lines", w.unparsedLines},
          {"cpu_ms", w.cpuMillis},
          {"memory_bytes", w.memoryBytes},
          {"restarts", w.restarts},
          {"unit_active", w.unitActive},
          {"main_pid", w.mainPid},
          {"dropped_before", w.droppedBefore}};
  if (w.sentry.enabled) out["sentry"] = sentryJson(w.sentry);
  return out;
}

}  // namespace

void addTelemetryCommand(CLI::App& app, AdminOptions& admin) {
  auto* telemetry = app.add_subcommand("telemetry", "telemetry windows a host reported");
  struct Options {
    std::string host;
    std::string service;
    std::uint32_t last = 10;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  telemetry->add_option("--host", options->host, "host name")->required();
  telemetry->add_option("--service", options->service, "service name (default: all)");
  telemetry->add_option("--last", options->last, "how many windows, newest last")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  telemetry->add_flag("--json", options->json, "print JSON");
  telemetry->callback([&admin, options] {
    AdminRequest request;
    request.body = QueryTelemetry{options->host, options->service, options->last};
    AdminReply reply = callAdminOrExit(admin, std::move(request));
    const auto* list = std::get_if<WindowList>(&reply.body);
    if (list == nullptr) fail(kExitFailure, "unexpected reply to a telemetry query");
    if (options->json) {
      auto windows = nlohmann::json::array();
      for (const auto& w : list->windows) windows.push_back(windowJson(w));
      std::printf("%s\n", nlohmann::json{{"host", options->host}, {"windows", windows}}.dump(2).c_str());
      return;
    }
    Table table({"START", "SECS", "SERVICE", "RELEASE", "REQS", "2XX", "4XX", "5XX", "5XX%",
                 "P50MS", "P99MS", "ERRLOG", "CPU_MS", "MEM_MB", "RESTARTS"});
    for (const auto& w : list->windows) {
      double seconds = (w.endMillis - w.startMillis) / 1000.0;
      double errorRate = w.requests ? 100.0 * w.status5xx / w.requests : -1;
      table.add({clockTime(w.startMillis), fixed(seconds, 1), w.service,
                 w.release.empty() ? "-" : w.release, std::to_string(w.requests),
                 std::to_string(w.status2xx), std::to_string(w.status4xx),
                 std::to_string(w.status5xx), fixed(errorRate, 2),
                 fixed(percentileMillis(w.latencySampleMicros, 0.5), 1),
                 fixed(percentileMillis(w.latencySampleMicros, 0.99), 1),
                 std::to_string(w.errorLogLines), std::to_string(w.cpuMillis),
                 fixed(w.memoryBytes / 1048576.0, 1), std::to_string(w.restarts)});
    }
    table.print(stdout);
    if (list->windows.empty()) std::printf("no telemetry yet from host %s\n", options->host.c_str());
  });
}

}  // namespace rollgate::cli
