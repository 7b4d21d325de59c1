// Release version strings: validation (a version becomes a directory name on every host) and
// ordering, shared by the agent (which refuses to install an older release unless an operator
// reverts) and the coordinator (which refuses a rollout of an older release and points to
// `rollgate revert`; docs/revert.md).
//
// Ordering (compareVersions) is numeric-aware: each version is split into alternating runs of
// digits and non-digits; digit runs compare as numbers of any length (leading zeros ignored, so
// "1.10" > "1.9" and "2.01" == "2.1" numerically), other runs compare bytewise; when one version
// is a prefix of the other in runs, the longer one is newer ("1.2.1" > "1.2"). Examples:
// 1.9 < 1.10 < 1.10.1 < 2.0; build-7 < build-12; 2024.01.05 < 2024.1.6.
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace rollgate {

// Negative if a is older than b, zero if equal in order, positive if newer.
int compareVersions(std::string_view a, std::string_view b);

// The one version grammar (docs/versions.md), checked wherever a version enters (CLI, coordinator,
// wire codec, agent): 1..128 characters of [A-Za-z0-9._+-], starting with a letter or a digit.
// `~` and every other character are refused; the error names the version and the rule.
inline constexpr std::size_t kMaxVersionBytes = 128;
Status validateVersion(std::string_view version);

}  // namespace rollgate
