// Gates as TOML text, for tests and benchmarks that start rollouts with the default checks plus
// their own (a gates file with checks replaces the defaults, so the defaults must be written out).
// tests/unit/rollout checks that the text parses back to exactly the checks it was made from.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "coordinator/rollout/rollout_config.h"

namespace rollgate::testing {

// One [[check]] table per check, every parsed key that differs from the parser's default
// spelled out (alternative is derived from the test, as the parser does).
std::string gatesToml(const rollout::GatesConfig& gates);

// The default gates (rollout::defaultGatesConfig()) as TOML.
std::string defaultGatesToml();

}  // namespace rollgate::testing
