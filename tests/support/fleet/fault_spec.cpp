#include "tests/support/fleet/fault_spec.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rollgate::testing {

std::string faultSpecJson(const FaultSpec& spec) {
  nlohmann::json json = {{"error_share", spec.errorShare},
                         {"added_latency_ms", spec.addedLatencyMillis},
                         {"slow_share", spec.slowShare},
                         {"slow_ms", spec.slowMillis},
                         {"crash_after_seconds", spec.crashAfterSeconds},
                         {"error_log_lines_per_request", spec.errorLogLinesPerRequest},
                         {"memory_mib_per_second", spec.memoryMibPerSecond},
                         {"memory_cap_mib", spec.memoryCapMib},
                         {"cpu_us_per_request", spec.cpuMicrosPerRequest}};
  return json.dump(2) + "\n";
}

Result<FaultSpec> parseFaultSpec(const std::string& text, const std::string& source) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return makeError(source + ": expected a JSON object, got \"" + text.substr(0, 80) + "\"");
  }
  FaultSpec spec;
  for (const auto& item : json.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    auto bad = [&](const std::string& expected) {
      return makeError(source + ": key '" + key + "': expected " + expected + ", got " + value.dump());
    };
    auto share = [&](double& out) -> Status {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1) {
        return bad("a share from 0 to 1");
      }
      out = value.get<double>();
      return {};
    };
    auto count = [&](std::uint64_t& out) -> Status {
      if (!value.is_number_unsigned()) return bad("a whole number >= 0");
      out = value.get<std::uint64_t>();
      return {};
    };
    auto amount = [&](double& out) -> Status {
      if (!value.is_number() || value.get<double>() < 0) return bad("a number >= 0");
      out = value.get<double>();
      return {};
    };
    Status read;
    if (key == "error_share") read = share(spec.errorShare);
    else if (key == "added_latency_ms") read = count(spec.addedLatencyMillis);
    else if (key == "slow_share") read = share(spec.slowShare);
    else if (key == "slow_ms") read = count(spec.slowMillis);
    else if (key == "crash_after_seconds") read = count(spec.crashAfterSeconds);
    else if (key == "error_log_lines_per_request") read = amount(spec.errorLogLinesPerRequest);
    else if (key == "memory_mib_per_second") read = amount(spec.memoryMibPerSecond);
    else if (key == "memory_cap_mib") read = count(spec.memoryCapMib);
    else if (key == "cpu_us_per_request") read = count(spec.cpuMicrosPerRequest);
    else {
      return makeError(source + ": unknown key '" + key +
                       "' (known: error_share, added_latency_ms, slow_share, slow_ms, "
                       "crash_after_seconds, error_log_lines_per_request, memory_mib_per_second, "
                       "memory_cap_mib, cpu_us_per_request)");
    }
    if (!read) return read.error();
  }
  return spec;
}

Result<FaultSpec> readFaultSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return FaultSpec{};
  std::stringstream text;
  text << in.rdbuf();
  return parseFaultSpec(text.str(), path);
}

std::string readReleaseVersion(const std::string& releaseDir) {
  std::ifstream in(releaseDir + "/VERSION");
  std::string line;
  return std::getline(in, line) && !line.empty() ? line : "unknown";
}

}  // namespace rollgate::testing
