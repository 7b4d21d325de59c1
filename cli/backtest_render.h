// `rollgate backtest`'s text: the per-check table (with --compare, the current gates' figures
// beside the new ones), the rollouts whose decision would change, and what was replayed with the
// space kept windows take. Renders the typed report (common/backtest_view.h), never prose.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/backtest_view.h"
#include "common/result.h"

namespace rollgate::cli {

std::string renderBacktest(const BacktestView& view);

// --since / --until: "2026-12-01", "2026-12-01T10:00:00Z" (UTC), or "7d" / "12h" / "30m" before
// `nowMillis`. Fails naming the option and the value.
Result<std::uint64_t> parseBacktestTime(const std::string& option, const std::string& value,
                                        std::uint64_t nowMillis);

}  // namespace rollgate::cli
