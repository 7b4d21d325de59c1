// HealthProbe: after a restart, asks a service's health URL until it answers 2xx or the time is
// up. Time and waiting go through the injected Clock, and the request through an injected
// function (httpGetStatus in the agent), so a unit test runs it with a FakeClock and a scripted
// answer, and never sleeps.
// Thread-safety: immutable after construction; waitHealthy() is as thread-safe as the Clock
// and the request function it was given.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace rollgate::install {

struct HealthProbeOptions {
  std::string url;
  std::uint32_t timeoutMillis = 30'000;        // from the first request to giving up
  std::uint32_t intervalMillis = 200;          // between unhealthy answers
  std::uint32_t requestTimeoutMillis = 2'000;  // one request
};

// One request: the HTTP status, or an error naming the URL when nothing answered.
using HttpGetStatusFn = std::function<Result<long>(const std::string& url, long timeoutMillis)>;

class HealthProbe {
 public:
  // `clock` must outlive the probe.
  HealthProbe(HealthProbeOptions options, const Clock& clock, HttpGetStatusFn get);

  // OK at the first 2xx answer; otherwise, once timeoutMillis have passed, an error naming the
  // URL, the timeout and the last answer ("HTTP 503" or the request's error).
  Status waitHealthy() const;

 private:
  HealthProbeOptions options_;
  const Clock& clock_;
  HttpGetStatusFn get_;
};

}  // namespace rollgate::install
