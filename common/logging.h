// Logging setup: named spdlog loggers writing to stderr (journald collects them under systemd).
// main() creates loggers and passes them in; nothing looks a logger up by name.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace rollgate {

using Logger = std::shared_ptr<spdlog::logger>;

// A logger named `name` writing to stderr at `level` ("debug", "info", "warn", ...).
// Lines carry no timestamp when stderr is the journal (JOURNAL_STREAM set).
Logger makeLogger(const std::string& name, const std::string& level = "info");

}  // namespace rollgate
