#include "agent/telemetry/error_log.h"

#include <doctest/doctest.h>

using rollgate::agent::ErrorPattern;

TEST_CASE("literal alternatives are matched as substrings") {
  auto pattern = ErrorPattern::compile(R"(ERROR|FATAL|panic|\[error\])");
  REQUIRE(pattern.ok());
  CHECK(pattern->isLiteral());
  CHECK(pattern->matches("2024/01/01 00:00:00 [error] 12#12: *1 open() failed"));
  CHECK(pattern->matches("level=ERROR msg=x"));
  CHECK(pattern->matches("goroutine 1 [running]: panic: boom"));
  CHECK_FALSE(pattern->matches("2024/01/01 00:00:00 [warn] 12#12: conflicting server name"));
  CHECK_FALSE(pattern->matches("error in lower case"));
  CHECK_FALSE(pattern->matches(""));
}

TEST_CASE("real regex patterns fall back to ECMAScript std::regex") {
  auto pattern = ErrorPattern::compile(R"(\b(5\d\d)\b|timed? ?out)");
  REQUIRE(pattern.ok());
  CHECK_FALSE(pattern->isLiteral());
  CHECK(pattern->matches("upstream returned 502 to client"));
  CHECK(pattern->matches("connect timeout"));
  CHECK_FALSE(pattern->matches("status 200"));
}

TEST_CASE("bad patterns are errors naming the pattern") {
  auto bad = ErrorPattern::compile("(unclosed");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("'(unclosed'") != std::string::npos);
  CHECK_FALSE(ErrorPattern::compile("").ok());
}

TEST_CASE("regex safety: long numbers refused, regex sees the first 4 KiB of a line") {
  auto longNumber = ErrorPattern::compile(R"(\12222222222)");
  REQUIRE_FALSE(longNumber.ok());
  CHECK(longNumber.error().message.find("longer than 6 digits") != std::string::npos);
  auto regex = ErrorPattern::compile("fa(i)l");
  REQUIRE(regex.ok());
  CHECK(regex->matches(std::string(100, 'x') + "fail"));
  CHECK_FALSE(regex->matches(std::string(ErrorPattern::kMaxRegexBytes, 'x') + "fail"));
  auto literal = ErrorPattern::compile("fail");
  REQUIRE(literal.ok());
  CHECK(literal->matches(std::string(ErrorPattern::kMaxRegexBytes, 'x') + "fail"));
}
