// bench_revert: how fast a fleet goes back to its previous build, beside how long it took to get
// the new one there.
//   bench_revert [hosts=20] [rps=100]
// A real fleet of `hosts` agents over 2 regions x 2 clusters, each with an nginx unit of a private
// systemd manager under `rps` requests per second, on 1.0.0. In one run: a rollout of 2.0.0
// through canary, cluster, region and fleet with stage timings of seconds (warm-up 1 s, analysis
// 3 s in 1 s windows: about the shortest plan that still sees enough data), promoted; then
// `rollgate revert
// --wait` back to 1.0.0 (every host at once), then a rollout of 2.0.1 and `revert --batch 25%`.
// Times are wall-clock from the CLI's start to the end it reports (the rollout: until its status
// is succeeded, polled every 100 ms; the revert: until `--wait` returns).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"

using namespace rollgate::testing;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kPlan = testPlanToml({.installTimeoutSeconds = 120,
                                              .canaryWarmupSeconds = 1,
                                              .canaryAnalysisSeconds = 3,
                                              .laterAnalysisSeconds = 3});

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Rolls `version` out; returns the seconds to succeeded, or a negative number.
double rollout(WebFleet& web, const std::string& plan, const std::string& version) {
  LocalFleet& fleet = web.fleet();
  std::string archive = web.makeRelease(version, ReleaseKind::kHealthy);
  auto start = Clock::now();
  auto out = fleet.cli({"rollout", "start", "--service", "web", "--version", version, "--artifact",
                        archive, "--plan", plan, "--json"});
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  if (out.exitCode != 0 || json.is_discarded()) {
    std::fprintf(stderr, "rollout start %s failed: %s\n", version.c_str(), out.err.c_str());
    return -1;
  }
  std::string id = json["rollout"].value("id", "");
  std::string status;
  waitUntil(
      [&] {
        auto doc = nlohmann::json::parse(fleet.cli({"rollout", "status", id, "--json"}).out,
                                         nullptr, false);
        status = doc.is_discarded() ? "" : doc["rollout"].value("status", "");
        return status == "succeeded" || status == "rolled_back" || status == "aborted" ||
               status == "failed" || status == "waiting_for_operator";
      },
      std::chrono::seconds(600), std::chrono::milliseconds(100));
  double seconds = secondsSince(start);
  if (status != "succeeded") {
    std::fprintf(stderr, "rollout %s of %s ended %s:\n%s\n", id.c_str(), version.c_str(),
                 status.c_str(), fleet.cli({"rollout", "explain", id}).out.c_str());
    return -1;
  }
  return seconds;
}

// Reverts to 1.0.0 with `batch` ("" = all at once); returns the seconds until --wait returned.
double revert(WebFleet& web, const std::string& batch, std::size_t hosts) {
  std::vector<std::string> args{"revert", "--service", "web",        "--to", "1.0.0",
                                "--wait", "--json",    "--interval", "0.1"};
  if (!batch.empty()) {
    args.push_back("--batch");
    args.push_back(batch);
  }
  auto start = Clock::now();
  auto out = web.fleet().cli(args);
  double seconds = secondsSince(start);
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  if (out.exitCode != 0 || json.is_discarded()) {
    std::fprintf(stderr, "revert failed: %s%s\n", out.err.c_str(), out.out.c_str());
    return -1;
  }
  std::size_t on = 0;
  for (const auto& host : web.hosts()) on += web.activeRelease(host.name) == "1.0.0";
  if (on != hosts) {
    std::fprintf(stderr, "revert: only %zu of %zu hosts on 1.0.0\n", on, hosts);
    return -1;
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = argc > 1 ? std::atoi(argv[1]) : 20;
  int rps = argc > 2 ? std::atoi(argv[2]) : 100;
  if (auto missing = WebFleet::missingPrerequisite(); !missing.empty()) {
    std::fprintf(stderr, "bench_revert: cannot run here: %s\n", missing.c_str());
    return 2;
  }
  std::vector<WebHostSpec> specs;
  const char* clusters[][2] = {{"eu", "eu-a"}, {"eu", "eu-b"}, {"us", "us-a"}, {"us", "us-b"}};
  for (int i = 0; i < hosts; ++i) {
    const auto* where = clusters[i % 4];
    specs.push_back({std::string(where[1]) + "-" + std::to_string(i / 4 + 1), where[0], where[1]});
  }
  WebFleet::Options options;
  options.requestsPerSecond = rps;
  auto started = WebFleet::start(specs, options);
  if (!started) {
    std::fprintf(stderr, "bench_revert: %s\n", started.error().message.c_str());
    return 1;
  }
  WebFleet& web = **started;
  if (auto status = web.installEverywhere("1.0.0", ReleaseKind::kHealthy); !status) {
    std::fprintf(stderr, "bench_revert: %s\n", status.error().message.c_str());
    return 1;
  }
  std::string plan = web.work().file("plan.toml");
  writeFile(plan, kPlan);
  web.startLoad();
  double up = rollout(web, plan, "2.0.0");
  double back = up < 0 ? -1 : revert(web, "", specs.size());
  double up2 = back < 0 ? -1 : rollout(web, plan, "2.0.1");
  double backBatched = up2 < 0 ? -1 : revert(web, "25%", specs.size());
  if (backBatched < 0) {
    std::printf("FAILED (rollout %.2f s, revert %.2f s, rollout %.2f s, revert 25%% %.2f s)\n", up,
                back, up2, backBatched);
    return 1;
  }
  std::printf(
      "fleet: %d hosts (nginx units, %d requests/s each), 4 stages, warm-up 1 s + "
      "analysis 3 s per stage\n",
      hosts, rps);
  std::printf("rollout 1.0.0 -> 2.0.0, promoted:            %6.2f s\n", up);
  std::printf("revert 2.0.0 -> 1.0.0, every host at once:   %6.2f s  (%.1fx faster)\n", back,
              up / back);
  std::printf("rollout 1.0.0 -> 2.0.1, promoted:            %6.2f s\n", up2);
  std::printf("revert 2.0.1 -> 1.0.0, --batch 25%%:          %6.2f s  (%.1fx faster)\n",
              backBatched, up2 / backBatched);
  return 0;
}
