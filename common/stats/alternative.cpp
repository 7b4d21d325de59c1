#include "common/stats/alternative.h"

#include <string>

namespace rollgate::stats {

Result<Alternative> parseAlternative(std::string_view text) {
  if (text == "two-sided") return Alternative::kTwoSided;
  if (text == "greater") return Alternative::kGreater;
  if (text == "less") return Alternative::kLess;
  return makeError("alternative '" + std::string(text) +
                   "': expected one of two-sided, greater, less");
}

std::string_view toString(Alternative alternative) {
  switch (alternative) {
    case Alternative::kTwoSided:
      return "two-sided";
    case Alternative::kGreater:
      return "greater";
    case Alternative::kLess:
      return "less";
  }
  return "unknown";
}

}  // namespace rollgate::stats
