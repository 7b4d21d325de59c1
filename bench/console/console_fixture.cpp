// bench_console_fixture: the console's real server, page and assets over a published snapshot of
// a given size, for timing how fast Chromium renders the pages (render_bench.py): `hosts` hosts
// over 4 regions x 5 clusters, and one finished rollout of `stages` stages with `checks` checks
// of `looks` looks each, with its events. Prints the URL and a sign-in token, then serves until
// stdin closes. The snapshot is built here instead of by a running fleet so the page's size is
// exactly the one asked for; the server, sessions and pages are the coordinator's.
// Usage: bench_console_fixture [hosts=10000] [checks=8] [looks=30] [stages=4]
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/clock.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "coordinator/console/console_server.h"
#include "coordinator/console/sessions.h"

using namespace rollgate;
using namespace rollgate::console;

namespace {

class Backend final : public ConsoleBackend {
 public:
  explicit Backend(std::string digest) : digest_(std::move(digest)) {}
  Result<std::optional<TokenGrant>> findToken(const std::string& sha256Hex) override {
    if (sha256Hex != digest_) return std::optional<TokenGrant>();
    return std::optional<TokenGrant>(TokenGrant{"bench", "viewer", UINT64_MAX / 2});
  }
  void act(const std::string&, const AdminRequest&,
           std::function<void(const AdminReply&)> done) override {
    AdminReply reply;
    reply.body = AdminError{"the fixture does not act"};
    done(reply);
  }

 private:
  std::string digest_;
};

std::shared_ptr<const ConsoleSnapshot> snapshot(int hosts, int checks, int looks, int stages,
                                                std::uint64_t now) {
  auto snap = std::make_shared<ConsoleSnapshot>();
  snap->version = 1;
  const char* stageNames[] = {"canary", "cluster", "region", "fleet"};
  for (int i = 0; i < hosts; ++i) {
    HostInfo h;
    h.region = "region-" + std::to_string(i % 4);
    h.cluster = h.region + "-c" + std::to_string(i % 5);
    h.name = "host-" + std::to_string(i);
    h.agentVersion = "0.9.0";
    ServiceRelease web;
    web.service = "web";
    web.activeRelease = i % 3 ? "1.4.0" : "1.5.0";
    h.services = {web};
    h.lastContactMillis = now - static_cast<std::uint64_t>(i % 5000);
    h.healthy = i % 97 != 0;
    h.connected = true;
    snap->hosts.push_back(h);
  }
  std::sort(snap->hosts.begin(), snap->hosts.end(), [](const HostInfo& a, const HostInfo& b) {
    return std::tie(a.region, a.cluster, a.name) < std::tie(b.region, b.cluster, b.name);
  });
  RolloutView view;
  auto& r = view.rollout;
  r.id = "r1";
  r.service = "web";
  r.version = "1.5.0";
  r.status = "rolled_back";
  r.step = static_cast<std::uint32_t>(stages);
  r.steps = static_cast<std::uint32_t>(stages);
  r.stage = stageNames[(stages - 1) % 4];
  r.phase = "failed";
  r.look = static_cast<std::uint32_t>(looks);
  r.looks = static_cast<std::uint32_t>(looks);
  r.startedMillis = now - 3'600'000;
  r.finishedMillis = now;
  r.endReason = "step " + std::to_string(stages) + " failed http_5xx";
  for (int s = 1; s <= stages; ++s) {
    PlanStepView step;
    step.step = static_cast<std::uint32_t>(s);
    step.stage = stageNames[(s - 1) % 4];
    for (int t = 0; t < 5; ++t) step.targets.push_back("host-" + std::to_string(s * 10 + t));
    step.comparison = {"host-1", "host-2"};
    step.comparisonKind = "baseline";
    view.plan.push_back(step);
    for (int look = 1; look <= looks; ++look) {
      for (int c = 0; c < checks; ++c) {
        CheckRecordView rec;
        rec.atMillis = r.startedMillis + static_cast<std::uint64_t>(s * 1000 + look);
        rec.step = step.step;
        rec.stage = step.stage;
        rec.canaryHosts = step.targets;
        rec.comparisonHosts = step.comparison;
        auto& res = rec.result;
        res.name = "check_" + std::to_string(c);
        res.look = static_cast<std::uint32_t>(look);
        res.looks = static_cast<std::uint32_t>(looks);
        double drift = (c == 0 && s == stages) ? 0.0004 * look : 0.0;
        res.canaryValue = 0.01 + 0.001 * std::sin(look + c) + drift;
        res.baselineValue = 0.01 + 0.001 * std::cos(look + c);
        res.pValue = std::max(1e-9, 0.5 * std::exp(-(drift * 400)) + 0.1 * ((look + c) % 3));
        res.alphaAtLook = 0.01 * std::pow(static_cast<double>(look) / looks, 3);
        res.effectName = "rate difference";
        res.effect = {res.canaryValue - res.baselineValue, res.canaryValue - res.baselineValue - 0.002,
                      res.canaryValue - res.baselineValue + 0.002, 0.95};
        res.verdict = res.pValue < res.alphaAtLook ? stats::Verdict::kFail : stats::Verdict::kPass;
        res.explanation = "canary " + std::to_string(res.canaryValue) + " vs " +
                          std::to_string(res.baselineValue);
        view.checks.push_back(rec);
      }
      EventView e;
      e.atMillis = r.startedMillis + static_cast<std::uint64_t>(s * 1000 + look);
      e.kind = "host_installed";
      e.step = step.step;
      e.text = "look " + std::to_string(look) + " of step " + std::to_string(s);
      view.events.push_back(e);
    }
  }
  for (int c = 0; c < checks; ++c) {
    stats::CheckSpec spec;
    spec.name = "check_" + std::to_string(c);
    spec.minEffect = 0.001;
    snap->checkSpecs["r1"].push_back(spec);
  }
  snap->rollouts.push_back(view.rollout);
  snap->details["r1"] = std::make_shared<const RolloutView>(std::move(view));
  snap->rolloutVersions["r1"] = 1;
  snap->fleetVersion = 1;
  snap->rolloutsVersion = 1;
  return snap;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = argc > 1 ? std::atoi(argv[1]) : 10000;
  int checks = argc > 2 ? std::atoi(argv[2]) : 8;
  int looks = argc > 3 ? std::atoi(argv[3]) : 30;
  int stages = argc > 4 ? std::atoi(argv[4]) : 4;
  SystemClock clock;
  Logger logger = makeLogger("console-fixture", "warn");
  std::string token = newToken();
  Backend backend(sha256Hex(token));
  ConsoleBoard board;
  LoopQueue queue;
  board.publish(snapshot(hosts, checks, looks, stages, clock.nowMillis()));
  ConsoleConfig config;
  config.enabled = true;
  config.listen = "127.0.0.1:" + std::string(std::getenv("CONSOLE_PORT") ? std::getenv("CONSOLE_PORT") : "0");
  config.plainHttp = true;
  auto server = ConsoleServer::start(config, "", "", board, queue, backend, clock, logger);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return 1;
  }
  std::printf("%s\n%s\n", (*server)->url().c_str(), token.c_str());
  std::fflush(stdout);
  // The loop's part: run what the server hands over until stdin closes.
  while (true) {
    pollfd fds[2] = {{queue.fd(), POLLIN, 0}, {0, POLLIN, 0}};
    ::poll(fds, 2, 1000);
    if (fds[0].revents & POLLIN) queue.drain();
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      char buf[64];
      if (::read(0, buf, sizeof buf) <= 0) break;
    }
  }
  (*server)->stop();
  return 0;
}
