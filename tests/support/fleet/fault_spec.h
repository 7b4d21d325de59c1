// FaultSpec: how a release of rollgate-fault-app (fault_app.cpp) misbehaves, written into the
// release as fault.json and read by the app at start. All zero is a healthy release. Shared by
// the app, the web fleet that builds its releases, and the fault catalog.
// Thread-safety: plain values and pure functions (readFaultSpec reads one file).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace rollgate::testing {

struct FaultSpec {
  double errorShare = 0;                 // share of /app requests answered 500
  std::uint64_t addedLatencyMillis = 0;  // added to every /app request
  double slowShare = 0;                  // share of /app requests delayed by slowMillis more
  std::uint64_t slowMillis = 0;
  std::uint64_t crashAfterSeconds = 0;  // 0: never; else the process exits (code 70) this long after start
  double errorLogLinesPerRequest = 0;   // mean `[error]` lines per /app request (0.05: one in 20)
  double memoryMibPerSecond = 0;        // resident memory growth, touched pages
  std::uint64_t memoryCapMib = 256;     // growth stops here
  std::uint64_t cpuMicrosPerRequest = 0;  // CPU time burnt per /app request
  bool operator==(const FaultSpec&) const = default;
};

// fault.json's text for `spec` (every key, so that a release says what it does).
std::string faultSpecJson(const FaultSpec& spec);
// Parses fault.json text; an unknown key, a value of the wrong type or out of range fails naming
// `source`, the key and the value.
Result<FaultSpec> parseFaultSpec(const std::string& text, const std::string& source);
// Reads `path`; a missing file is a healthy release.
Result<FaultSpec> readFaultSpec(const std::string& path);
// The first line of `releaseDir`/VERSION, or "unknown".
std::string readReleaseVersion(const std::string& releaseDir);

}  // namespace rollgate::testing
