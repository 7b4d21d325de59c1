#include "agent/telemetry/service_telemetry.h"

#include <charconv>

#include "common/hex.h"

namespace rollgate::agent {

std::string encodeFollowerState(const FollowerState& state) {
  std::string out = std::to_string(state.inode) + " " + std::to_string(state.device) + " " +
                    std::to_string(state.offset) + " ";
  out += state.fingerprint.empty() ? "-" : toHex(state.fingerprint);
  return out;
}

Result<FollowerState> decodeFollowerState(std::string_view text) {
  const auto fail = [&] {
    return makeError("log position: expected 'inode device offset hex', got '" + std::string(text) +
                     "'");
  };
  FollowerState state;
  const char* p = text.data();
  const char* const end = p + text.size();
  for (std::uint64_t* field : {&state.inode, &state.device, &state.offset}) {
    const auto [next, ec] = std::from_chars(p, end, *field);
    if (ec != std::errc{} || next == end || *next != ' ') return fail();
    p = next + 1;
  }
  const std::string_view hex(p, static_cast<std::size_t>(end - p));
  if (hex == "-") return state;
  auto fingerprint = hex.size() <= 64 ? fromHex(hex) : std::nullopt;
  if (hex.empty() || !fingerprint) return fail();
  state.fingerprint = *std::move(fingerprint);
  return state;
}

ServiceTelemetry::ServiceTelemetry(ServiceTelemetryConfig config, AccessLogParser parser,
                                   std::optional<ErrorPattern> pattern, std::string release,
                                   std::uint64_t nowMillis)
    : config_(std::move(config)),
      parser_(std::move(parser)),
      pattern_(std::move(pattern)),
      builder_(config_.service, std::move(release), nowMillis, config_.window) {}

Result<std::unique_ptr<ServiceTelemetry>> ServiceTelemetry::create(ServiceTelemetryConfig config,
                                                                   std::string release,
                                                                   std::uint64_t nowMillis,
                                                                   ServiceTelemetryState restored) {
  const std::string name = config.service;
  std::optional<AccessLogParser> parser;
  if (config.accessLogFormat == "json") {
    parser = AccessLogParser::json(config.jsonFields);
  } else {
    auto named = AccessLogParser::fromName(config.accessLogFormat);
    if (!named) return makeError("service '" + name + "': " + named.error().message);
    parser = std::move(named).value();
  }
  std::optional<ErrorPattern> pattern;
  if (!config.errorLogPath.empty()) {  // without an error log the pattern is not used
    auto compiled = ErrorPattern::compile(config.errorPattern);
    if (!compiled) return makeError("service '" + name + "': " + compiled.error().message);
    pattern = std::move(compiled).value();
  }
  std::unique_ptr<ServiceTelemetry> telemetry(new ServiceTelemetry(
      std::move(config), std::move(*parser), std::move(pattern), std::move(release), nowMillis));
  ServiceTelemetry* self = telemetry.get();
  if (!self->config_.accessLogPath.empty()) {
    auto follower = LogFollower::create(
        self->config_.accessLogPath,
        [self](std::string_view line) {
          ++self->accessLines_;
          self->builder_.addAccess(self->parser_.parseLine(line));
        },
        restored.accessLog);
    if (!follower) return makeError("service '" + name + "': " + follower.error().message);
    self->access_ = std::move(follower).value();
  }
  if (!self->config_.errorLogPath.empty()) {
    auto follower = LogFollower::create(
        self->config_.errorLogPath,
        [self](std::string_view line) {
          if (self->pattern_->matches(line)) self->builder_.addErrorLines();
        },
        restored.errorLog);
    if (!follower) return makeError("service '" + name + "': " + follower.error().message);
    self->errors_ = std::move(follower).value();
  }
  // Lines saved positions point behind (written while the agent was stopped) are read now, into
  // the first window.
  if (self->access_) self->access_->poll();
  if (self->errors_) self->errors_->poll();
  return telemetry;
}

std::vector<int> ServiceTelemetry::fds() const {
  std::vector<int> out;
  if (access_) out.push_back(access_->fd());
  if (errors_) out.push_back(errors_->fd());
  return out;
}

void ServiceTelemetry::onReadable(int fd) {
  if (access_ && fd == access_->fd()) access_->onReadable();
  if (errors_ && fd == errors_->fd()) errors_->onReadable();
}

std::optional<TelemetryWindow> ServiceTelemetry::onTimer(std::uint64_t nowMillis,
                                                         std::optional<ResourceSample> sample) {
  if (access_) access_->poll();
  if (errors_) errors_->poll();
  if (sample) builder_.addResourceSample(*sample);
  return builder_.cut(nowMillis);
}

std::optional<TelemetryWindow> ServiceTelemetry::switchRelease(
    std::string release, std::uint64_t nowMillis, std::optional<ResourceSample> sample) {
  if (access_) access_->poll();
  if (errors_) errors_->poll();
  if (sample) builder_.addResourceSample(*sample);
  return builder_.switchRelease(std::move(release), nowMillis);
}

ServiceTelemetryState ServiceTelemetry::state() const {
  ServiceTelemetryState out;
  if (access_) out.accessLog = access_->state();
  if (errors_) out.errorLog = errors_->state();
  return out;
}

}  // namespace rollgate::agent
