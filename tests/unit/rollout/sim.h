// Test support for unit_rollout: fleets of HostInfo, and a simulated fleet that carries out a
// Rollout's commands (as agents would, one second later) and reports synthetic telemetry windows
// every window, under a fake clock. Deterministic: every random number comes from a seeded
// mt19937_64 keyed by host and window.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/messages.h"
#include "coordinator/rollout/rollout.h"

namespace rollgate::rollout::testing {

inline HostInfo makeHost(const std::string& name, const std::string& region,
                         const std::string& cluster, const std::string& release = "1.0",
                         bool healthy = true, const std::string& service = "web") {
  HostInfo host;
  host.name = name;
  host.region = region;
  host.cluster = cluster;
  host.healthy = healthy;
  host.connected = healthy;
  if (!service.empty()) host.services.push_back(ServiceRelease{service, release, {release}});
  return host;
}

// 2 regions x 2 clusters x 2 hosts: eu/eu-a: eu-a1 eu-a2, eu/eu-b: eu-b1 eu-b2, us/us-a...,
// us/us-b...
inline std::vector<HostInfo> fleet8() {
  std::vector<HostInfo> hosts;
  for (std::string region : {"eu", "us"}) {
    for (std::string c : {"a", "b"}) {
      for (std::string i : {"1", "2"}) {
        hosts.push_back(makeHost(region + "-" + c + i, region, region + "-" + c));
      }
    }
  }
  return hosts;
}

// What a host's service does on a release.
struct Behaviour {
  std::uint64_t requestsPerWindow = 1000;
  double ratio5xx = 0.0;
  double latencyMicros = 50'000;  // median-ish; samples spread +-40%
  std::uint32_t latencySamples = 100;
  // A slow tail: this share of the samples is `slowFactor` times slower (the median barely moves).
  double slowShare = 0.0;
  double slowFactor = 1.0;
  double errorLogPerRequest = 0.0;
  double cpuMillisPerSecond = 100;
  double memoryBytes = 100e6;
  std::uint32_t restartsPerWindow = 0;
  // The application's Sentry SDK (window.sentry), when `sentry`: error events per request (a
  // steady background of the type "KeyError" at "app.orders.load"), sessions per window and the
  // share of them that crash, and `newErrorType` raised `newErrorsPerWindow` times a window.
  bool sentry = false;
  double exceptionsPerRequest = 0.0;
  std::uint64_t sessionsPerWindow = 0;
  double crashedShare = 0.0;
  std::string newErrorType;
  std::uint64_t newErrorsPerWindow = 0;
};

inline PlanConfig fastPlan() {
  PlanConfig plan;
  plan.windowSeconds = 10;
  plan.silenceSeconds = 35;
  plan.reportGraceSeconds = 2;
  for (StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
    stage->installTimeoutSeconds = 60;
    stage->warmupSeconds = 10;
    stage->analysisSeconds = 60;
  }
  return plan;
}

class Sim {
 public:
  static constexpr std::uint64_t kStart = 1'700'000'000'000;

  Sim(std::vector<HostInfo> hosts, Rollout rollout, std::uint64_t seed = 1)
      : hosts_(std::move(hosts)), rollout_(std::move(rollout)), seed_(seed) {
    for (const auto& host : hosts_) {
      for (const auto& service : host.services) {
        if (service.service == rollout_.state().spec.service) {
          release_[host.name] = service.activeRelease;
          original_[host.name] = service.activeRelease;
        }
      }
    }
  }

  // Each release's behaviour; releases not listed behave as `defaultBehaviour`.
  std::map<std::string, Behaviour> behaviour;
  Behaviour defaultBehaviour;
  std::set<std::string> silent;       // hosts that neither answer nor report
  std::set<std::string> failInstall;  // hosts whose install fails (and stay on their release)

  Rollout& rollout() { return rollout_; }
  void replaceRollout(Rollout rollout) { rollout_ = std::move(rollout); }
  std::uint64_t now() const { return now_; }
  const std::vector<Action>& log() const { return log_; }
  const std::map<std::string, std::string>& releases() const { return release_; }
  const std::map<std::string, std::string>& original() const { return original_; }

  void take(const Actions& actions) {
    for (const auto& action : actions) {
      log_.push_back(action);
      if (const auto* command = std::get_if<SendCommand>(&action)) inbox_.push_back(*command);
    }
  }
  void start() { take(rollout_.start(now_)); }

  // One second of simulated time: agents answer last second's commands, report windows on the
  // window boundary, and the coordinator ticks.
  void stepSecond() {
    now_ += 1000;
    std::vector<SendCommand> commands;
    commands.swap(inbox_);
    for (const auto& command : commands) {
      if (silent.count(command.host)) {
        inbox_.push_back(command);  // held until the host comes back
        continue;
      }
      CommandResult result;
      result.service = command.service;
      result.outcome = Outcome::kSucceeded;
      std::string& release = release_[command.host];
      if (const auto* install = std::get_if<InstallRelease>(&command.body)) {
        if (failInstall.count(command.host)) {
          result.outcome = Outcome::kRolledBack;
          result.message = "health check failed";
        } else {
          release = install->version;
        }
      } else if (const auto* rollback = std::get_if<RollBackRelease>(&command.body)) {
        release = rollback->toVersion;
      }
      result.activeRelease = release;
      take(rollout_.onCommandResult(command.host, command.commandId, result, now_));
    }
    if ((now_ - kStart) % 10'000 == 0) {
      for (const auto& [host, release] : release_) {
        if (silent.count(host)) continue;
        take(rollout_.onTelemetry(host, window(host, release), now_));
      }
    }
    take(rollout_.tick(now_));
  }

