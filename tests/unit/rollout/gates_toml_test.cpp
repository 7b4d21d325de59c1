#include <doctest/doctest.h>

#include "tests/support/fleet/gates_toml.h"

using namespace rollgate::rollout;
using rollgate::testing::defaultGatesToml;
using rollgate::testing::gatesToml;
using rollgate::stats::toString;

TEST_CASE("the default gates written as TOML parse back to the default gates") {
  auto parsed = parseGatesConfig(defaultGatesToml(), "defaults.toml");
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : std::string(parsed.error().message)));
  CHECK(parsed->checks.size() == defaultGatesConfig().checks.size());
  CHECK(*parsed == defaultGatesConfig());
}

TEST_CASE("the defaults plus a Prometheus check parse to the defaults followed by that check") {
  GatesConfig gates = defaultGatesConfig();
  CheckSpec check;
  check.name = "app_errors";
  check.metric = Metric::kPrometheus;
  check.test = Test::kMannWhitney;
  check.minEffect = 0.01;
  check.query = R"(max(app_error_ratio{host="{{host}}"}))";
  gates.checks.push_back(check);
  auto parsed = parseGatesConfig(gatesToml(gates), "gates.toml");
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : std::string(parsed.error().message)));
  CHECK(*parsed == gates);
}

TEST_CASE("a changed default is written and read back changed") {
  GatesConfig gates = defaultGatesConfig();
  gates.checks[0].alpha = 0.005;
  gates.checks[0].tier = Tier::kWarn;
  auto parsed = parseGatesConfig(gatesToml(gates), "gates.toml");
  REQUIRE(parsed.ok());
  CHECK(parsed->checks[0].alpha == 0.005);
  CHECK(toString(parsed->checks[0].tier) == std::string("warn"));
  CHECK(*parsed != defaultGatesConfig());
}
