// ProcStats: CPU time and resident memory of a process and all its descendants, read from /proc.
// The fallback for hosts where systemd does not account CPU/memory for a unit (sd-bus is the
// primary source, outside this component). CPU is utime+stime+cutime+cstime summed over the tree,
// so time of children that exited and were reaped inside the tree is kept.
// Thread-safety: stateless apart from the immutable proc root; calls may run concurrently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "agent/telemetry/window_builder.h"
#include "common/result.h"

namespace rollgate::agent {

struct ProcTreeSample {
  std::uint64_t cpuMillis = 0;
  std::uint64_t rssBytes = 0;
  std::uint32_t processes = 0;  // the main process plus its live descendants
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
