// Every case of shared/reference/stats-cases.json (SciPy 1.10) must agree within
// |p - reference| <= 1e-9 * reference + 1e-12, and U exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/stats/fisher.h"
#include "common/stats/mann_whitney.h"
#include "tests/support/reference.h"

namespace rollgate::stats {
namespace {

nlohmann::json loadReference() {
  const std::string path = rollgate::testing::referenceFile("stats-cases.json");
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), rollgate::testing::missingReferenceMessage(path));
  return nlohmann::json::parse(in);
}

bool agrees(double p, double reference) {
  return std::fabs(p - reference) <= 1e-9 * reference + 1e-12;
}

TEST_CASE("Mann-Whitney agrees with SciPy on every reference case") {
  const nlohmann::json cases = loadReference().at("mannwhitney");
  REQUIRE(cases.size() >= 40);
  int checked = 0;
  for (const auto& c : cases) {
    const auto canary = c.at("canary").get<std::vector<double>>();
    const auto baseline = c.at("baseline").get<std::vector<double>>();
    const auto alternative = parseAlternative(c.at("alternative").get<std::string>());
    REQUIRE(alternative.ok());
    const auto result = mannWhitneyU(canary, baseline, *alternative);
    REQUIRE(result.ok());
    const double reference = c.at("p_value").get<double>();
    INFO(c.at("name").get<std::string>() << " " << c.at("alternative").get<std::string>()
                                         << " p=" << result->pValue << " reference=" << reference);
    CHECK(result->u == c.at("u").get<double>());
    CHECK(agrees(result->pValue, reference));
    ++checked;
  }
  CHECK(checked == static_cast<int>(cases.size()));
}

TEST_CASE("Fisher agrees with SciPy on every reference case") {
  const nlohmann::json cases = loadReference().at("fisher");
  REQUIRE(cases.size() >= 30);
  for (const auto& c : cases) {
    const auto table = c.at("table").get<std::vector<std::vector<std::uint64_t>>>();
    REQUIRE(table.size() == 2);
    const auto alternative = parseAlternative(c.at("alternative").get<std::string>());
    REQUIRE(alternative.ok());
    const auto result = fisherExact(table[0][0], table[0][0] + table[0][1], table[1][0],
                                    table[1][0] + table[1][1], *alternative);
    REQUIRE(result.ok());
    const double reference = c.at("p_value").get<double>();
    INFO(c.at("name").get<std::string>() << " " << c.at("alternative").get<std::string>()
                                         << " p=" << result->pValue << " reference=" << reference);
    CHECK(agrees(result->pValue, reference));
  }
}

}  // namespace
}  // namespace rollgate::stats
