#include "agent/telemetry/proc_stats.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using rollgate::agent::ProcStats;

namespace {

// A child `sh` with two `sleep` children: a tree of three processes, killed at scope exit. The
// constructor returns once `sh` has forked both children (it says so on a pipe), so the tree is
// complete without polling.
class ProcessTree {
 public:
  ProcessTree() {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::close(ready[0]);
      ::dup2(ready[1], STDOUT_FILENO);
      ::execl("/bin/sh", "sh", "-c", "sleep 60 >/dev/null & sleep 60 >/dev/null & echo ready; wait",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    ::close(ready[1]);
    char line[16] = {};
    const ssize_t n = ::read(ready[0], line, sizeof line - 1);
    ::close(ready[0]);
    REQUIRE_MESSAGE(n > 0, "the shell never reported its children");
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
  auto sample = stats.sampleTree(tree.pid());
  REQUIRE(sample.ok());
  CHECK(sample->processes == 3);
  CHECK(sample->rssBytes > 3 * 4096);
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
