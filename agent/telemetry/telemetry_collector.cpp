#include "agent/telemetry/telemetry_collector.h"

#include <sstream>

#include "agent/telemetry/atomic_file.h"

namespace rollgate::agent {
namespace {

struct SavedPositions {
  std::uint64_t sequence = 0;  // the backlog window they follow; 0: unknown (older agent)
  ServiceTelemetryState state;
};

// Positions as text: "sequence <n>", "access <state>" and "error <state>" lines
// (encodeFollowerState). The same text is the annex of the window in the backlog.
std::string encodePositions(std::uint64_t sequence, const ServiceTelemetryState& state) {
  std::string text = "sequence " + std::to_string(sequence) + "\n";
  if (state.accessLog) text += "access " + encodeFollowerState(*state.accessLog) + "\n";
  if (state.errorLog) text += "error " + encodeFollowerState(*state.errorLog) + "\n";
  return text;
}

SavedPositions decodePositions(const std::string& text) {
  SavedPositions saved;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string key = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    if (key == "sequence") {
      try {
        saved.sequence = std::stoull(value);
      } catch (const std::exception&) {
      }
      continue;
    }
    auto decoded = decodeFollowerState(value);
    if (!decoded) continue;
    if (key == "access") saved.state.accessLog = *decoded;
    if (key == "error") saved.state.errorLog = *decoded;
  }
  return saved;
}

}  // namespace

Result<std::unique_ptr<TelemetryCollector>> TelemetryCollector::create(
    TelemetryCollectorConfig config, const std::vector<std::string>& activeReleases,
    systemd::ServiceManager* resources, Logger logger, std::uint64_t nowMillis) {
  std::unique_ptr<TelemetryCollector> collector(new TelemetryCollector(resources, logger));
  auto backlog =
      TelemetryBacklog::open(config.stateDir + "/telemetry-backlog", config.backlog, nowMillis);
  if (!backlog) return backlog.error();
  collector->backlog_ = std::move(*backlog);
  if (!collector->backlog_->empty()) {
    logger->info("telemetry backlog: {} windows from before the restart wait for the coordinator",
                 collector->backlog_->size());
  }
  for (std::size_t i = 0; i < config.services.size(); ++i) {
    CollectedService& service = config.services[i];
    const std::string& name = service.telemetry.service;
    std::string stateFile = config.stateDir + "/telemetry-" + name + ".state";
    auto text = readWholeFile(stateFile);
    SavedPositions saved = text ? decodePositions(*text) : SavedPositions{};
    if (auto kept = collector->backlog_->newestAnnex(name); kept && kept->first > saved.sequence) {
      saved = decodePositions(kept->second);  // the positions file was not replaced in time
    }
    auto telemetry = ServiceTelemetry::create(
        service.telemetry, i < activeReleases.size() ? activeReleases[i] : "", nowMillis,
        saved.state);
    if (!telemetry) return telemetry.error();
    collector->services_.push_back(Service{std::move(service), std::move(*telemetry), stateFile});
  }
  return collector;
}

std::vector<int> TelemetryCollector::fds() const {
  std::vector<int> out;
  for (const auto& service : services_) {
    for (int fd : service.telemetry->fds()) out.push_back(fd);
  }
  return out;
}

void TelemetryCollector::onReadable(int fd) {
  for (auto& service : services_) {
    for (int own : service.telemetry->fds()) {
      if (own == fd) service.telemetry->onReadable(fd);
    }
  }
}

