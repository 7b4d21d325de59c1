#include "agent/telemetry/proc_stats.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using rollgate::agent::ProcStats;

namespace {

// A child `sh` with two `sleep` children: a tree of three processes, killed at scope exit.
class ProcessTree {
 public:
  ProcessTree() {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sh", "sh", "-c", "sleep 60 & sleep 60 & wait", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
  }
  ~ProcessTree() {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("a process tree: main process plus live descendants, with RSS") {
  ProcessTree tree;
  ProcStats stats;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint32_t processes = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto sample = stats.sampleTree(tree.pid());
    REQUIRE(sample.ok());
    processes = sample->processes;
    if (processes == 3) {
      CHECK(sample->rssBytes > 3 * 4096);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, with a deadline
  }
  CHECK(processes == 3);
  const auto resource = stats.resourceSample(tree.pid());
  CHECK(resource.unitActive);
  CHECK(resource.mainPid == static_cast<std::uint32_t>(tree.pid()));
}

TEST_CASE("CPU time is counted in milliseconds") {
  ProcStats stats;
  const auto before = stats.sampleTree(::getpid());
  REQUIRE(before.ok());
  // Burn at least 300 ms of CPU in this process.
  const auto cpuNowMillis = [] {
    timespec cpu{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    return static_cast<std::uint64_t>(cpu.tv_sec) * 1000 +
           static_cast<std::uint64_t>(cpu.tv_nsec) / 1000000;
  };
  const std::uint64_t first = cpuNowMillis();
  volatile std::uint64_t sink = 0;
  while (cpuNowMillis() - first < 300) {
    for (int i = 0; i < 1000000; ++i) sink = sink + static_cast<std::uint64_t>(i);
  }
  const auto after = stats.sampleTree(::getpid());
  REQUIRE(after.ok());
  CHECK(after->cpuMillis >= before->cpuMillis + 250);  // clock ticks are 10 ms
}

TEST_CASE("a missing PID is an error naming it") {
  ProcStats stats;
  auto sample = stats.sampleTree(999999999);
  REQUIRE_FALSE(sample.ok());
  CHECK(sample.error().message.find("999999999") != std::string::npos);
  CHECK_FALSE(stats.resourceSample(999999999).unitActive);
}
