// Pure parsers of HAProxy runtime API answers: `show stat` (CSV) and `show servers state`
// (space-separated, versioned). No I/O; tested with recorded answers.
// Thread-safety: free functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::lb {

// HAProxy's srv_admin_state bits (src/server.h: SRV_ADMF_*).
inline constexpr std::uint32_t kAdminForcedMaint = 0x01;
inline constexpr std::uint32_t kAdminInheritedMaint = 0x02;
inline constexpr std::uint32_t kAdminConfigMaint = 0x04;
inline constexpr std::uint32_t kAdminForcedDrain = 0x08;
inline constexpr std::uint32_t kAdminInheritedDrain = 0x10;
inline constexpr std::uint32_t kAdminResolverMaint = 0x20;
inline constexpr std::uint32_t kAdminHostnameMaint = 0x40;

// One server's row of `show stat`.
struct ServerStat {
  std::int64_t currentSessions = 0;  // scur
  std::string status;                // "UP", "DOWN", "DRAIN", "MAINT", "no check", "UP 1/2", ...
  std::int64_t weight = 0;           // effective weight
};

// One server's row of `show servers state <backend>`.
struct ServerState {
  std::uint32_t operationalState = 0;  // srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
  std::uint32_t adminState = 0;        // srv_admin_state: kAdmin* bits
  std::int64_t userWeight = 0;         // srv_uweight: the weight in effect
  std::int64_t initialWeight = 0;      // srv_iweight: the configured weight
};

// The row of `backend`/`server` in a `show stat` answer; an error naming the server when it is
// not there or the CSV lacks a column.
Result<ServerStat> parseServerStat(const std::string& csv, const std::string& backend,
                                   const std::string& server);
// Every server row of `backend` in a `show stat` answer (not its BACKEND or FRONTEND row).
struct NamedServerStat {
  std::string name;
  ServerStat stat;
};
Result<std::vector<NamedServerStat>> parseBackendServerStats(const std::string& csv,
                                                             const std::string& backend);

// The row of `server` in a `show servers state <backend>` answer.
Result<ServerState> parseServerState(const std::string& text, const std::string& backend,
                                     const std::string& server);
// True when HAProxy's own check lets traffic reach the server: UP (also "UP n/m" while going
// down), DRAIN (up, weight 0) or "no check".
bool statusTakesTraffic(const std::string& status);
// True when HAProxy sends the server new requests: UP (also "UP n/m") or "no check"; not DRAIN,
// MAINT or DOWN.
bool statusServesNewRequests(const std::string& status);

}  // namespace rollgate::lb
