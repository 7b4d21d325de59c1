#include "agent/telemetry/proc_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
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

}  // namespace rollgate::agent
