// The log levels a daemon's config accepts (`log_level` in coordinator.toml and agent.toml): an
// unknown one is a config error instead of spdlog's silent "off".
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace rollgate {

// As listed in errors and docs/setup.md.
inline constexpr const char* kLogLevels = "trace, debug, info, warn, error, critical, off";
bool isValidLogLevel(const std::string& level);
// The config error for an unknown level: names the accepted ones and the value given.
std::string logLevelProblem(const std::string& level);

}  // namespace rollgate