std::optional<ResourceSample> TelemetryCollector::sample(const CollectedService& service) {
  if (resources_ == nullptr) return std::nullopt;
  auto status = resources_->unitStatus(service.unit);
  if (!status) {
    logger_->debug("service {}: unit {}: {}", service.telemetry.service, service.unit,
                   status.error().message);
    return std::nullopt;
  }
  ResourceSample sample;
  sample.unitActive = status->activeState == "active";
  sample.mainPid = status->mainPid;
  sample.restarts = status->nRestarts;
  // CPU in nanoseconds, never clock ticks (selectUnitCpu); memory from the unit's cgroup, RSS of
  // the main process tree as the last resort.
  UnitResources unit;
  UnitCpuReadings cpu;
  cpu.systemdNanos = status->cpuUsageNSec;
  if (!cpu.systemdNanos) cpu.cgroupNanos = unit.cgroupCpuNanos(status->controlGroup);
  std::optional<std::uint64_t> memory = status->memoryCurrentBytes;
  if (!memory) memory = unit.cgroupMemoryBytes(status->controlGroup);
  std::optional<ProcTreeSample> tree;
  if ((!memory || (!cpu.systemdNanos && !cpu.cgroupNanos)) && status->mainPid != 0) {
    if (auto sampled = proc_.sampleTree(static_cast<pid_t>(status->mainPid))) tree = *sampled;
  }
  if (!cpu.systemdNanos && !cpu.cgroupNanos) {
    std::vector<pid_t> pids = unit.cgroupPids(status->controlGroup);
    if (pids.empty() && tree) pids = tree->pids;
    cpu.schedstatNanos = unit.schedstatNanos(pids);
  }
  UnitCpu selected = selectUnitCpu(cpu);
  sample.cpuNanos = selected.nanos;
  sample.cpuMillis = selected.nanos / 1'000'000;
  if (memory) {
    sample.memoryBytes = *memory;
  } else if (tree) {
    sample.memoryBytes = tree->rssBytes;
  }
  return sample;
}

void TelemetryCollector::tick(const std::vector<std::string>& activeReleases,
                              std::uint64_t nowMillis) {
  for (std::size_t i = 0; i < services_.size(); ++i) {
    Service& service = services_[i];
    const std::string& release =
        i < activeReleases.size() ? activeReleases[i] : service.telemetry->release();
    std::optional<TelemetryWindow> window;
    if (release != service.telemetry->release()) {
      window = service.telemetry->switchRelease(release, nowMillis, sample(service.config));
      logger_->info("service {}: active release is now {}; telemetry window cut at the switch",
                    service.config.telemetry.service, release.empty() ? "none" : release);
    } else {
      // Every turn: the follower's backstop poll; the unit is sampled only when a cut is due.
      bool due = nowMillis >= service.telemetry->nextCutMillis();
      window = service.telemetry->onTimer(nowMillis, due ? sample(service.config) : std::nullopt);
    }
    if (!window) continue;
    if (sentry_) {
      if (auto counts = sentry_(service.config.telemetry.service)) window->sentry = std::move(*counts);
    }
    keep(service, std::move(*window));
  }
}

void TelemetryCollector::keep(const Service& service, TelemetryWindow window) {
  const std::string& name = service.config.telemetry.service;
  const ServiceTelemetryState state = service.telemetry->state();
  // The annex carries sequence 0: the backlog's own number for the window is what counts.
  auto pushed = backlog_->push(std::move(window), encodePositions(0, state));
  if (pushed.error) {
    logger_->error("service {}: telemetry window #{} dropped, it could not be kept: {}", name,
                   pushed.sequence, pushed.error->message);
  } else if (pushed.droppedNow > 0) {
    logger_->warn("telemetry backlog full ({} windows, {} bytes): dropped the oldest window; {} "
                  "dropped while the coordinator was away",
                  backlog_->size(), backlog_->sizeBytes(), backlog_->droppedTotal());
  }
  std::string text = encodePositions(pushed.sequence, state);
  if (auto status = writeFileAtomically(service.stateFile, text); !status) {
    logger_->warn("service {}: cannot save log positions: {}", name, status.error().message);
  }
}

void TelemetryCollector::acknowledge(std::uint64_t throughSequence) {
  if (auto status = backlog_->acknowledge(throughSequence); !status) {
    logger_->warn("telemetry backlog: acknowledgement of windows through #{} not saved ({}); after "
                  "a restart they count as dropped",
                  throughSequence, status.error().message);
  }
}

}  // namespace rollgate::agent
