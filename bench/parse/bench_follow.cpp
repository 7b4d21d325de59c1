// bench_follow: the agent-side cost of following an access log that nginx-like writers append to
// at a fixed rate (one write(2) per line, O_APPEND). A writer thread appends combined_rt lines at
// --rate lines/s for --seconds; the main thread runs the real pipeline (LogFollower on inotify ->
// AccessLogParser -> WindowBuilder) either on every wake-up or at most every --batch-millis, and
// prints its CPU time as a share of one core, per line, and the process RSS.
// Usage: bench_follow [--rate 10000] [--seconds 5] [--batch-millis 0]
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "agent/telemetry/access_log.h"
#include "agent/telemetry/log_follower.h"
#include "agent/telemetry/window_builder.h"

namespace {

double threadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

std::uint64_t steadyMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string rssKilobytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return line.substr(6);
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Agent-side CPU cost of following an access log at a fixed line rate");
  int rate = 10000;
  int seconds = 5;
  int batchMillis = 0;
  app.add_option("--rate", rate, "Lines per second written")->capture_default_str();
  app.add_option("--seconds", seconds, "Duration")->capture_default_str();
  app.add_option("--batch-millis", batchMillis,
                 "0: handle every inotify wake-up; N: handle at most every N ms")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string dirTemplate = "/tmp/rollgate-bench-follow-XXXXXX";
  if (::mkdtemp(dirTemplate.data()) == nullptr) return 1;
  const std::filesystem::path dir = dirTemplate;
  const std::string path = (dir / "access.log").string();

  using namespace rollgate::agent;
  const AccessLogParser parser = AccessLogParser::combinedRt();
  WindowBuilder builder("web", "v1", steadyMillis());
  std::uint64_t lines = 0;
  std::uint64_t windows = 0;
  auto follower = LogFollower::create(path, [&](std::string_view line) {
    ++lines;
    builder.addAccess(parser.parseLine(line));
  });
  if (!follower) {
    std::fprintf(stderr, "%s\n", follower.error().message.c_str());
    return 1;
  }

  std::atomic<bool> done{false};
  const std::uint64_t total =
      static_cast<std::uint64_t>(rate) * static_cast<std::uint64_t>(seconds);
  std::thread writer([&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const auto start = std::chrono::steady_clock::now();
    char line[512];
    for (std::uint64_t i = 0; i < total; ++i) {
      // Pace: line i is due at start + i / rate.
      const auto due =
          start + std::chrono::microseconds(i * 1000000 / static_cast<std::uint64_t>(rate));
      std::this_thread::sleep_until(due);
      const int length = std::snprintf(
          line, sizeof line,
          "10.0.%u.%u - - [01/Jan/2024:00:00:00 +0000] \"GET /api/v1/items/%llu HTTP/1.1\" %d 512 "
          "\"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36\" 0.%03llu\n",
          static_cast<unsigned>(i % 200), static_cast<unsigned>(i % 250),
          static_cast<unsigned long long>(i), i % 50 == 0 ? 500 : 200,
          static_cast<unsigned long long>(i % 1000));
      if (::write(fd, line, static_cast<std::size_t>(length)) != length) break;
    }
    ::close(fd);
    done = true;
  });

  const double cpuStart = threadCpuSeconds();
  const auto wallStart = std::chrono::steady_clock::now();
  std::uint64_t wakeups = 0;
  std::uint64_t lastHandled = 0;
  std::uint64_t lastPoll = steadyMillis();
  while (!done || lines < total) {
    pollfd item{(*follower)->fd(), POLLIN, 0};
    int timeout = 200;
    if (batchMillis > 0) {
      const std::uint64_t now = steadyMillis();
      if (now < lastHandled + static_cast<std::uint64_t>(batchMillis)) {
        // Batch mode: leave the fd out of the poll set until the batch interval has passed.
        ::poll(nullptr, 0,
               static_cast<int>(lastHandled + static_cast<std::uint64_t>(batchMillis) - now));
      }
    }
    if (::poll(&item, 1, timeout) > 0) {
      ++wakeups;
      (*follower)->onReadable();
      lastHandled = steadyMillis();
    }
    const std::uint64_t now = steadyMillis();
    if (now >= lastPoll + 1000) {  // the agent's 1 s timer: backstop poll and window cut
      (*follower)->poll();
      lastPoll = now;
      if (builder.cut(now)) ++windows;
    }
    if (done && std::chrono::steady_clock::now() - wallStart > std::chrono::seconds(seconds + 30))
      break;
  }
  const double cpu = threadCpuSeconds() - cpuStart;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  writer.join();
  std::printf(
      "rate %d lines/s for %d s, batch %d ms: %llu lines followed (%llu written), %llu wake-ups, "
      "%llu windows\n",
      rate, seconds, batchMillis, static_cast<unsigned long long>(lines),
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(wakeups),
      static_cast<unsigned long long>(windows));
  std::printf(
      "follower thread CPU: %.3f s over %.2f s wall = %.2f%% of one core, %.0f ns per line\n", cpu,
      wall, 100.0 * cpu / wall, cpu * 1e9 / static_cast<double>(lines == 0 ? 1 : lines));
  std::printf("process RSS: %s\n", rssKilobytes().c_str());
  std::filesystem::remove_all(dir);
  return lines == total ? 0 : 1;
}
