// bench_detection: how fast a bad build is stopped, and how often a good one is held back.
//   bench_detection [bad-runs=5] [aa-runs=50] [rps=200]
// A real fleet (3 agents with nginx units of a private systemd manager, `rps` requests per second
// per host, default gates, stage durations of seconds). Detection: seconds from the canary's
// activation to the rollback decision for a build answering 500 to 3% of requests. A/A: the share
// of rollouts of an identical build that do not end promoted (rolled back or paused).
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "tests/support/fleet/web_fleet.h"

using namespace rollgate::testing;

namespace {

const char* kPlan = R"(window_seconds = 1
silence_seconds = 6
[canary]
warmup_seconds = 2
analysis_seconds = 10
[cluster]
warmup_seconds = 1
analysis_seconds = 2
[region]
warmup_seconds = 1
analysis_seconds = 2
batch = "100%"
[fleet]
warmup_seconds = 1
analysis_seconds = 2
batch = "100%"
)";

nlohmann::json describe(LocalFleet& fleet, const std::string& id) {
  auto out = fleet.cli({"rollout", "explain", id, "--json"});
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  return json.is_discarded() ? nlohmann::json::object() : json;
}

std::string statusOf(const nlohmann::json& doc) {
  return doc.contains("rollout") ? doc["rollout"].value("status", "") : "";
}

bool terminal(const std::string& status) {
  return status == "succeeded" || status == "rolled_back" || status == "aborted" ||
         status == "failed" || status == "rolled_back_incomplete" ||
         status == "waiting_for_operator";
}

// Runs one rollout to its end; returns the final describe document.
nlohmann::json runRollout(WebFleet& web, const std::string& plan, const std::string& version,
                          ReleaseKind kind) {
  LocalFleet& fleet = web.fleet();
  std::string archive = web.makeRelease(version, kind);
  auto start = fleet.cli({"rollout", "start", "--service", "web", "--version", version,
                          "--artifact", archive, "--plan", plan, "--canary-host", "eu-a-1", "--json"});
  auto json = nlohmann::json::parse(start.out, nullptr, false);
  if (start.exitCode != 0 || json.is_discarded()) {
    std::fprintf(stderr, "rollout start %s failed: %s\n", version.c_str(), start.err.c_str());
    return nlohmann::json::object();
  }
  std::string id = json.contains("rollout") ? json["rollout"].value("id", "") : json.value("id", "");
  nlohmann::json doc;
  waitUntil([&] {
    doc = describe(fleet, id);
    return terminal(statusOf(doc));
  }, std::chrono::seconds(300), std::chrono::milliseconds(250));
  if (statusOf(doc) == "waiting_for_operator") {
    fleet.cli({"rollout", "rollback", id});  // leave the fleet where it was for the next run
    waitUntil([&] { return terminal(statusOf(describe(fleet, id))) && statusOf(describe(fleet, id)) != "waiting_for_operator"; },
              std::chrono::seconds(120), std::chrono::milliseconds(250));
  }
  return doc;
}

// Milliseconds of the first event whose text contains `needle`, 0 if none.
std::uint64_t eventMillis(const nlohmann::json& doc, const std::string& needle) {
  for (const auto& event : doc.value("events", nlohmann::json::array())) {
    if (event.value("text", "").find(needle) != std::string::npos) {
      return event.value("atMillis", std::uint64_t{0});
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int badRuns = argc > 1 ? std::atoi(argv[1]) : 5;
  int aaRuns = argc > 2 ? std::atoi(argv[2]) : 50;
  int rps = argc > 3 ? std::atoi(argv[3]) : 200;
  if (auto missing = WebFleet::missingPrerequisite(); !missing.empty()) {
    std::fprintf(stderr, "bench_detection: cannot run here: %s\n", missing.c_str());
    return 2;
  }
  WebFleet::Options options;
  options.requestsPerSecond = rps;
  auto started = WebFleet::start({{"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"},
                                  {"eu-b-1", "eu", "eu-b"}},
                                 options);
  if (!started) {
    std::fprintf(stderr, "bench_detection: %s\n", started.error().message.c_str());
    return 1;
  }
  WebFleet& web = **started;
  if (auto status = web.installEverywhere("1.0.0", ReleaseKind::kHealthy); !status) {
    std::fprintf(stderr, "bench_detection: %s\n", status.error().message.c_str());
    return 1;
  }
  std::string plan = web.work().file("plan.toml");
  writeFile(plan, kPlan);
  web.startLoad();

  std::vector<double> detection;
  int caught = 0;
  for (int i = 0; i < badRuns; ++i) {
    auto doc = runRollout(web, plan, "9.0." + std::to_string(i), ReleaseKind::kErrors3Percent);
    std::uint64_t active = eventMillis(doc, "every target is on");
    std::uint64_t decided = eventMillis(doc, "-> rolling_back");
    bool ok = statusOf(doc) == "rolled_back" && active && decided;
    caught += ok;
    if (ok) detection.push_back((decided - active) / 1000.0);
    std::printf("bad build %d: %s, %.1f s from canary activation to the rollback decision\n", i + 1,
                statusOf(doc).c_str(), ok ? (decided - active) / 1000.0 : -1.0);
    std::fflush(stdout);
  }
  int promoted = 0;
  std::vector<std::string> held;
  for (int i = 0; i < aaRuns; ++i) {
    std::string version = "1.0." + std::to_string(i + 1);
    auto doc = runRollout(web, plan, version, ReleaseKind::kHealthy);
    std::string status = statusOf(doc);
    promoted += status == "succeeded";
    std::string why;
    if (status != "succeeded") {
      const auto& rollout = doc["rollout"];
      why = "step " + std::to_string(rollout.value("step", 0)) + " " + rollout.value("stage", "") +
            ": " + rollout.value("endReason", "") + rollout.value("holdReason", "");
      held.push_back(version + ": " + status + " (" + why + ")");
    }
    std::printf("A/A %d/%d: %s%s\n", i + 1, aaRuns, status.c_str(),
                why.empty() ? "" : (" (" + why + ")").c_str());
    std::fflush(stdout);
  }
  web.stopLoad();
  std::sort(detection.begin(), detection.end());
  std::printf("\n--- results (%d requests/s per host, default gates, canary warm-up 2 s, analysis 10 s in 1 s windows)\n", rps);
  if (!detection.empty()) {
    std::printf("detection, 3%% 5xx build: %d/%d rolled back at the canary; seconds from activation to decision: "
                "median %.1f, max %.1f (the decision includes the 2 s warm-up)\n",
                caught, badRuns, detection[detection.size() / 2], detection.back());
  } else {
    std::printf("detection: no bad build was rolled back (%d runs)\n", badRuns);
  }
  std::printf("A/A: %d/%d promoted; false rollbacks or holds: %zu (%.1f%%)\n", promoted, aaRuns,
              held.size(), aaRuns ? 100.0 * held.size() / aaRuns : 0.0);
  for (const auto& line : held) std::printf("  held: %s\n", line.c_str());
  return 0;
}
