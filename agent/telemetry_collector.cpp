#include "agent/telemetry_collector.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent/agent.h"

namespace rollgate::agent {
namespace {

// The state file holds two lines, "access <state>" and "error <state>" (encodeFollowerState).
ServiceTelemetryState readState(const std::string& path) {
  ServiceTelemetryState state;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    auto decoded = decodeFollowerState(line.substr(space + 1));
    if (!decoded) continue;
    if (line.compare(0, space, "access") == 0) state.accessLog = *decoded;
    if (line.compare(0, space, "error") == 0) state.errorLog = *decoded;
  }
  return state;
}

}  // namespace

Result<std::unique_ptr<TelemetryCollector>> TelemetryCollector::create(
    const AgentConfig& config, systemd::ServiceManager* resources, Logger logger,
    std::uint64_t nowMillis) {
  std::unique_ptr<TelemetryCollector> collector(new TelemetryCollector(resources, logger));
  for (const auto& service : config.services) {
    ServiceTelemetryConfig telemetryConfig;
    telemetryConfig.service = service.name;
    telemetryConfig.accessLogPath = service.accessLog;
    telemetryConfig.accessLogFormat = service.accessLogFormat;
    telemetryConfig.jsonFields.status = service.jsonStatusField;
    telemetryConfig.jsonFields.latency = service.jsonLatencyField;
    telemetryConfig.jsonFields.method = service.jsonMethodField;
    telemetryConfig.errorLogPath = service.errorLog;
    telemetryConfig.errorPattern = service.errorPattern;
    telemetryConfig.window.windowMillis = static_cast<std::uint64_t>(config.windowSeconds) * 1000;
    std::string stateFile = config.stateDir + "/telemetry-" + service.name + ".state";
    auto telemetry = ServiceTelemetry::create(telemetryConfig, activeReleaseOf(service),
                                              nowMillis, readState(stateFile));
    if (!telemetry) return telemetry.error();
    collector->services_.push_back(Service{service, std::move(*telemetry), stateFile});
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

std::optional<ResourceSample> TelemetryCollector::sample(const ServiceConfig& service) {
  if (resources_ == nullptr) return std::nullopt;
  auto status = resources_->unitStatus(service.unit);
  if (!status) {
    logger_->debug("service {}: unit {}: {}", service.name, service.unit, status.error().message);
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
                              std::uint64_t nowMillis, std::vector<TelemetryWindow>& out) {
  for (std::size_t i = 0; i < services_.size(); ++i) {
    Service& service = services_[i];
    const std::string& release = i < activeReleases.size() ? activeReleases[i] : service.telemetry->release();
    std::optional<TelemetryWindow> window;
    if (release != service.telemetry->release()) {
      window = service.telemetry->switchRelease(release, nowMillis, sample(service.config));
      logger_->info("service {}: active release is now {}; telemetry window cut at the switch",
                    service.config.name, release.empty() ? "none" : release);
    } else {
      // Every turn: the follower's backstop poll; the unit is sampled only when a cut is due.
      bool due = nowMillis >= service.telemetry->nextCutMillis();
      window = service.telemetry->onTimer(nowMillis, due ? sample(service.config) : std::nullopt);
    }
    if (window) {
      out.push_back(std::move(*window));
      save(service);
    }
  }
}

void TelemetryCollector::save(const Service& service) {
  ServiceTelemetryState state = service.telemetry->state();
  std::string text;
  if (state.accessLog) text += "access " + encodeFollowerState(*state.accessLog) + "\n";
  if (state.errorLog) text += "error " + encodeFollowerState(*state.errorLog) + "\n";
  std::string tmp = service.stateFile + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      logger_->warn("service {}: cannot save log positions to {}", service.config.name, tmp);
      return;
    }
  }
  std::rename(tmp.c_str(), service.stateFile.c_str());
}

}  // namespace rollgate::agent
