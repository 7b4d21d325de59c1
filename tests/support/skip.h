// How a test that needs something this machine may lack (root, nginx, a systemd manager,
// iproute2, a built binary) reports that it did not run. One rule for the whole suite:
//   - under CI=true a missing prerequisite FAILS the test case, naming what is missing: CI must
//     run every test, so a broken CI image cannot turn into a green run;
//   - otherwise the test case returns early and is recorded, and once every case has run the
//     binary exits with kSkipReturnCode (77) unless a case failed (a failure always wins). CTest
//     registers 77 as SKIP_RETURN_CODE (rollgate_test in the root CMakeLists.txt), so `ctest`
//     reports the test as "Skipped", never as "Passed".
//
//   if (!rollgate::testing::requireOrSkip(UserManager::missingPrerequisite())) return;
//
// The record lives in this support library and is read by the suite's doctest main
// (tests/support/doctest_main.cpp), which prints one line per skipped case.
// Thread-safety: requireOrSkip may be called from any thread; doctest runs cases on one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rollgate::testing {

inline constexpr int kSkipReturnCode = 77;

// True when env CI is exactly "true".
bool runningInCi();

// `missing` is empty when the test can run here, else what is missing ("root (network
// namespaces)", "/usr/sbin/nginx"). Returns true when the test can run. Else: under CI=true fails
// the current test case with the reason; outside CI records the skip, prints it and returns false
// (the caller returns). Must be called from inside a doctest test case.
[[nodiscard]] bool requireOrSkip(std::string_view missing);

// Test cases skipped so far, each as "<test case>: missing <what>".
std::vector<std::string> skippedTestCases();

}  // namespace rollgate::testing
