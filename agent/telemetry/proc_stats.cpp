#include "agent/telemetry/proc_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace rollgate::agent {
namespace {

struct ProcEntry {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::uint64_t ticks = 0;  // utime + stime + cutime + cstime
  std::uint64_t rssPages = 0;
};

bool readSmallFile(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (n <= 0) return false;
  out.assign(buffer, static_cast<std::size_t>(n));
  return true;
}

// /proc/<pid>/stat: "pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17) ...
// rss(24)". comm may hold spaces and parentheses, so fields are counted after the LAST ')'.
bool parseStat(const std::string& text, ProcEntry& entry) {
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::uint64_t fields[22] = {};  // fields 3..24
  std::size_t index = 0;
  const char* p = text.data() + close + 1;
  const char* const end = text.data() + text.size();
  while (p < end && index < 22) {
    while (p < end && *p == ' ') ++p;
    const char* start = p;
    while (p < end && *p != ' ' && *p != '\n') ++p;
    if (index == 0) {
      ++index;  // state letter
      continue;
    }
    std::int64_t value = 0;
    std::from_chars(start, p, value);
    fields[index++] = value < 0 ? 0 : static_cast<std::uint64_t>(value);
  }
  if (index < 22) return false;
  entry.ppid = static_cast<pid_t>(fields[1]);                       // field 4
  entry.ticks = fields[11] + fields[12] + fields[13] + fields[14];  // fields 14..17
  entry.rssPages = fields[21];                                      // field 24
  return true;
}

}  // namespace

ProcStats::ProcStats(std::string procRoot)
    : procRoot_(std::move(procRoot)),
      ticksPerSecond_(static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK))),
      pageBytes_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))) {}

Result<ProcTreeSample> ProcStats::sampleTree(pid_t mainPid) const {
  std::string text;
  ProcEntry main;
  if (mainPid <= 0 || !readSmallFile(procRoot_ + "/" + std::to_string(mainPid) + "/stat", text) ||
      !parseStat(text, main)) {
    return makeError("process " + std::to_string(mainPid) + ": not found in " + procRoot_);
  }
  main.pid = mainPid;
  std::unordered_map<pid_t, std::vector<ProcEntry>> children;
  if (DIR* dir = ::opendir(procRoot_.c_str())) {
    while (const dirent* item = ::readdir(dir)) {
      pid_t pid = 0;
      const char* name = item->d_name;
      const auto [ptr, ec] = std::from_chars(name, name + std::strlen(name), pid);
      if (ec != std::errc{} || *ptr != '\0' || pid == mainPid) continue;
      ProcEntry entry;
      entry.pid = pid;
      if (readSmallFile(procRoot_ + "/" + name + "/stat", text) && parseStat(text, entry)) {
        children[entry.ppid].push_back(entry);
      }
    }
    ::closedir(dir);
  }
  ProcTreeSample sample;
  std::uint64_t ticks = 0;
  std::uint64_t pages = 0;
  std::vector<ProcEntry> stack{main};
  while (!stack.empty()) {
    const ProcEntry entry = stack.back();
    stack.pop_back();
    ticks += entry.ticks;
    pages += entry.rssPages;
    ++sample.processes;
    sample.pids.push_back(entry.pid);
    if (auto it = children.find(entry.pid); it != children.end()) {
      for (const auto& child : it->second) stack.push_back(child);
      children.erase(it);  // a pid is visited once even if the tree changed while we read it
    }
  }
  sample.cpuMillis = ticks * 1000 / (ticksPerSecond_ == 0 ? 100 : ticksPerSecond_);
  sample.rssBytes = pages * pageBytes_;
  return sample;
}

ResourceSample ProcStats::resourceSample(pid_t mainPid) const {
  ResourceSample out;
  out.mainPid = mainPid > 0 ? static_cast<std::uint32_t>(mainPid) : 0;
  if (auto tree = sampleTree(mainPid)) {
    out.cpuMillis = tree->cpuMillis;
    out.memoryBytes = tree->rssBytes;
    out.unitActive = true;
  }
  return out;
}

namespace {

std::optional<std::uint64_t> parseNumber(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<std::uint64_t> parseCgroupCpuStatNanos(std::string_view text) {
  constexpr std::string_view kKey = "usage_usec ";
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with(kKey)) {
      auto micros = parseNumber(line.substr(kKey.size()));
      if (!micros) return std::nullopt;
      return *micros * 1000;
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parseSchedstatNanos(std::string_view text) {
  std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  return parseNumber(text.substr(0, space));
}

std::optional<std::uint64_t> parseMemoryCurrentBytes(std::string_view text) {
  return parseNumber(text);
}

std::string_view cpuSourceName(CpuSource source) {
  switch (source) {
    case CpuSource::kSystemd:
      return "systemd CPUUsageNSec";
    case CpuSource::kCgroup:
      return "cgroup cpu.stat";
    case CpuSource::kSchedstat:
      return "schedstat";
    case CpuSource::kNone:
      return "none";
  }
  return "?";
}

UnitCpu selectUnitCpu(const UnitCpuReadings& readings) {
  if (readings.systemdNanos) return {CpuSource::kSystemd, *readings.systemdNanos};
  if (readings.cgroupNanos) return {CpuSource::kCgroup, *readings.cgroupNanos};
  if (readings.schedstatNanos) return {CpuSource::kSchedstat, *readings.schedstatNanos};
  return {};
}

UnitResources::UnitResources(std::string cgroupRoot, std::string procRoot)
    : cgroupRoot_(std::move(cgroupRoot)), procRoot_(std::move(procRoot)) {}

std::optional<std::uint64_t> UnitResources::cgroupCpuNanos(const std::string& controlGroup) const {
  if (controlGroup.empty()) return std::nullopt;
  auto text = readFile(cgroupRoot_ + controlGroup + "/cpu.stat");
  return text ? parseCgroupCpuStatNanos(*text) : std::nullopt;
}

std::optional<std::uint64_t> UnitResources::cgroupMemoryBytes(
    const std::string& controlGroup) const {
  if (controlGroup.empty()) return std::nullopt;
  auto text = readFile(cgroupRoot_ + controlGroup + "/memory.current");
  return text ? parseMemoryCurrentBytes(*text) : std::nullopt;
}

std::vector<pid_t> UnitResources::cgroupPids(const std::string& controlGroup) const {
  std::vector<pid_t> pids;
  if (controlGroup.empty()) return pids;
  auto text = readFile(cgroupRoot_ + controlGroup + "/cgroup.procs");
  if (!text) return pids;
  std::istringstream in(*text);
  pid_t pid = 0;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

std::optional<std::uint64_t> UnitResources::schedstatNanos(const std::vector<pid_t>& pids) const {
  std::optional<std::uint64_t> total;
  std::string text;
  for (pid_t pid : pids) {
    std::string tasks = procRoot_ + "/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(tasks.c_str());
    if (dir == nullptr) continue;
    while (const dirent* item = ::readdir(dir)) {
      if (item->d_name[0] == '.') continue;
      if (!readSmallFile(tasks + "/" + item->d_name + "/schedstat", text)) continue;
      if (auto nanos = parseSchedstatNanos(text)) total = total.value_or(0) + *nanos;
    }
    ::closedir(dir);
  }
  return total;
}

}  // namespace rollgate::agent
