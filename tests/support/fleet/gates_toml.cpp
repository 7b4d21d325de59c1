#include "tests/support/fleet/gates_toml.h"

#include <cstdio>

namespace rollgate::testing {
namespace {

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// A TOML literal string; Requires: `text` has no single quote or newline.
std::string literal(const std::string& text) { return "'" + text + "'"; }

}  // namespace

std::string gatesToml(const rollout::GatesConfig& gates) {
  std::string out;
  for (const auto& check : gates.checks) {
    out += "[[check]]\nname = \"" + check.name + "\"\nmetric = \"" +
           std::string(stats::toString(check.metric)) + "\"\ntest = \"" +
           std::string(stats::toString(check.test)) + "\"\nalpha = " + number(check.alpha) +
           "\nmin_effect = " + number(check.minEffect) + "\nmin_ratio = " +
           number(check.minRatio) + "\nmin_data = " + std::to_string(check.minData) +
           "\nquantile = " + number(check.quantile) + "\ntier = \"" +
           std::string(stats::toString(check.tier)) + "\"\n";
    if (check.test == stats::Test::kThresholdMax || check.test == stats::Test::kThresholdMin) {
      out += "threshold = " + number(check.threshold) + "\n";
    }
    if (!check.query.empty()) out += "query = " + literal(check.query) + "\n";
  }
  return out;
}

std::string defaultGatesToml() { return gatesToml(rollout::defaultGatesConfig()); }

}  // namespace rollgate::testing
