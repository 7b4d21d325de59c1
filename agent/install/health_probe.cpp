#include "agent/install/health_probe.h"

namespace rollgate::install {

HealthProbe::HealthProbe(HealthProbeOptions options, const Clock& clock, HttpGetStatusFn get)
    : options_(std::move(options)), clock_(clock), get_(std::move(get)) {}

Status HealthProbe::waitHealthy() const {
  const std::uint64_t deadline = clock_.steadyMillis() + options_.timeoutMillis;
  std::string last = "no answer";
  for (;;) {
    auto status = get_(options_.url, options_.requestTimeoutMillis);
    if (status && *status >= 200 && *status < 300) return {};
    last = status ? "HTTP " + std::to_string(*status) : status.error().message;
    if (clock_.steadyMillis() >= deadline) break;
    clock_.sleepMillis(options_.intervalMillis);
  }
  return makeError("health check " + options_.url + " not healthy within " +
                   std::to_string(options_.timeoutMillis) + " ms (last: " + last + ")");
}

}  // namespace rollgate::install
