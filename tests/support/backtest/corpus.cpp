#include "tests/support/backtest/corpus.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "coordinator/rollout/journal.h"
#include "coordinator/rollout/planner.h"
#include "coordinator/rollout/rollout.h"
#include "tests/support/fleet/fault_catalog.h"

namespace rollgate::testing {
namespace {

using rollout::Actions;
using rollout::InputKind;
using rollout::RolloutInput;

constexpr std::uint64_t kStartMillis = 1'700'000'000'000;
constexpr std::uint64_t kTickMillis = 250;     // the coordinator's loop
constexpr std::uint64_t kReportDelayMillis = 250;  // a window arrives a tick after it ends

HostInfo host(const std::string& name, const std::string& region, const std::string& cluster) {
  HostInfo h;
  h.name = name;
  h.region = region;
  h.cluster = cluster;
  h.healthy = true;
  h.connected = true;
  h.services.push_back(ServiceRelease{"web", "1.0.0", {"1.0.0"}});
  return h;
}

std::vector<HostInfo> corpusFleet() {
  return {host("eu-a1", "eu", "eu-a"), host("eu-a2", "eu", "eu-a"), host("eu-b1", "eu", "eu-b"),
          host("us-a1", "us", "us-a")};
}

FaultSpec scaled(const FaultSpec& f, double s) {
  FaultSpec out = f;
  out.errorShare = f.errorShare * s;
  out.addedLatencyMillis = static_cast<std::uint64_t>(std::llround(f.addedLatencyMillis * s));
  out.slowShare = f.slowShare * s;
  out.crashAfterSeconds = f.crashAfterSeconds == 0
                              ? 0
                              : static_cast<std::uint64_t>(std::llround(f.crashAfterSeconds / s));
  out.errorLogLinesPerRequest = f.errorLogLinesPerRequest * s;
  out.memoryMibPerSecond = f.memoryMibPerSecond * s;
  out.cpuMicrosPerRequest = static_cast<std::uint64_t>(std::llround(f.cpuMicrosPerRequest * s));
  return out;
}

// One host's service as the simulated agent reports it.
struct HostSim {
  std::string release;
  std::uint64_t activeSinceMillis = kStartMillis;
};

class Simulation {
 public:
  Simulation(std::uint64_t seed, FaultSpec fault, std::string id)
      : rng_(seed), fault_(fault), id_(std::move(id)) {}

