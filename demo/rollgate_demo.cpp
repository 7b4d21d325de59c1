// rollgate-demo: rollgate's main job on one machine. Starts a coordinator and 8 agents
// (2 regions x 2 clusters x 2 hosts), each host serving its release through a real nginx run as a
// unit of a private systemd manager, with steady traffic. Runs one good rollout (promoted through
// canary, cluster, region and fleet) and one bad one (3% of requests fail: rolled back at the
// canary by a gate), showing live progress as `rollgate rollout watch` does, prints a summary and
// stops everything it started. Exit status 0 only if both rollouts ended as they should.
// `--keep`: leaves the fleet running (with its traffic) after the summary and prints the
// environment that points the rollgate CLI at it, until Ctrl-C or SIGTERM.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "demo/demo_plan.h"
#include "tests/support/fleet/web_fleet.h"

using namespace rollgate::testing;

namespace {

const char* kPlan = rollgate::demo::kDemoPlanToml;

void banner(const std::string& text) { std::printf("\n\033[1m==> %s\033[0m\n", text.c_str()); std::fflush(stdout); }

std::string statusOf(LocalFleet& fleet, const std::string& id) {
  auto out = fleet.cli({"rollout", "status", id, "--json"});
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  if (json.is_discarded()) return "";
  if (json.contains("rollout")) return json["rollout"].value("status", "");
  return json.value("status", "");
}

volatile std::sig_atomic_t stopRequested = 0;
void onStopSignal(int) { stopRequested = 1; }

// --keep: what a newcomer needs to try every command on the running fleet, then wait.
void keepRunning(WebFleet& web) {
  LocalFleet& fleet = web.fleet();
  web.startLoad();
  banner("the demo fleet keeps running (--keep): point the rollgate CLI at it");
  std::printf("# in another shell:\n");
  std::printf("export PATH=%s:\"$PATH\"\n", binDir().c_str());
  for (const auto& [name, value] : fleet.cliEnvironment()) {
    std::printf("export %s=%s\n", name.c_str(), value.c_str());
  }
  std::printf("\n# then, for example:\n"
              "rollgate hosts\n"
              "rollgate rollout list\n"
              "rollgate rollout explain r2\n"
              "rollgate telemetry --host eu-a-1 --last 5\n"
              "rollgate freeze --reason 'trying it' && rollgate unfreeze\n"
              "rollgate rollout start --service web --version 1.3.0 --artifact %s \\\n"
              "  --plan %s --wait\n"
              "\n# builds: %s/web-*.tar.gz (any of them may be started as a new version); "
              "logs: %s\n",
              web.work().file("web-1.1.0.tar.gz").c_str(),
              web.work().file("demo-plan.toml").c_str(),
              web.work().path().c_str(), fleet.coordinatorLog().c_str());
  std::printf("\nStop it with Ctrl-C here (or: kill %d): every process the demo started is "
              "stopped and its files removed.\n",
              static_cast<int>(::getpid()));
  std::fflush(stdout);
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  while (stopRequested == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  web.stopLoad();
}

}  // namespace

int main(int argc, char** argv) {
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--keep") == 0) {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: rollgate-demo [--keep]\n  --keep  leave the fleet running "
                           "after the demo and print the environment for the rollgate CLI\n");
      return 2;
    }
  }
  if (auto missing = WebFleet::missingPrerequisite(); !missing.empty()) {
    std::fprintf(stderr, "rollgate-demo: cannot run here: %s\n", missing.c_str());
    return 2;
  }
  const std::vector<WebHostSpec> hosts = {
      {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"},
      {"eu-b-2", "eu", "eu-b"}, {"us-a-1", "us", "us-a"}, {"us-a-2", "us", "us-a"},
      {"us-b-1", "us", "us-b"}, {"us-b-2", "us", "us-b"}};
  banner("starting a coordinator and 8 agents (2 regions x 2 clusters x 2 hosts), each with an nginx unit");
  WebFleet::Options options;
  options.requestsPerSecond = 60;
  auto started = WebFleet::start(hosts, options);
  if (!started) {
    std::fprintf(stderr, "rollgate-demo: %s\n", started.error().message.c_str());
    return 1;
  }
  WebFleet& web = **started;
  LocalFleet& fleet = web.fleet();
  fleet.cliAttached({"hosts"});

  banner("installing release 1.0.0 on every host (rollgate artifact push + rollgate install)");
  if (auto status = web.installEverywhere("1.0.0", ReleaseKind::kHealthy); !status) {
    std::fprintf(stderr, "rollgate-demo: %s\n", status.error().message.c_str());
    return 1;
  }
  fleet.cliAttached({"hosts"});
  std::string plan = web.work().file("demo-plan.toml");
  writeFile(plan, kPlan);
  banner("traffic: 60 requests per second to every host");
  web.startLoad();

  std::map<std::string, std::string> results;
  auto rollout = [&](const std::string& version, ReleaseKind kind, const std::string& what) {
    banner("rollout of " + version + ": " + what);
    std::string archive = web.makeRelease(version, kind);
    auto start = fleet.cli({"rollout", "start", "--service", "web", "--version", version,
                            "--artifact", archive, "--plan", plan, "--json"});
    if (start.exitCode != 0) {
      std::fprintf(stderr, "rollgate-demo: rollout start failed: %s%s\n", start.err.c_str(),
                   start.out.c_str());
      return std::string();
    }
    auto json = nlohmann::json::parse(start.out, nullptr, false);
    auto summary = json.contains("rollout") ? json["rollout"] : json;
    std::string id = summary.value("id", "");
    std::printf("rollgate rollout start ... -> rollout %s\n", id.c_str());
    std::fflush(stdout);
    fleet.cliAttached({"rollout", "watch", id});
    results[version] = statusOf(fleet, id);
    return id;
  };
  std::string good = rollout("1.1.0", ReleaseKind::kHealthy, "a good build");
  std::string bad = rollout("1.2.0", ReleaseKind::kErrors3Percent,
                            "a bad build: 3% of requests return 500");
  web.stopLoad();

  banner("why the bad build was rolled back: rollgate explain " + bad);
  if (!bad.empty()) fleet.cliAttached({"rollout", "explain", bad});
  banner("summary");
  fleet.cliAttached({"rollout", "list"});
  fleet.cliAttached({"hosts"});
  std::size_t on110 = 0;
  for (const auto& host : hosts) on110 += web.activeRelease(host.name) == "1.1.0";
  bool goodOk = results["1.1.0"] == "succeeded" && on110 == hosts.size();
  bool badOk = results["1.2.0"] == "rolled_back" && on110 == hosts.size();
  std::printf("\ngood rollout %s: %s (%zu of %zu hosts on 1.1.0)\n", good.c_str(),
              results["1.1.0"].c_str(), on110, hosts.size());
  std::printf("bad rollout %s: %s (every host still on 1.1.0: %s)\n", bad.c_str(),
              results["1.2.0"].c_str(), badOk ? "yes" : "no");
  if (keep) keepRunning(web);
  banner("stopping every process the demo started");
  started->reset();
  std::printf("demo: %s\n", goodOk && badOk ? "both rollouts ended as they should" : "FAILED");
  return goodOk && badOk ? 0 : 1;
}
