// bench_console_watch: the coordinator's CPU while `tabs` Chromium tabs (headless browsers of 4 tabs,
// each tab signed in, watch_tabs.py) watch a live rollout's page, beside the same coordinator's
// CPU with no page open, same rollout, same run. A real coordinator and a 6-host web fleet (real
// agents, nginx units of a private systemd manager, steady load), a rollout whose canary analyses
// for long enough; the coordinator's utime + stime from /proc over `seconds` each.
// Usage: bench_console_watch [tabs=20] [seconds=30]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"

using namespace rollgate::testing;

namespace {

double cpuPercent(pid_t pid, int seconds) {
  long before = cpuTicks(pid);
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  long after = cpuTicks(pid);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 100.0 * static_cast<double>(after - before) / static_cast<double>(sysconf(_SC_CLK_TCK)) / wall;
}

}  // namespace

int main(int argc, char** argv) {
  int tabs = argc > 1 ? std::atoi(argv[1]) : 20;
  int seconds = argc > 2 ? std::atoi(argv[2]) : 30;
  if (auto missing = WebFleet::missingPrerequisite(); !missing.empty()) {
    std::fprintf(stderr, "cannot run: %s\n", missing.c_str());
    return 2;
  }
  const int port = freePort();
  WebFleet::Options options;
  options.coordinatorExtraToml = "[console]\nenabled = true\nlisten = \"127.0.0.1:" +
                                 std::to_string(port) + "\"\nthreads = " +
                                 std::to_string(tabs + 16) + "\n";
  auto started = WebFleet::start({{"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"},
                                  {"eu-b-1", "eu", "eu-b"}, {"us-a-1", "us", "us-a"},
                                  {"us-a-2", "us", "us-a"}, {"us-b-1", "us", "us-b"}},
                                 options);
  if (!started) {
    std::fprintf(stderr, "%s\n", started.error().message.c_str());
    return 1;
  }
  WebFleet& web = **started;
  if (auto base = web.installEverywhere("1.0.0", ReleaseKind::kHealthy); !base) {
    std::fprintf(stderr, "%s\n", base.error().message.c_str());
    return 1;
  }
  TestPlan plan;
  plan.canaryAnalysisSeconds = 3 * seconds + 600;  // still analysing when the tabs are measured
  const std::string planFile = web.work().file("plan.toml");
  writeFile(planFile, testPlanToml(plan));
  web.startLoad();
  auto token = web.fleet().cli({"console", "token", "--operator", "bench", "--role", "viewer"});
  std::string tokenText = token.out.substr(0, token.out.find('\n'));
  auto out = web.fleet().cli({"rollout", "start", "--service", "web", "--version", "1.1.0",
                              "--artifact", web.makeRelease("1.1.0", ReleaseKind::kHealthy),
                              "--plan", planFile, "--canary-host", "eu-a-1", "--json"});
  std::string id = startedRolloutId(out.out);
  if (id.empty()) {
    std::fprintf(stderr, "rollout did not start: %s%s\n", out.out.c_str(), out.err.c_str());
    return 1;
  }
  // The coordinator's pid: the process whose command line names this fleet's config.
  auto pgrep = runCommand({"pgrep", "-f", web.fleet().coordinatorConfig()});
  pid_t pid = static_cast<pid_t>(std::atoi(pgrep.out.c_str()));
  waitUntil([&] { return rolloutStatus(web.fleet(), id) == "analyzing"; }, std::chrono::seconds(120));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double idle = cpuPercent(pid, seconds);

  TempDir profile("rollgate-bench-chromium");
  int toChild[2];
  int fromChild[2];
  if (::pipe(toChild) != 0 || ::pipe(fromChild) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::dup2(toChild[0], 0);
    ::dup2(fromChild[1], 1);
    ::close(toChild[1]);
    ::close(fromChild[0]);
    std::string script = std::string(ROLLGATE_BENCH_CONSOLE_DIR) + "/watch_tabs.py";
    std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
    std::string fragment = "#/rollout/" + id;
    std::string count = std::to_string(tabs);
    ::execl("/usr/bin/python3", "python3", script.c_str(), url.c_str(), tokenText.c_str(),
            fragment.c_str(), count.c_str(), profile.path().c_str(), nullptr);
    ::_exit(127);
  }
  ::close(toChild[0]);
  ::close(fromChild[1]);
  char buf[64] = {};
  ssize_t n = ::read(fromChild[0], buf, sizeof buf - 1);
  if (n <= 0 || std::string(buf).find("ready") == std::string::npos) {
    std::fprintf(stderr, "the browser did not open its tabs\n");
    return 1;
  }
  double watched = cpuPercent(pid, seconds);
  std::string status = rolloutStatus(web.fleet(), id);
  ::close(toChild[1]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  std::printf("coordinator CPU over %d s, rollout %s %s, 6 hosts at 100 req/s each:\n", seconds,
              id.c_str(), status.c_str());
  std::printf("  no page open:            %.2f %% of one core\n", idle);
  std::printf("  %d tabs watching live:   %.2f %% of one core\n", tabs, watched);
  return 0;
}