  // Time passes with nobody listening (a coordinator that is down).
  void skipSeconds(std::uint64_t seconds) { now_ += seconds * 1000; }

  // Runs until the rollout finishes, `until` says stop, or `maxSeconds` pass.
  void run(std::uint64_t maxSeconds, const std::function<bool()>& until = nullptr) {
    for (std::uint64_t i = 0; i < maxSeconds; ++i) {
      if (isTerminal(rollout_.status())) return;
      if (until && until()) return;
      stepSecond();
    }
  }
  void runUntilStatus(RolloutStatus status, std::uint64_t maxSeconds = 3600) {
    run(maxSeconds, [&] { return rollout_.status() == status; });
  }

  std::vector<RecordCheck> checks(const std::string& name = "") const {
    std::vector<RecordCheck> out;
    for (const auto& action : log_) {
      if (const auto* check = std::get_if<RecordCheck>(&action)) {
        if (name.empty() || check->result.name == name) out.push_back(*check);
      }
    }
    return out;
  }
  std::vector<SendCommand> commands() const {
    std::vector<SendCommand> out;
    for (const auto& action : log_) {
      if (const auto* command = std::get_if<SendCommand>(&action)) out.push_back(*command);
    }
    return out;
  }
  std::vector<RecordEvent> recordedEvents() const {
    std::vector<RecordEvent> out;
    for (const auto& action : log_) {
      if (const auto* e = std::get_if<RecordEvent>(&action)) out.push_back(*e);
    }
    return out;
  }
  std::string events() const {
    std::string out;
    for (const auto& action : log_) {
      if (const auto* e = std::get_if<RecordEvent>(&action)) out += e->text + "\n";
    }
    return out;
  }

 private:
  double uniform(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
  }

  TelemetryWindow window(const std::string& host, const std::string& release) {
    auto found = behaviour.find(release);
    const Behaviour& b = found == behaviour.end() ? defaultBehaviour : found->second;
    std::uint64_t index = (now_ - kStart) / 10'000;
    std::seed_seq seq{seed_, static_cast<std::uint64_t>(std::hash<std::string>{}(host)), index};
    std::mt19937_64 rng(seq);
    TelemetryWindow w;
    w.service = rollout_.state().spec.service;
    w.release = release;
    w.startMillis = now_ - 10'000;
    w.endMillis = now_;
    w.requests = b.requestsPerWindow;
    for (std::uint64_t i = 0; i < w.requests; ++i) {
      if (uniform(rng) < b.ratio5xx) {
        w.status5xx += 1;
      } else {
        w.status2xx += 1;
      }
      if (uniform(rng) < b.errorLogPerRequest) w.errorLogLines += 1;
    }
    std::uint32_t samples = w.requests == 0 ? 0 : b.latencySamples;
    for (std::uint32_t i = 0; i < samples; ++i) {
      double micros = b.latencyMicros * (0.6 + 0.8 * uniform(rng));
      if (b.slowShare > 0 && uniform(rng) < b.slowShare) micros *= b.slowFactor;
      w.latencySampleMicros.push_back(static_cast<std::uint32_t>(micros));
    }
    w.cpuMillis =
        static_cast<std::uint64_t>(10 * b.cpuMillisPerSecond * (0.9 + 0.2 * uniform(rng)));
    w.memoryBytes = static_cast<std::uint64_t>(b.memoryBytes * (0.95 + 0.1 * uniform(rng)));
    w.restarts = b.restartsPerWindow;
    w.unitActive = true;
    if (b.sentry) addSentry(w, b, rng);  // after every other draw: the other streams stay as they were
    return w;
  }

  void addSentry(TelemetryWindow& w, const Behaviour& b, std::mt19937_64& rng) {
    SentryWindow& s = w.sentry;
    s.enabled = true;
    std::uint64_t background = 0;
    for (std::uint64_t i = 0; i < w.requests; ++i) background += uniform(rng) < b.exceptionsPerRequest;
    if (background > 0) {
      s.fingerprints.push_back({"KeyError", "app.orders.load", background, 0, "'missing'"});
    }
    if (!b.newErrorType.empty() && b.newErrorsPerWindow > 0) {
      s.fingerprints.push_back(
          {b.newErrorType, "app.checkout.pay", b.newErrorsPerWindow, 0, "new failure"});
    }
    s.errors = background + (b.newErrorType.empty() ? 0 : b.newErrorsPerWindow);
    s.sessions = b.sessionsPerWindow;
    for (std::uint64_t i = 0; i < s.sessions; ++i) s.sessionsCrashed += uniform(rng) < b.crashedShare;
  }

  std::vector<HostInfo> hosts_;
  Rollout rollout_;
  std::uint64_t seed_;
  std::uint64_t now_ = kStart;
  std::map<std::string, std::string> release_;
  std::map<std::string, std::string> original_;
  std::vector<SendCommand> inbox_;
  std::vector<Action> log_;
};

// A rollout of web 1.0 -> 2.0 over `hosts`, planned with `plan` and `gates`.
inline Rollout makeRollout(const std::vector<HostInfo>& hosts, const PlanConfig& plan = fastPlan(),
                           const GatesConfig& gates = defaultGatesConfig(),
                           const std::string& canary = "") {
  auto planned = planRollout(PlanRequest{"web", "2.0", canary}, hosts, plan);
  REQUIRE_MESSAGE(planned.ok(), (planned.ok() ? "" : planned.error().message));
  RolloutSpec spec{"r1", "web", "2.0",
                   ArtifactRef{"abc123", 1024, "", std::string("\x00\xffsig", 5)}};
  return Rollout(spec, *planned, plan, gates);
}

}  // namespace rollgate::rollout::testing
