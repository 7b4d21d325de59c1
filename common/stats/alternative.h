// The alternative hypothesis of a two-sample test, in rollgate's canary-versus-baseline terms.
// `greater` means "the canary's values (or error odds) are larger than the baseline's".
// Thread-safety: plain values and pure functions.
#pragma once

#include <string_view>

#include "common/result.h"

namespace rollgate::stats {

enum class Alternative { kTwoSided, kGreater, kLess };

// Accepts "two-sided", "greater", "less" (SciPy's spellings).
Result<Alternative> parseAlternative(std::string_view text);
std::string_view toString(Alternative alternative);

}  // namespace rollgate::stats