  CorpusRollout run(const std::string& faultClass, bool bad) {
    CorpusRollout out;
    out.id = id_;
    out.faultClass = faultClass;
    out.bad = bad;
    auto fleet = corpusFleet();
    for (const auto& h : fleet) hosts_[h.name] = HostSim{"1.0.0", kStartMillis - 3'600'000};
    rollout::PlanConfig plan = corpusPlan();
    auto planned =
        rollout::planRollout(rollout::PlanRequest{"web", "2.0.0", "eu-a1"}, fleet, plan);
    rollout::RolloutSpec spec;
    spec.rolloutId = id_;
    spec.service = "web";
    spec.version = "2.0.0";
    rollout::Rollout engine(spec, std::move(*planned), plan, rollout::defaultGatesConfig());
    out.lines.push_back(rollout::startLine(engine.state(), kStartMillis));
    auto feed = [&](const RolloutInput& input) {
      auto actions = rollout::applyInput(engine, input);
      if (!actions) return;
      if (input.kind != InputKind::kStart && rollout::worthKeeping(engine, input, *actions)) {
        out.lines.push_back(rollout::inputLine(id_, input));
      }
      for (const auto& action : *actions) {
        if (const auto* command = std::get_if<rollout::SendCommand>(&action)) {
          pending_.push_back({input.atMillis + 1000, *command});
        } else if (const auto* event = std::get_if<rollout::RecordEvent>(&action)) {
          if (!out.liveDecision.empty()) continue;
          if (event->kind == RolloutEventKind::kStepFailed) out.liveDecision = "roll_back";
          if (event->kind == RolloutEventKind::kHeld) out.liveDecision = "hold";
          if (!out.liveDecision.empty()) {
            out.liveStep = event->step;
            out.liveLook = event->look;
            out.liveCheck = event->check;
          }
        }
      }
    };
    RolloutInput start;
    start.kind = InputKind::kStart;
    start.atMillis = kStartMillis;
    feed(start);
    std::uint64_t now = kStartMillis;
    const std::uint64_t windowMillis = plan.windowSeconds * 1000;
    // Until the rollout ends or rolls back; a step held for an operator goes on analysing (the
    // critical checks still act) until its analysis window is over, and no operator comes.
    auto going = [&] {
      const auto& state = engine.state();
      if (state.finished || state.rollingBack) return false;
      if (out.liveDecision == "hold") {
        return now < state.step.analysisEndMillis + (state.planConfig.reportGraceSeconds + 1) * 1000;
      }
      return now < kStartMillis + 3'600'000;
    };
    while (going()) {
      now += kTickMillis;
      // Agents answer commands a second after they are sent.
      std::vector<std::pair<std::uint64_t, rollout::SendCommand>> later;
      for (auto& [at, command] : pending_) {
        if (at > now) {
          later.push_back({at, command});
          continue;
        }
        CommandResult result;
        result.service = "web";
        result.outcome = Outcome::kSucceeded;
        HostSim& h = hosts_[command.host];
        if (const auto* install = std::get_if<InstallRelease>(&command.body)) {
          h.release = install->version;
          h.activeSinceMillis = now;
        } else if (const auto* back = std::get_if<RollBackRelease>(&command.body)) {
          h.release = back->toVersion;
          h.activeSinceMillis = now;
        } else {
          h.activeSinceMillis = now;  // a baseline restart
        }
        result.activeRelease = h.release;
        RolloutInput input;
        input.kind = InputKind::kCommandResult;
        input.atMillis = now;
        input.host = command.host;
        input.commandId = command.commandId;
        input.result = result;
        feed(input);
      }
      pending_ = std::move(later);
      // Windows end on the window boundary and arrive a little later.
      if (now % windowMillis == kReportDelayMillis) {
        std::uint64_t end = now - kReportDelayMillis;
        for (auto& [name, h] : hosts_) {
          RolloutInput input;
          input.kind = InputKind::kTelemetry;
          input.atMillis = now;
          input.host = name;
          input.window = window(h, end - windowMillis, end);
          feed(input);
        }
      }
      RolloutInput tick;
      tick.atMillis = now;
      feed(tick);
    }
    if (out.liveDecision.empty()) {
      out.liveDecision = engine.state().finished &&
                                 engine.state().outcome == rollout::RolloutStatus::kSucceeded
                             ? "promote"
                             : "undecided";
    }
    out.lines.push_back(rollout::labelLine(id_, bad ? rollout::Label::kBad : rollout::Label::kGood,
                                           "corpus", faultClass));
    return out;
  }

 private:
  double normal(double mean, double sd) { return std::normal_distribution<double>(mean, sd)(rng_); }
  std::uint64_t poisson(double mean) {
    if (mean <= 0) return 0;
    return std::poisson_distribution<std::uint64_t>(mean)(rng_);
  }
  std::uint64_t binomial(std::uint64_t n, double p) {
    if (p <= 0 || n == 0) return 0;
    return std::binomial_distribution<std::uint64_t>(n, std::min(p, 1.0))(rng_);
  }

