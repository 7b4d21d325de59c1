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

TEST_CASE("real regex patterns are matched with RE2") {
  auto pattern = ErrorPattern::compile(R"(\b(5\d\d)\b|timed? ?out)");
  REQUIRE(pattern.ok());
  CHECK_FALSE(pattern->isLiteral());
  CHECK(pattern->matches("upstream returned 502 to client"));
  CHECK(pattern->matches("connect timeout"));
  CHECK_FALSE(pattern->matches("status 200"));
  CHECK_FALSE(pattern->matches("status 5023"));
  // ECMAScript syntax the config has always accepted keeps working.
  auto classes = ErrorPattern::compile(R"(^\[(error|crit)\]\s+\w+:\/\S*-x$)");
  REQUIRE(classes.ok());
  CHECK(classes->matches("[crit]  worker:/path-x"));
  CHECK_FALSE(classes->matches("x[crit]  worker:/path-x"));
}

TEST_CASE("lines are bytes: invalid UTF-8 is searched, not rejected") {
  auto pattern = ErrorPattern::compile("fa(i)l");
  REQUIRE(pattern.ok());
  CHECK(pattern->matches(std::string("\xff\xfe ") + "fail"));
  auto dot = ErrorPattern::compile("a.b");
  REQUIRE(dot.ok());
  CHECK(dot->matches(std::string("a\xff") + "b"));
}

TEST_CASE("bad patterns are errors naming the pattern and RE2's reason") {
  auto bad = ErrorPattern::compile("(unclosed");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("'(unclosed'") != std::string::npos);
  CHECK(bad.error().message.find("missing )") != std::string::npos);
  CHECK_FALSE(ErrorPattern::compile("").ok());
  auto tooMany = ErrorPattern::compile("a{1000000}");
  REQUIRE_FALSE(tooMany.ok());
  CHECK(tooMany.error().message.find("'a{1000000}'") != std::string::npos);
}

TEST_CASE("ECMAScript-only features are refused with what is unsupported") {
  struct Case {
    const char* pattern;
    const char* feature;
  };
  for (const Case& c : {Case{R"((ERROR)\s+\1)", "back-reference \\1"},
                        Case{"ERROR(?= fatal)", "lookahead (?=...)"},
                        Case{"ERROR(?!x)", "negative lookahead (?!...)"},
                        Case{"(?<=a)ERROR", "lookbehind (?<=...)"},
                        Case{"(?<!a)ERROR", "negative lookbehind (?<!...)"},
                        Case{R"((?<n>x)\k<n>)", "named back-reference"}}) {
    CAPTURE(c.pattern);
    auto compiled = ErrorPattern::compile(c.pattern);
    REQUIRE_FALSE(compiled.ok());
    CHECK(compiled.error().message.find(std::string("'") + c.pattern + "'") != std::string::npos);
    CHECK(compiled.error().message.find(c.feature) != std::string::npos);
    CHECK(compiled.error().message.find("ECMAScript-only") != std::string::npos);
  }
  // An escaped parenthesis is not a lookahead.
  auto escaped = ErrorPattern::compile(R"(\(?=x)");
  REQUIRE(escaped.ok());
  CHECK(escaped->matches("(=x"));
}

TEST_CASE("the whole line is searched, however long") {
  auto regex = ErrorPattern::compile("fa(i)l");
  REQUIRE(regex.ok());
  CHECK(regex->matches(std::string(100, 'x') + "fail"));
  CHECK(regex->matches(std::string(1 << 20, 'x') + "fail"));
  CHECK_FALSE(regex->matches(std::string(1 << 20, 'x')));
  auto literal = ErrorPattern::compile("fail");
  REQUIRE(literal.ok());
  CHECK(literal->matches(std::string(1 << 20, 'x') + "fail"));
}

TEST_CASE("a pattern with exponential backtracking in ECMAScript stays linear") {
  auto pattern = ErrorPattern::compile("(a+)+$");
  REQUIRE(pattern.ok());
  CHECK_FALSE(pattern->matches(std::string(100000, 'a') + "!"));
}
