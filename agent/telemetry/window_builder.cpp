#include "agent/telemetry/window_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/check.h"

namespace rollgate::agent {
namespace {

constexpr std::size_t kMaxStatus = 600;

std::vector<std::uint64_t> makeBounds() {
  std::vector<std::uint64_t> bounds;
  for (int i = 0; i <= 40; ++i) {
    bounds.push_back(static_cast<std::uint64_t>(std::llround(64.0 * std::pow(2.0, i / 2.0))));
  }
  bounds.push_back(std::numeric_limits<std::uint64_t>::max());
  return bounds;
}

}  // namespace

const std::vector<std::uint64_t>& latencyBucketUpperMicros() {
  static const std::vector<std::uint64_t> kBounds = makeBounds();  // immutable table
  return kBounds;
}

WindowBuilder::WindowBuilder(std::string service, std::string release, std::uint64_t nowMillis,
                             WindowOptions options)
    : options_(options), statusCounts_(kMaxStatus, 0), rngState_(options.seed) {
  ROLLGATE_CHECK_GT(options_.windowMillis, 0u);
  window_.service = std::move(service);
  window_.release = std::move(release);
  reset(nowMillis);
}

void WindowBuilder::reset(std::uint64_t startMillis) {
  std::string service = std::move(window_.service);
  std::string release = std::move(window_.release);
  window_ = TelemetryWindow{};
  window_.service = std::move(service);
  window_.release = std::move(release);
  window_.startMillis = startMillis;
  window_.latencyBucketUpperMicros = latencyBucketUpperMicros();
  window_.latencyBucketCounts.assign(window_.latencyBucketUpperMicros.size(), 0);
  window_.latencySampleMicros.reserve(options_.sampleCapacity);
  std::fill(statusCounts_.begin(), statusCounts_.end(), 0);
  latencySeen_ = 0;
  cpuAccumulatedNanos_ = 0;
  restartsAccumulated_ = 0;
  if (lastSample_) {
    window_.memoryBytes = lastSample_->memoryBytes;
    window_.unitActive = lastSample_->unitActive;
    window_.mainPid = lastSample_->mainPid;
  }
}

void WindowBuilder::setWindowMillis(std::uint64_t windowMillis) {
  ROLLGATE_CHECK_GT(windowMillis, 0u);
  options_.windowMillis = windowMillis;
}

std::uint64_t WindowBuilder::nextRandom() {
  // splitmix64: small, fast, good enough for reservoir sampling.
  std::uint64_t z = (rngState_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void WindowBuilder::addAccess(const AccessRecord& record) {
  if (!record.parsed) {
    ++window_.unparsedLines;
    return;
  }
  ++window_.requests;
  const std::uint16_t status = record.status;
  if (status < kMaxStatus) ++statusCounts_[status];
  switch (status / 100) {
    case 1:
      ++window_.status1xx;
      break;
    case 2:
      ++window_.status2xx;
      break;
    case 3:
      ++window_.status3xx;
      break;
    case 4:
      ++window_.status4xx;
      break;
    case 5:
      ++window_.status5xx;
      break;
    default:
      break;
  }
  if (!record.hasLatency) return;
  const auto& bounds = window_.latencyBucketUpperMicros;
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), record.latencyMicros) - bounds.begin());
  ++window_.latencyBucketCounts[std::min(bucket, bounds.size() - 1)];
  const auto clamped = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(record.latencyMicros, std::numeric_limits<std::uint32_t>::max()));
  ++latencySeen_;
  if (window_.latencySampleMicros.size() < options_.sampleCapacity) {
    window_.latencySampleMicros.push_back(clamped);
  } else if (options_.sampleCapacity > 0) {
    const std::uint64_t slot = nextRandom() % latencySeen_;  // Algorithm R
    if (slot < options_.sampleCapacity) window_.latencySampleMicros[slot] = clamped;
  }
}

void WindowBuilder::addResourceSample(const ResourceSample& sample) {
  if (lastSample_) {
    auto nanos = [](const ResourceSample& s) {
      return s.cpuNanos != 0 ? s.cpuNanos : s.cpuMillis * 1'000'000;
    };
    std::uint64_t now = nanos(sample), before = nanos(*lastSample_);
    cpuAccumulatedNanos_ += now >= before ? now - before : now;
    restartsAccumulated_ += sample.restarts >= lastSample_->restarts
                                ? sample.restarts - lastSample_->restarts
                                : sample.restarts;
  }
  lastSample_ = sample;
  window_.memoryBytes = sample.memoryBytes;
  window_.unitActive = sample.unitActive;
  window_.mainPid = sample.mainPid;
}

TelemetryWindow WindowBuilder::finish(std::uint64_t nowMillis) {
  TelemetryWindow done = window_;
  done.endMillis = std::max(nowMillis, done.startMillis);
  done.cpuMillis = cpuAccumulatedNanos_ / 1'000'000;
  done.cpuMicros = cpuAccumulatedNanos_ / 1000;
  done.restarts = restartsAccumulated_;
  for (std::size_t code = 0; code < kMaxStatus; ++code) {
    if (statusCounts_[code] != 0) {
      done.statusCodes.push_back({static_cast<std::uint16_t>(code), statusCounts_[code]});
    }
  }
  reset(done.endMillis);
  return done;
}

std::optional<TelemetryWindow> WindowBuilder::cut(std::uint64_t nowMillis) {
  if (nowMillis < nextCutMillis()) return std::nullopt;
  return finish(nowMillis);
}

std::optional<TelemetryWindow> WindowBuilder::switchRelease(std::string newRelease,
                                                            std::uint64_t nowMillis) {
  std::optional<TelemetryWindow> closed;
  const bool empty = window_.requests == 0 && window_.unparsedLines == 0 &&
                     window_.errorLogLines == 0 && cpuAccumulatedNanos_ == 0 &&
                     restartsAccumulated_ == 0;
  if (!(empty && nowMillis <= window_.startMillis)) {
    closed = finish(nowMillis);
  }
  window_.release = std::move(newRelease);
  return closed;
}

TelemetryWindow WindowBuilder::closeNow(std::uint64_t nowMillis) { return finish(nowMillis); }

}  // namespace rollgate::agent