  TelemetryWindow window(const HostSim& h, std::uint64_t startMillis, std::uint64_t endMillis) {
    const bool faulty = h.release == "2.0.0";
    const FaultSpec f = faulty ? fault_ : FaultSpec{};
    TelemetryWindow w;
    w.service = "web";
    w.release = h.release;
    w.startMillis = startMillis;
    w.endMillis = endMillis;
    double seconds = static_cast<double>(endMillis - startMillis) / 1000.0;
    w.requests = poisson(kCatalogRequestsPerSecond * seconds);
    w.status5xx = binomial(w.requests, 0.0001 + f.errorShare);
    w.status2xx = w.requests - w.status5xx;
    std::lognormal_distribution<double> latency(std::log(20'000.0), 0.35);
    std::uniform_real_distribution<double> unit(0, 1);
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(w.requests, 1024); ++i) {
      double micros = latency(rng_) + f.addedLatencyMillis * 1000.0;
      if (f.slowShare > 0 && unit(rng_) < f.slowShare) micros += f.slowMillis * 1000.0;
      w.latencySampleMicros.push_back(static_cast<std::uint32_t>(micros));
    }
    w.errorLogLines = poisson(static_cast<double>(w.requests) * (0.002 + f.errorLogLinesPerRequest));
    double cpuMicros = (30'000.0 * seconds + static_cast<double>(w.requests) * f.cpuMicrosPerRequest) *
                       std::max(0.5, normal(1.0, 0.08));
    w.cpuMicros = static_cast<std::uint64_t>(cpuMicros);
    w.cpuMillis = w.cpuMicros / 1000;
    double up = static_cast<double>(endMillis - std::min(endMillis, h.activeSinceMillis)) / 1000.0;
    double growth = std::min(f.memoryMibPerSecond * up, static_cast<double>(f.memoryCapMib));
    w.memoryBytes = static_cast<std::uint64_t>(
        std::max(1.0, normal(64.0 * 1024 * 1024, 2.0 * 1024 * 1024) + growth * 1024 * 1024));
    if (f.crashAfterSeconds > 0) {
      auto every = f.crashAfterSeconds * 1000;
      std::uint64_t sinceStart = endMillis - std::min(endMillis, h.activeSinceMillis);
      std::uint64_t before = (sinceStart - std::min(sinceStart, endMillis - startMillis)) / every;
      w.restarts = static_cast<std::uint32_t>(sinceStart / every - before);
    }
    w.unitActive = true;
    return w;
  }

  std::mt19937_64 rng_;
  FaultSpec fault_;
  std::string id_;
  std::map<std::string, HostSim> hosts_;
  std::vector<std::pair<std::uint64_t, rollout::SendCommand>> pending_;
};

}  // namespace

rollout::PlanConfig corpusPlan() {
  rollout::PlanConfig plan = rollout::defaultPlanConfig(1);
  plan.silenceSeconds = 6;
  plan.reportGraceSeconds = 1;
  for (rollout::StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
    stage->installTimeoutSeconds = 60;
    stage->warmupSeconds = 1;
    stage->analysisSeconds = 4;
    stage->batch = rollout::BatchSize{rollout::BatchSize::Kind::kPercent, 100};
  }
  plan.canary.warmupSeconds = 2;
  plan.canary.analysisSeconds = 8;
  return plan;
}

std::vector<CorpusRollout> generateCorpus(const CorpusOptions& options) {
  const auto& catalog = faultCatalog();
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<CorpusRollout> corpus;
  std::size_t badCount = 0;
  for (std::size_t i = 0; i < options.rollouts; ++i) {
    std::string id = "c" + std::to_string(i + 1);
    // Bad builds cycle through the catalog so that every class has its share.
    bool bad = unit(rng) < options.badShare;
    FaultSpec fault;
    std::string name = "none";
    if (bad) {
      const CatalogFault& row = catalog[badCount++ % catalog.size()];
      double scale = options.minScale + (1.0 - options.minScale) * unit(rng);
      fault = scaled(row.fault, scale);
      name = row.name;
    }
    Simulation sim(rng(), fault, id);
    corpus.push_back(sim.run(name, bad));
  }
  return corpus;
}

std::string corpusText(const std::vector<CorpusRollout>& corpus) {
  std::string text;
  for (const auto& rollout : corpus) {
    for (const auto& line : rollout.lines) text += line + "\n";
  }
  return text;
}

}  // namespace rollgate::testing
