// The unit's CPU and memory sources: cgroup v2 cpu.stat and memory.current, schedstat, and the
// order they are chosen in, from fixture text and a fixture cgroup/proc tree in a temporary
// directory (no root, no systemd).
#include <doctest/doctest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/telemetry/proc_stats.h"
#include "agent/telemetry/window_builder.h"

using namespace rollgate::agent;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "unit-cpu-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

TEST_CASE("cpu.stat: usage_usec in nanoseconds") {
  CHECK(parseCgroupCpuStatNanos("usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n"
                                "nr_periods 0\n") == 1'234'567'000ull);
  CHECK(parseCgroupCpuStatNanos("user_usec 5\nusage_usec 7") == 7000ull);
  CHECK_FALSE(parseCgroupCpuStatNanos("user_usec 5\nsystem_usec 7\n"));
  CHECK_FALSE(parseCgroupCpuStatNanos("usage_usec lots\n"));
  CHECK_FALSE(parseCgroupCpuStatNanos(""));
}

TEST_CASE("schedstat: the run time in nanoseconds") {
  CHECK(parseSchedstatNanos("15302846 2106452 91\n") == 15'302'846ull);
  CHECK(parseSchedstatNanos("0 0 0\n") == 0ull);
  CHECK_FALSE(parseSchedstatNanos("garbage\n"));
  CHECK_FALSE(parseSchedstatNanos("x 1 2\n"));
}

TEST_CASE("memory.current: bytes; max or garbage is nothing") {
  CHECK(parseMemoryCurrentBytes("104857600\n") == 104'857'600ull);
  CHECK_FALSE(parseMemoryCurrentBytes("max\n"));
  CHECK_FALSE(parseMemoryCurrentBytes(""));
}

TEST_CASE("the unit's CPU: systemd first, then the cgroup, then schedstat, never ticks") {
  UnitCpuReadings all{1'000, 2'000, 3'000};
  CHECK(selectUnitCpu(all).source == CpuSource::kSystemd);
  CHECK(selectUnitCpu(all).nanos == 1'000);
  UnitCpuReadings noSystemd{std::nullopt, 2'000, 3'000};
  CHECK(selectUnitCpu(noSystemd).source == CpuSource::kCgroup);
  CHECK(selectUnitCpu(noSystemd).nanos == 2'000);
  UnitCpuReadings onlySched{std::nullopt, std::nullopt, 3'000};
  CHECK(selectUnitCpu(onlySched).source == CpuSource::kSchedstat);
  CHECK(selectUnitCpu(onlySched).nanos == 3'000);
  CHECK(selectUnitCpu(UnitCpuReadings{}).source == CpuSource::kNone);
  CHECK(cpuSourceName(CpuSource::kCgroup) == "cgroup cpu.stat");
}

TEST_CASE("a fixture cgroup and proc tree: cpu.stat, memory.current, cgroup.procs, schedstat") {
  TempDir dir;
  fs::path cgroup = dir.path() / "cgroup" / "system.slice" / "web.service";
  write(cgroup / "cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
  write(cgroup / "memory.current", "8192\n");
  write(cgroup / "cgroup.procs", "100\n200\n");
  fs::path proc = dir.path() / "proc";
  write(proc / "100" / "task" / "100" / "schedstat", "1000 5 1\n");
  write(proc / "100" / "task" / "101" / "schedstat", "250 5 1\n");  // a second thread
  write(proc / "200" / "task" / "200" / "schedstat", "30 5 1\n");
  UnitResources unit((dir.path() / "cgroup").string(), proc.string());
  CHECK(unit.cgroupCpuNanos("/system.slice/web.service") == 2'500'000ull);
  CHECK(unit.cgroupMemoryBytes("/system.slice/web.service") == 8192ull);
  auto pids = unit.cgroupPids("/system.slice/web.service");
  CHECK(pids == std::vector<pid_t>{100, 200});
  CHECK(unit.schedstatNanos(pids) == 1280ull);
  CHECK_FALSE(unit.schedstatNanos({300}));  // no such process
  CHECK_FALSE(unit.cgroupCpuNanos(""));
  CHECK_FALSE(unit.cgroupCpuNanos("/system.slice/other.service"));
  CHECK(unit.cgroupPids("/system.slice/other.service").empty());
}

TEST_CASE("schedstat of this process grows with CPU it burns, at sub-tick resolution") {
  UnitResources unit;
  auto before = unit.schedstatNanos({::getpid()});
  if (!before) {
    MESSAGE("this kernel has no /proc/PID/task/TID/schedstat");
    return;
  }
  // Burn 50 ms of CPU (the kernel folds run time into schedstat at ticks and switches).
  const auto cpuNowMicros = [] {
    timespec cpu{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    return static_cast<std::uint64_t>(cpu.tv_sec) * 1'000'000 +
           static_cast<std::uint64_t>(cpu.tv_nsec) / 1000;
  };
  const std::uint64_t first = cpuNowMicros();
  volatile std::uint64_t sink = 0;
  while (cpuNowMicros() - first < 50'000) {
    for (int i = 0; i < 100000; ++i) sink = sink + static_cast<std::uint64_t>(i);
  }
  auto after = unit.schedstatNanos({::getpid()});
  REQUIRE(after);
  CHECK(*after > *before);
  // Not a multiple of a 10 ms tick (a tick count would be): nanosecond resolution.
  CHECK(*after % 10'000'000 != 0);
}

TEST_CASE("windows from nanosecond samples carry CPU in microseconds") {
  WindowBuilder builder("web", "1.0", 0, WindowOptions{1000, 16, 1});
  builder.addResourceSample({.cpuMillis = 0, .unitActive = true, .cpuNanos = 5'000'000'123});
  builder.addResourceSample({.cpuMillis = 0, .unitActive = true, .cpuNanos = 5'001'500'999});
  auto window = builder.cut(1000);
  REQUIRE(window);
  CHECK(window->cpuMicros == 1500);  // 1.5 ms: a tick-based reading would show 0 or 10 ms
  CHECK(window->cpuMillis == 1);
}
