// Telemetry windows: WindowBuilder turns one service's parsed access-log lines, error-log lines and
// resource samples into rollgate::TelemetryWindow values, one per window (default 10 s) and never
// spanning a release switch (backlog.h keeps finished windows until the coordinator has them).
// Pure logic: no I/O, no clock of its own (times are passed in as milliseconds), deterministic
// (the latency reservoir uses a seeded RNG).
// Thread-safety: none; one thread owns a builder / backlog.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/telemetry/access_log.h"
#include "common/messages.h"

namespace rollgate::agent {

// One reading of a service's resources, from systemd (sd-bus) or from /proc (ProcStats).
// cpuMillis (or cpuNanos) and restarts are cumulative counters; a counter that goes backwards (the
// process tree was replaced) restarts the accumulation from its new value.
struct ResourceSample {
  std::uint64_t cpuMillis = 0;
  std::uint64_t memoryBytes = 0;
  std::uint32_t restarts = 0;
  bool unitActive = false;
  std::uint32_t mainPid = 0;
  std::uint64_t cpuNanos = 0;  // when non-zero, the unit's CPU time at ns resolution (not cpuMillis)
  bool operator==(const ResourceSample&) const = default;
};

// Fixed, log-spaced latency bucket upper bounds in microseconds: 64 * 2^(i/2), rounded, from 64 µs
// to about 67 s, then a last +inf bucket (UINT64_MAX). Every window carries the same bounds.
const std::vector<std::uint64_t>& latencyBucketUpperMicros();

// Latencies per window: a histogram of every request (the buckets above) and a reservoir of at
// most sampleCapacity raw values (4 bytes each: 4 KiB a window by default) kept by Algorithm R, so
// that whatever the traffic the reservoir is a uniform random sample of the window's requests and
// the share of it above any threshold estimates the window's share without bias (what the latency
// tail check counts). The coordinator weighs windows by their request counts when it pools them.
struct WindowOptions {
  std::uint64_t windowMillis = 10000;
  std::size_t sampleCapacity = 1024;  // reservoir size for raw latencies
  std::uint64_t seed = 1;             // reservoir RNG seed
};

class WindowBuilder {
 public:
  // Opens the first window at nowMillis.
  WindowBuilder(std::string service, std::string release, std::uint64_t nowMillis,
                WindowOptions options = {});

  // One access-log line: parsed lines count as requests, the others as unparsed lines.
  void addAccess(const AccessRecord& record);
  void addUnparsed(std::uint64_t lines = 1) { window_.unparsedLines += lines; }
  void addErrorLines(std::uint64_t lines = 1) { window_.errorLogLines += lines; }
  // CPU and restarts are accumulated as deltas between successive samples; memory, active state
  // and main PID are taken from the latest sample. The first sample only sets the baseline. Take a
  // sample just before cut()/switchRelease() so the window gets the usage up to its end.
  void addResourceSample(const ResourceSample& sample);

  // When a full window has elapsed (nowMillis >= start + windowMillis), closes the current window
  // as [start, nowMillis) and returns it; otherwise nothing. Call from a timer at least every
  // windowMillis; a late call yields one longer window, never a gap.
  std::optional<TelemetryWindow> cut(std::uint64_t nowMillis);
  // Closes the current window at nowMillis (whatever its length) and opens one for newRelease.
  // Returns the closed window, or nothing if it is empty and zero-length.
  std::optional<TelemetryWindow> switchRelease(std::string newRelease, std::uint64_t nowMillis);
  // Closes the current window at nowMillis unconditionally (e.g. at shutdown).
  TelemetryWindow closeNow(std::uint64_t nowMillis);

  std::uint64_t nextCutMillis() const { return window_.startMillis + options_.windowMillis; }
  // A new window length (the coordinator's, from its Welcome). The open window is cut once it is
  // `windowMillis` long (at once, at the next cut(), if it already is). Requires: windowMillis > 0.
  void setWindowMillis(std::uint64_t windowMillis);
  std::uint64_t windowMillis() const { return options_.windowMillis; }
  const std::string& release() const { return window_.release; }
  const std::string& service() const { return window_.service; }

 private:
  TelemetryWindow finish(std::uint64_t nowMillis);
  void reset(std::uint64_t startMillis);
  std::uint64_t nextRandom();

  WindowOptions options_;
  TelemetryWindow window_;
  std::vector<std::uint64_t> statusCounts_;  // index = status code (0..599)
  std::uint64_t latencySeen_ = 0;            // latencies offered to the reservoir this window
  std::uint64_t rngState_ = 0;
  std::optional<ResourceSample> lastSample_;
  std::uint64_t cpuAccumulatedNanos_ = 0;
  std::uint32_t restartsAccumulated_ = 0;
};

}  // namespace rollgate::agent
