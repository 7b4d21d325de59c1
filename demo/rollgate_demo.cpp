// rollgate-demo: rollgate's main job on one machine. Starts a coordinator and 8 agents
// (2 regions x 2 clusters x 2 hosts), each host serving its release through a real nginx run as a
// unit of a private systemd manager, with steady traffic. Runs one good rollout (promoted through
// canary, cluster, region and fleet) and one bad one (3% of requests fail: rolled back at the
// canary by a gate), showing live progress as `rollgate rollout watch` does, prints a summary and
// stops everything it started. Exit status 0 only if both rollouts ended as they should.
#include <cstdio>
#include <map>

#include "tests/support/fleet/web_fleet.h"

using namespace rollgate::testing;

namespace {

const char* kPlan = R"(# Stage durations in seconds, for a demo; production defaults are minutes.
window_seconds = 1
silence_seconds = 6
[canary]
warmup_seconds = 2
analysis_seconds = 10
[cluster]
warmup_seconds = 1
analysis_seconds = 5
[region]
warmup_seconds = 1
analysis_seconds = 5
batch = "100%"
[fleet]
warmup_seconds = 1
analysis_seconds = 5
batch = "100%"
)";

void banner(const std::string& text) { std::printf("\n\033[1m==> %s\033[0m\n", text.c_str()); std::fflush(stdout); }

std::string statusOf(LocalFleet& fleet, const std::string& id) {
  auto out = fleet.cli({"rollout", "status", id, "--json"});
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  if (json.is_discarded()) return "";
  if (json.contains("rollout")) return json["rollout"].value("status", "");
  return json.value("status", "");
}

}  // namespace

int main() {
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
  banner("stopping every process the demo started");
  started->reset();
  std::printf("demo: %s\n", goodOk && badOk ? "both rollouts ended as they should" : "FAILED");
  return goodOk && badOk ? 0 : 1;
}
