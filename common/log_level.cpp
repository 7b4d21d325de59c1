#include "common/log_level.h"

namespace rollgate {

bool isValidLogLevel(const std::string& level) {
  for (const char* known : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (level == known) return true;
  }
  return false;
}

std::string logLevelProblem(const std::string& level) {
  return std::string("expected one of ") + kLogLevels + ", got \"" + level + "\"";
}

}  // namespace rollgate
