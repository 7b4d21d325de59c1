// Always-on checks: they abort with their operands and location in every build type (this test
// is built with NDEBUG in RelWithDebInfo), pass silently otherwise, and evaluate operands once.
// Failures are observed in a forked child (a death test).
#include "common/check.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <string>

#include "common/result.h"

namespace {

struct Death {
  bool aborted = false;
  std::string stderrText;
};

// Runs `body` in a child process with stderr captured.
Death runInChild(const std::function<void()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    body();
    ::_exit(0);
  }
  ::close(fds[1]);
  Death death;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
    death.stderrText.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  death.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return death;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a failed comparison prints both operands and the location, then aborts") {
  int three = 3, four = 4;
  const int line = __LINE__ + 1;
  Death death = runInChild([&] { ROLLGATE_CHECK_EQ(three, four); });
  CHECK(death.aborted);
  CHECK(contains(death.stderrText, "check failed at "));
  CHECK(contains(death.stderrText,
                 "check_test.cpp:" + std::to_string(line) + ": three == four (3 vs 4)\n"));
}

TEST_CASE("every comparison macro fails when it should and names its operator") {
  struct Row {
    const char* expected;
    std::function<void()> body;
  };
  const std::string web = "web";
  for (const Row& row : std::vector<Row>{
           {"1 != 1 (1 vs 1)", [] { ROLLGATE_CHECK_NE(1, 1); }},
           {"5 < 2 (5 vs 2)", [] { ROLLGATE_CHECK_LT(5, 2); }},
           {"5 <= 2 (5 vs 2)", [] { ROLLGATE_CHECK_LE(5, 2); }},
           {"2 > 5 (2 vs 5)", [] { ROLLGATE_CHECK_GT(2, 5); }},
           {"2 >= 5 (2 vs 5)", [] { ROLLGATE_CHECK_GE(2, 5); }},
           {"web == \"api\" (web vs api)", [&] { ROLLGATE_CHECK_EQ(web, "api"); }},
       }) {
    CAPTURE(row.expected);
    Death death = runInChild(row.body);
    CHECK(death.aborted);
    CHECK(contains(death.stderrText, row.expected));
  }
}

TEST_CASE("a plain check prints its condition and the message parts") {
  Death death = runInChild([] {
    const int windows = 0;
    ROLLGATE_CHECK(windows > 0, "host ", "web-1", ": ", windows, " windows, ready ", false);
  });
  CHECK(death.aborted);
  CHECK(contains(death.stderrText, ": windows > 0: host web-1: 0 windows, ready false\n"));
}

TEST_CASE("checks that hold do nothing and evaluate each operand exactly once") {
  int calls = 0;
  auto next = [&] { return ++calls; };
  ROLLGATE_CHECK_EQ(next(), 1);
  ROLLGATE_CHECK_LT(next(), 3);
  ROLLGATE_CHECK(next() == 3, "never printed ", next());
  CHECK(calls == 3);  // the message is built only on failure
}

TEST_CASE("checks stay on under NDEBUG") {
#ifndef NDEBUG
  MESSAGE("built without NDEBUG: this case only shows the checks do not depend on assert");
#endif
  Death death = runInChild([] { ROLLGATE_CHECK(1 + 1 == 3); });
  CHECK(death.aborted);
  CHECK(contains(death.stderrText, "1 + 1 == 3"));
}

TEST_CASE("taking the value of a failed Result is a broken invariant that names the error") {
  Death death = runInChild([] {
    rollgate::Result<int> failed = rollgate::makeError("agent.toml: key 'x': expected a string");
    (void)failed.value();
  });
  CHECK(death.aborted);
  CHECK(contains(death.stderrText, "agent.toml: key 'x': expected a string"));
  Death fine = runInChild([] {
    rollgate::Result<int> ok = 7;
    ROLLGATE_CHECK_EQ(ok.value(), 7);
  });
  CHECK_FALSE(fine.aborted);
  CHECK(fine.stderrText.empty());
}
