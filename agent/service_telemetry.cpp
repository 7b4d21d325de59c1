#include "agent/service_telemetry.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/keys.h"

namespace rollgate::agent {
namespace {

nlohmann::json stateToJson(const std::optional<FollowerState>& state) {
  if (!state) return nullptr;
  std::string hex;
  static const char* digits = "0123456789abcdef";
  for (unsigned char c : state->fingerprint) {
    hex.push_back(digits[c >> 4]);
    hex.push_back(digits[c & 15]);
  }
  return {{"inode", state->inode}, {"device", state->device}, {"offset", state->offset},
          {"fingerprint", hex}};
}

std::optional<FollowerState> stateFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return std::nullopt;
  FollowerState state;
  state.inode = json.value("inode", std::uint64_t{0});
  state.device = json.value("device", std::uint64_t{0});
  state.offset = json.value("offset", std::uint64_t{0});
  std::string hex = json.value("fingerprint", "");
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    state.fingerprint.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return state;
}

}  // namespace

ServiceTelemetry::ServiceTelemetry(ServiceConfig service, std::string stateFile,
                                   AccessLogParser parser, std::optional<ErrorPattern> errorPattern,
                                   systemd::ServiceManager* resources, Logger logger,
                                   WindowBuilder builder)
    : service_(std::move(service)),
      stateFile_(std::move(stateFile)),
      parser_(std::move(parser)),
      errorPattern_(std::move(errorPattern)),
      resources_(resources),
      logger_(std::move(logger)),
      builder_(std::move(builder)) {}

ServiceTelemetry::~ServiceTelemetry() = default;

Result<std::unique_ptr<ServiceTelemetry>> ServiceTelemetry::create(
    const ServiceConfig& service, const std::string& stateDir, std::uint64_t windowMillis,
    std::string release, systemd::ServiceManager* resources, Logger logger,
    std::uint64_t nowMillis) {
  Result<AccessLogParser> parser = AccessLogParser::combined();
  if (service.accessLogFormat == "json") {
    JsonFields fields;
    fields.status = service.jsonStatusField;
    fields.latency = service.jsonLatencyField;
    fields.method = service.jsonMethodField;
    parser = AccessLogParser::json(fields);
  } else {
    parser = AccessLogParser::fromName(service.accessLogFormat);
  }
  if (!parser) {
    return makeError("service " + service.name + ": access_log_format: " + parser.error().message);
  }
  std::optional<ErrorPattern> errorPattern;
  if (!service.errorLog.empty()) {
    auto compiled = ErrorPattern::compile(service.errorPattern);
    if (!compiled) {
      return makeError("service " + service.name + ": error_pattern: " + compiled.error().message);
    }
    errorPattern = std::move(*compiled);
  }
  WindowOptions options;
  options.windowMillis = windowMillis;
  std::string stateFile = stateDir + "/telemetry-" + service.name + ".json";
  std::unique_ptr<ServiceTelemetry> telemetry(new ServiceTelemetry(
      service, stateFile, std::move(*parser), std::move(errorPattern), resources, logger,
      WindowBuilder(service.name, std::move(release), nowMillis, options)));

  nlohmann::json saved;
  {
    std::ifstream in(stateFile);
    if (in) saved = nlohmann::json::parse(in, nullptr, false);
  }
  if (saved.is_discarded() || !saved.is_object()) saved = nlohmann::json::object();
  ServiceTelemetry* self = telemetry.get();
  if (!service.accessLog.empty()) {
    auto follower = LogFollower::create(
        service.accessLog,
        [self](std::string_view line) {
          AccessRecord record = self->parser_.parseLine(line);
          if (record.parsed) {
            self->builder_.addAccess(record);
          } else {
            self->builder_.addUnparsed();
          }
        },
        stateFromJson(saved.value("access", nlohmann::json())));
    if (!follower) return makeError("service " + service.name + ": " + follower.error().message);
    telemetry->accessFollower_ = std::move(*follower);
  }
  if (!service.errorLog.empty()) {
    auto follower = LogFollower::create(
        service.errorLog,
        [self](std::string_view line) {
          if (self->errorPattern_->matches(line)) self->builder_.addErrorLines();
        },
        stateFromJson(saved.value("error", nlohmann::json())));
    if (!follower) return makeError("service " + service.name + ": " + follower.error().message);
    telemetry->errorFollower_ = std::move(*follower);
  }
  telemetry->sampleResources();
  return telemetry;
}

std::vector<int> ServiceTelemetry::fds() const {
  std::vector<int> out;
  if (accessFollower_) out.push_back(accessFollower_->fd());
  if (errorFollower_) out.push_back(errorFollower_->fd());
  return out;
}

void ServiceTelemetry::onReadable() {
  if (accessFollower_) accessFollower_->onReadable();
  if (errorFollower_) errorFollower_->onReadable();
}

void ServiceTelemetry::sampleResources() {
  if (resources_ == nullptr) return;
  auto status = resources_->unitStatus(service_.unit);
  if (!status) {
    logger_->debug("service {}: unit {} status: {}", service_.name, service_.unit,
                   status.error().message);
    return;
  }
  ResourceSample sample;
  sample.unitActive = status->activeState == "active";
  sample.mainPid = status->mainPid;
  sample.restarts = status->nRestarts;
  if (status->cpuUsageNSec && status->memoryCurrentBytes) {
    sample.cpuMillis = *status->cpuUsageNSec / 1'000'000;
    sample.memoryBytes = *status->memoryCurrentBytes;
  } else if (status->mainPid != 0) {
    // The unit does not account: fall back to the main process tree in /proc.
    ResourceSample fromProc = proc_.resourceSample(static_cast<pid_t>(status->mainPid));
    sample.cpuMillis = fromProc.cpuMillis;
    sample.memoryBytes = fromProc.memoryBytes;
  }
  builder_.addResourceSample(sample);
}

void ServiceTelemetry::tick(const std::string& release, std::uint64_t nowMillis,
                            std::vector<TelemetryWindow>& out) {
  if (nowMillis >= nextPollMillis_) {
    nextPollMillis_ = nowMillis + 1000;
    if (accessFollower_) accessFollower_->poll();
    if (errorFollower_) errorFollower_->poll();
  }
  if (release != builder_.release()) {
    // Read everything the old release wrote before cutting at the switch.
    onReadable();
    sampleResources();
    if (auto window = builder_.switchRelease(release, nowMillis)) out.push_back(std::move(*window));
    logger_->info("service {}: release switched to {}; telemetry window cut at the switch",
                  service_.name, release.empty() ? "none" : release);
    saveState();
    return;
  }
  if (nowMillis >= builder_.nextCutMillis()) {
    onReadable();
    sampleResources();
    if (auto window = builder_.cut(nowMillis)) {
      out.push_back(std::move(*window));
      saveState();
    }
  }
}

TelemetryWindow ServiceTelemetry::close(std::uint64_t nowMillis) {
  onReadable();
  sampleResources();
  TelemetryWindow window = builder_.closeNow(nowMillis);
  saveState();
  return window;
}

void ServiceTelemetry::saveState() {
  nlohmann::json json = {
      {"access", accessFollower_ ? stateToJson(accessFollower_->state()) : nullptr},
      {"error", errorFollower_ ? stateToJson(errorFollower_->state()) : nullptr}};
  std::string tmp = stateFile_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json.dump();
    if (!out) {
      logger_->warn("service {}: cannot save log positions to {}", service_.name, tmp);
      return;
    }
  }
  std::rename(tmp.c_str(), stateFile_.c_str());
}

}  // namespace rollgate::agent
