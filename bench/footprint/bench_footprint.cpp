// bench_footprint: runs a real rollgate-agent (two services, systemd = "none") against a real
// coordinator, appends combined-format access log lines to both services' logs at a fixed rate
// for a fixed time, and prints the agent's VmRSS / VmHWM (/proc/<pid>/status) and its CPU use
// (utime + stime delta from /proc/<pid>/stat over the run) as a share of one core.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/fleet/fleet.h"

using rollgate::testing::AgentSpec;
using rollgate::testing::cpuTicks;
using rollgate::testing::LocalFleet;
using Clock = std::chrono::steady_clock;

namespace {

// The pid of the process whose command line contains `needle`, or -1.
int findPid(const std::string& needle) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  int found = -1;
  while (dirent* entry = ::readdir(proc)) {
    int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : cmdline) if (c == '\0') c = ' ';
    if (cmdline.find("rollgate-agent") != std::string::npos &&
        cmdline.find(needle) != std::string::npos) {
      found = pid;
    }
  }
  ::closedir(proc);
  return found;
}

long statusKilobytes(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

std::string nowCombined() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return buffer;
}

int run(int linesPerSecond, int seconds) {
  rollgate::testing::TempDir work("rollgate-bench-footprint");
  LocalFleet fleet("window_seconds = 1\n");  // the coordinator decides the agents' window
  fleet.startCoordinator();
  if (!fleet.waitForCoordinator()) return 1;
  std::vector<std::string> logs{work.file("web.log"), work.file("api.log")};
  for (const auto& log : logs) rollgate::testing::writeFile(log, "");
  AgentSpec spec("foot-1", "eu-west", "eu-west-a");
  spec.extraToml = "systemd = \"none\"\nwindow_seconds = 1\n";
  const char* names[] = {"web", "api"};
  for (int i = 0; i < 2; ++i) {
    spec.extraToml += std::string("\n[[service]]\nname = \"") + names[i] +
                      "\"\ninstall_root = \"" + work.file(std::string("root-") + names[i]) +
                      "\"\naccess_log = \"" + logs[static_cast<std::size_t>(i)] +
                      "\"\naccess_log_format = \"combined\"\nrestart_command = [\"/bin/true\"]\n";
  }
  fleet.addAgent(spec);
  fleet.startAgent("foot-1");
  if (!fleet.waitForHealthy({"foot-1"})) {
    std::fprintf(stderr, "agent not healthy; log %s\n", fleet.agentLog("foot-1").c_str());
    return 1;
  }
  int pid = findPid(fleet.agentConfig("foot-1"));
  if (pid < 0) return 1;
  long idleRss = statusKilobytes(pid, "VmRSS");
  std::vector<FILE*> files;
  for (const auto& log : logs) files.push_back(std::fopen(log.c_str(), "a"));
  const long ticksPerSecond = ::sysconf(_SC_CLK_TCK);
  long ticksBefore = cpuTicks(pid);
  auto start = Clock::now();
  long written = 0;
  const int sliceMillis = 10;
  const int perSlice = linesPerSecond * sliceMillis / 1000;
  for (int slice = 0; slice < seconds * 1000 / sliceMillis; ++slice) {
    std::string stamp = nowCombined();
    for (FILE* f : files) {
      for (int k = 0; k < perSlice; ++k) {
        int status = (k % 50 == 0) ? 500 : (k % 10 == 0 ? 404 : 200);
        std::fprintf(f,
                     "10.0.%d.%d - - [%s] \"GET /api/items/%d HTTP/1.1\" %d %d \"-\" "
                     "\"Mozilla/5.0 (X11; Linux x86_64)\"\n",
                     k % 250, slice % 250, stamp.c_str(), k, status, 512 + k);
      }
      std::fflush(f);
      written += perSlice;
    }
    std::this_thread::sleep_until(start + std::chrono::milliseconds(sliceMillis * (slice + 1)));
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  long ticksAfter = cpuTicks(pid);
  long rss = statusKilobytes(pid, "VmRSS");
  long hwm = statusKilobytes(pid, "VmHWM");
  long anon = statusKilobytes(pid, "RssAnon");
  long fileBacked = statusKilobytes(pid, "RssFile");
  long threads = statusKilobytes(pid, "Threads");
  for (FILE* f : files) std::fclose(f);
  double cpuSeconds = static_cast<double>(ticksAfter - ticksBefore) / static_cast<double>(ticksPerSecond);
  std::printf("agent: 2 services, %ld lines appended in %.1f s (%d lines/s per log)\n", written,
              elapsed, linesPerSecond);
  std::printf("agent RSS: %.1f MB idle, %.1f MB after the run, peak (VmHWM) %.1f MB\n",
              idleRss / 1024.0, rss / 1024.0, hwm / 1024.0);
  std::printf("agent RSS split: %.1f MB anonymous (heap, stacks), %.1f MB file-backed (binary and "
              "shared libraries, shared with other processes); %ld threads\n",
              anon / 1024.0, fileBacked / 1024.0, threads);
  std::printf("agent CPU: %.2f s over %.1f s = %.1f%% of one core\n", cpuSeconds, elapsed,
              100.0 * cpuSeconds / elapsed);
  // The agent really parsed the lines: sum the requests it reported (windows close every second;
  // the last ones arrive within a few seconds on a loaded machine, so wait for them, boundedly).
  unsigned long long counted = 0;
  auto countReported = [&] {
    counted = 0;
    for (const char* service : names) {
      auto out = fleet.cli({"telemetry", "--host", "foot-1", "--service", service, "--last",
                            "1000", "--json"});
      auto json = nlohmann::json::parse(out.out, nullptr, false);
      if (json.is_discarded() || !json.contains("windows")) continue;
      for (const auto& w : json["windows"]) counted += w.value("requests", 0ULL);
    }
    return counted >= static_cast<unsigned long long>(written);
  };
  rollgate::testing::waitUntil(countReported, std::chrono::seconds(30), std::chrono::milliseconds(500));
  std::printf("agent reported %llu requests in its telemetry for %ld lines written\n", counted,
              written);
  std::printf("goals: RSS <= 10 MB -> %s; CPU <= 2%% of a core -> %s\n",
              hwm <= 10 * 1024 ? "met" : "NOT met", cpuSeconds / elapsed <= 0.02 ? "met" : "NOT met");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int linesPerSecond = argc > 1 ? std::atoi(argv[1]) : 10000;
  int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
  try {
    return run(linesPerSecond, seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_footprint: %s\n", e.what());
    return 1;
  }
}
