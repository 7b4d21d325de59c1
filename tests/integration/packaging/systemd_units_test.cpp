// The systemd units as installed: `systemd-analyze verify` is clean and the offline security
// exposure stays within budget (coordinator <= 2.5, agent <= 6.0). The units are checked inside
// a staged install (cmake --install with DESTDIR) so that ExecStart= points at the real, built
// binaries at their installed paths.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include "tests/support/skip.h"
#include "tests/support/sshd/test_host.h"

namespace {

using rollgate::hosttest::quoteShell;
using rollgate::hosttest::runShell;

struct StagedInstall {
  rollgate::hosttest::TempDir dir{"/tmp", "rollgate-units"};
  std::string unitDir() const { return dir.path() + "/usr/lib/systemd/system"; }
};

// DESTDIR install of both packages' components plus the system's own units (targets the
// rollgate units refer to), laid out like a usr-merged system.
void stage(const StagedInstall& staged) {
  const std::string root = staged.dir.path();
  for (const char* component : {"agent", "coordinator"}) {
    const auto installed = runShell("DESTDIR=" + quoteShell(root) + " cmake --install " +
                                    quoteShell(ROLLGATE_BINARY_DIR) + " --prefix /usr --component " +
                                    component);
    INFO(installed.output);
    REQUIRE(installed.exitCode == 0);
  }
  const auto copied = runShell("mkdir -p " + quoteShell(staged.unitDir()) +
                               " && cp -an /lib/systemd/system/. " + quoteShell(staged.unitDir()) +
                               " && ln -sfn usr/lib " + quoteShell(root + "/lib") +
                               " && ln -sfn usr/bin " + quoteShell(root + "/bin"));
  INFO(copied.output);
  REQUIRE(copied.exitCode == 0);
}

double exposureOf(const StagedInstall& staged, const std::string& unit) {
  const auto result = runShell("systemd-analyze security --offline=yes --no-pager --root=" +
                               quoteShell(staged.dir.path()) + " " +
                               quoteShell(staged.unitDir() + "/" + unit));
  const std::regex overall("Overall exposure level for " + unit + ": ([0-9]+\\.[0-9]+)");
  std::smatch match;
  if (!std::regex_search(result.output, match, overall)) {
    FAIL("no exposure level in: " << result.output);
  }
  MESSAGE(unit << " exposure " << match[1].str());
  return std::stod(match[1].str());
}

}  // namespace

TEST_CASE("systemd units verify cleanly against the installed binaries") {
  const std::string missing = rollgate::hosttest::missingPrerequisites({"systemd-analyze", "cmake"});
  if (!rollgate::testing::requireOrSkip(missing)) {
    return;
  }
  StagedInstall staged;
  stage(staged);
  for (const std::string unit : {"rollgate-agent.service", "rollgate-coordinator.service"}) {
    CAPTURE(unit);
    const auto verified = runShell("systemd-analyze verify --man=no --root=" +
                                   quoteShell(staged.dir.path()) + " " +
                                   quoteShell(staged.unitDir() + "/" + unit));
    INFO(verified.output);
    CHECK(verified.exitCode == 0);
    // Unknown keys and similar problems are warnings with exit code 0: any output is a finding.
    CHECK(verified.output.empty());
  }
}

TEST_CASE("systemd-analyze verify fails when ExecStart's binary is missing") {
  // Guards the test above against passing vacuously (e.g. a root that hides the binaries).
  const std::string missing = rollgate::hosttest::missingPrerequisites({"systemd-analyze", "cmake"});
  if (!rollgate::testing::requireOrSkip(missing)) {
    return;
  }
  StagedInstall staged;
  stage(staged);
  REQUIRE(runShell("rm " + quoteShell(staged.dir.path() + "/usr/bin/rollgate-agent")).exitCode ==
          0);
  const auto verified = runShell("systemd-analyze verify --man=no --root=" +
                                 quoteShell(staged.dir.path()) + " " +
                                 quoteShell(staged.unitDir() + "/rollgate-agent.service"));
  CHECK(verified.exitCode != 0);
  CHECK(verified.output.find("/usr/bin/rollgate-agent") != std::string::npos);
}

TEST_CASE("hardening: offline exposure within budget") {
  const std::string missing = rollgate::hosttest::missingPrerequisites({"systemd-analyze", "cmake"});
  if (!rollgate::testing::requireOrSkip(missing)) {
    return;
  }
  StagedInstall staged;
  stage(staged);
  CHECK(exposureOf(staged, "rollgate-coordinator.service") <= 2.5);
  CHECK(exposureOf(staged, "rollgate-agent.service") <= 6.0);
}

TEST_CASE("units: notify with watchdog, restart on failure, coordinator as its own user") {
  for (const std::string unit : {"rollgate-agent.service", "rollgate-coordinator.service"}) {
    CAPTURE(unit);
    const std::string text =
        rollgate::hosttest::readFileText(std::string(ROLLGATE_SOURCE_DIR) + "/systemd/" + unit);
    REQUIRE(!text.empty());
    CHECK(text.find("\nType=notify\n") != std::string::npos);
    CHECK(std::regex_search(text, std::regex("\nWatchdogSec=[1-9][0-9]*s\n")));
    CHECK(text.find("\nRestart=on-failure\n") != std::string::npos);
    CHECK(text.find("\nNoNewPrivileges=yes\n") != std::string::npos);
    CHECK(text.find("\nExecStart=/usr/bin/" + unit.substr(0, unit.find('.')) +
                    " --config /etc/rollgate/") != std::string::npos);
  }
  const std::string coordinator = rollgate::hosttest::readFileText(
      std::string(ROLLGATE_SOURCE_DIR) + "/systemd/rollgate-coordinator.service");
  CHECK(coordinator.find("\nUser=rollgate\n") != std::string::npos);
  CHECK(coordinator.find("\nProtectSystem=strict\n") != std::string::npos);
  CHECK(coordinator.find("\nReadWritePaths=/etc/rollgate/agents.d\n") != std::string::npos);
}
