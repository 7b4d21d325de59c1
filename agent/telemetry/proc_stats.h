// ProcStats: CPU time and resident memory of a process and all its descendants, read from /proc.
// The fallback for hosts where systemd does not account CPU/memory for a unit (sd-bus is the
// primary source, outside this component). CPU is utime+stime+cutime+cstime summed over the tree,
// so time of children that exited and were reaped inside the tree is kept. Those are clock ticks
// (10 ms), too coarse for short windows: the unit's CPU is read in nanoseconds instead from, in
// this order (selectUnitCpu), systemd's CPUUsageNSec, the unit cgroup's cpu.stat usage_usec, or
// /proc/PID/task/TID/schedstat summed over the unit's processes (UnitResources); ticks are used
// for memory only (RSS), after memory.current.
// Thread-safety: stateless apart from the immutable proc root; calls may run concurrently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/telemetry/window_builder.h"
#include "common/result.h"

namespace rollgate::agent {

struct ProcTreeSample {
  std::uint64_t cpuMillis = 0;
  std::uint64_t rssBytes = 0;
  std::uint32_t processes = 0;  // the main process plus its live descendants
  std::vector<pid_t> pids;      // the same processes, main first
};

// cgroup v2 cpu.stat: usage_usec in nanoseconds; nullopt when the line is missing or malformed.
std::optional<std::uint64_t> parseCgroupCpuStatNanos(std::string_view text);
// /proc/PID/schedstat (or task/TID/schedstat): "run_ns wait_ns timeslices"; the run time.
std::optional<std::uint64_t> parseSchedstatNanos(std::string_view text);
// cgroup v2 memory.current: one number of bytes ("max" or garbage: nullopt).
std::optional<std::uint64_t> parseMemoryCurrentBytes(std::string_view text);

// Where a unit's CPU time came from, best first.
enum class CpuSource : std::uint8_t { kSystemd, kCgroup, kSchedstat, kNone };
std::string_view cpuSourceName(CpuSource source);
struct UnitCpuReadings {
  std::optional<std::uint64_t> systemdNanos;    // CPUUsageNSec, when CPU accounting is on
  std::optional<std::uint64_t> cgroupNanos;     // the unit cgroup's cpu.stat
  std::optional<std::uint64_t> schedstatNanos;  // summed over the unit's processes
};
struct UnitCpu {
  CpuSource source = CpuSource::kNone;
  std::uint64_t nanos = 0;
};
// The first reading present in the order systemd, cgroup, schedstat. Never clock ticks.
UnitCpu selectUnitCpu(const UnitCpuReadings& readings);

// Reads a unit's cgroup (v2, under cgroupRoot) and its processes' schedstat (under procRoot).
// Thread-safety: stateless apart from the immutable roots.
class UnitResources {
 public:
  explicit UnitResources(std::string cgroupRoot = "/sys/fs/cgroup", std::string procRoot = "/proc");
  // controlGroup: systemd's ControlGroup property ("/system.slice/web.service"); empty: nullopt.
  std::optional<std::uint64_t> cgroupCpuNanos(const std::string& controlGroup) const;
  std::optional<std::uint64_t> cgroupMemoryBytes(const std::string& controlGroup) const;
  // The processes of the cgroup (cgroup.procs); empty when unknown.
  std::vector<pid_t> cgroupPids(const std::string& controlGroup) const;
  // Run time of every thread of `pids`, summed; nullopt when none could be read. CPU of
  // processes that exited is not in it (unlike cutime), so prefer the cgroup sources.
  std::optional<std::uint64_t> schedstatNanos(const std::vector<pid_t>& pids) const;

 private:
  std::string cgroupRoot_;
  std::string procRoot_;
};

class ProcStats {
 public:
  explicit ProcStats(std::string procRoot = "/proc");

  // Fails, naming the PID, when mainPid does not exist (or is not readable).
  Result<ProcTreeSample> sampleTree(pid_t mainPid) const;
  // sampleTree as a ResourceSample (restarts 0, unitActive = the process exists).
  ResourceSample resourceSample(pid_t mainPid) const;

 private:
  std::string procRoot_;
  std::uint64_t ticksPerSecond_;
  std::uint64_t pageBytes_;
};

}  // namespace rollgate::agent
