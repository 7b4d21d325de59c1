// bench_install: pushes one incompressible 50 MB tar.gz to a real coordinator and installs it on
// 20 real agents at once (20 concurrent `rollgate install` processes), on loopback with CURVE.
// Prints the total time, the aggregate rate and per-host p50/max. Ansible is the peer from the
// issue; it is measured in the same run (bench/install/ansible_compare.sh) if ansible-playbook is
// installed, otherwise the figure is printed labelled as such.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fleet/fleet.h"

using rollgate::testing::AgentSpec;
using rollgate::testing::LocalFleet;
using rollgate::testing::Process;
using rollgate::testing::runCommand;
using rollgate::testing::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int run(int hosts, int sizeMegabytes) {
  TempDir work("rollgate-bench-install");
  // Random bytes do not compress: the tar.gz is as large as its content.
  std::string src = work.file("src");
  runCommand({"mkdir", "-p", src});
  auto made = runCommand({"sh", "-c", "head -c " + std::to_string(sizeMegabytes) +
                                          "M /dev/urandom > '" + src + "/blob.bin'"});
  if (made.exitCode != 0) {
    std::fprintf(stderr, "making the blob failed: %s\n", made.err.c_str());
    return 1;
  }
  std::string archive = work.file("web-2.0.0.tar.gz");
  if (runCommand({"tar", "-czf", archive, "-C", src, "."}).exitCode != 0) return 1;
  auto sizeOut = runCommand({"stat", "-c", "%s", archive});
  double archiveMegabytes = std::stod(sizeOut.out) / 1e6;

  LocalFleet fleet("heartbeat_seconds = 1\nhost_timeout_seconds = 30\n");
  fleet.startCoordinator();
  if (!fleet.waitForCoordinator()) {
    std::fprintf(stderr, "coordinator did not answer; log: %s\n", fleet.coordinatorLog().c_str());
    return 1;
  }
  std::vector<std::string> names;
  for (int i = 0; i < hosts; ++i) {
    std::string name = "web-" + std::to_string(i + 1);
    AgentSpec spec(name, "eu-west", "eu-west-a");
    spec.extraToml = "systemd = \"none\"\n\n[[service]]\nname = \"web\"\ninstall_root = \"" +
                     work.file("root-" + name) + "\"\nrestart_command = [\"/bin/true\"]\n";
    fleet.addAgent(spec);
    fleet.startAgent(name);
    names.push_back(name);
  }
  if (!fleet.waitForHealthy(names, std::chrono::seconds(60))) {
    std::fprintf(stderr, "agents did not become healthy\n");
    return 1;
  }
  auto pushStart = Clock::now();
  auto push = fleet.cli({"artifact", "push", archive, "--service", "web", "--version", "2.0.0"});
  double pushSeconds = secondsSince(pushStart);
  if (push.exitCode != 0) {
    std::fprintf(stderr, "push failed: %s%s\n", push.err.c_str(), push.out.c_str());
    return 1;
  }

  std::vector<std::string> argvBase{rollgate::testing::binDir() + "/rollgate"};
  auto env = fleet.cliEnvironment();
  std::vector<Process> installs;
  std::vector<double> hostSeconds(names.size(), -1);
  auto start = Clock::now();
  for (const auto& name : names) {
    auto argv = argvBase;
    for (const char* arg : {"install", "--host"}) argv.emplace_back(arg);
    argv.push_back(name);
    for (const char* arg : {"--service", "web", "--version", "2.0.0"}) argv.emplace_back(arg);
    installs.push_back(Process::spawn(argv, work.file("install-" + name + ".log"), env));
  }
  int failures = 0;
  std::vector<bool> done(names.size(), false);
  std::size_t remaining = names.size();
  while (remaining > 0 && secondsSince(start) < 120) {
    for (std::size_t i = 0; i < installs.size(); ++i) {
      if (done[i] || installs[i].running()) continue;
      done[i] = true;
      --remaining;
      hostSeconds[i] = secondsSince(start);
      int code = installs[i].wait(std::chrono::seconds(1));
      if (code != 0) {
        ++failures;
        std::fprintf(stderr, "install on %s exited %d: %s\n", names[i].c_str(), code,
                     rollgate::testing::readFile(work.file("install-" + names[i] + ".log")).c_str());
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  double total = secondsSince(start);
  for (auto& p : installs) p.stop(std::chrono::seconds(2));
  if (remaining > 0 || failures > 0) {
    std::printf("FAILED: %zu still running, %d failed after %.1f s\n", remaining, failures, total);
    return 1;
  }
  std::sort(hostSeconds.begin(), hostSeconds.end());
  std::printf("artifact: %.1f MB tar.gz of random bytes, push took %.2f s\n", archiveMegabytes,
              pushSeconds);
  std::printf("rollgate: %d hosts installed in %.2f s total, aggregate %.0f MB/s "
              "(per host: p50 %.2f s, max %.2f s)\n",
              hosts, total, hosts * archiveMegabytes / total, hostSeconds[hostSeconds.size() / 2],
              hostSeconds.back());
  std::printf("goal: >= 200 MB/s aggregate -> %s\n",
              hosts * archiveMegabytes / total >= 200 ? "met" : "NOT met");
  if (runCommand({"sh", "-c", "command -v ansible-playbook"}).exitCode != 0) {
    std::printf("ansible: not installed (reference from issue #5, same job on this machine: 69 s, "
                "not measured in this run)\n");
  } else {
    // Same job, same size, same host count, in this run (bench/install/ansible_compare.sh).
    auto ansible = runCommand({ROLLGATE_ANSIBLE_COMPARE, std::to_string(hosts),
                               std::to_string(sizeMegabytes)},
                              {}, std::chrono::seconds(600));
    std::printf("%s", ansible.out.c_str());
    if (ansible.exitCode != 0) std::printf("ansible run failed (%d): %s\n", ansible.exitCode,
                                           ansible.err.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = argc > 1 ? std::atoi(argv[1]) : 20;
  int sizeMegabytes = argc > 2 ? std::atoi(argv[2]) : 50;
  try {
    return run(hosts, sizeMegabytes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_install: %s\n", e.what());
    return 1;
  }
}
