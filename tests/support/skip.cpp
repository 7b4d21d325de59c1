#include "tests/support/skip.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <mutex>

namespace rollgate::testing {
namespace {

struct SkipRecord {
  std::mutex mutex;
  std::vector<std::string> cases;
  std::string currentTestCase;
};

SkipRecord& record() {
  static SkipRecord instance;
  return instance;
}

// Follows which test case is running, so a skip names it.
struct CurrentTestCaseListener : doctest::IReporter {
  explicit CurrentTestCaseListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& data) override {
    std::lock_guard lock(record().mutex);
    record().currentTestCase = data.m_name;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("rollgate-current-test-case", 1, CurrentTestCaseListener);

bool runningInCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

bool requireOrSkip(std::string_view missing) {
  if (missing.empty()) {
    return true;
  }
  if (runningInCi()) {
    FAIL("CI=true, so this test must run, but this machine lacks: " << missing);
    return false;
  }
  std::string line;
  {
    std::lock_guard lock(record().mutex);
    line = record().currentTestCase + ": missing " + std::string(missing);
    record().cases.push_back(line);
  }
  MESSAGE("skipped (not run, reported to CTest as Skipped): missing " << missing);
  return false;
}

std::vector<std::string> skippedTestCases() {
  std::lock_guard lock(record().mutex);
  return record().cases;
}

}  // namespace rollgate::testing
