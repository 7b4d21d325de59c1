// Logging setup: named spdlog loggers writing to stderr (journald collects them under systemd).
// main() creates loggers and passes them in; nothing looks a logger up by name.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace rollgate {

using Logger = std::shared_ptr<spdlog::logger>;

// The levels a config's `log_level` accepts, as listed in errors and docs/setup.md.
inline constexpr const char* kLogLevels = "trace, debug, info, warn, error, critical, off";
bool isValidLogLevel(const std::string& level);
// The config error for an unknown level: names the accepted ones and the value given.
std::string logLevelProblem(const std::string& level);

// A logger named `name` writing to stderr at `level` (requires isValidLogLevel(level)).
// Lines carry no timestamp when stderr is the journal (JOURNAL_STREAM set).
Logger makeLogger(const std::string& name, const std::string& level = "info");

}  // namespace rollgate
