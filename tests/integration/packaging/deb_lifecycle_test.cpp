// Install, re-install, upgrade and purge of both .debs in a clean Debian 12 root (a copy of the
// debian_root fixture, chrooted in a private mount namespace): what the maintainer scripts create
// (user, directories, keys), that edited conffiles and keys survive an upgrade, and that purge
// leaves nothing behind. The "old" build is the same tree packaged as version 0.0.0.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/skip.h"
#include "tests/support/sshd/test_host.h"

namespace {

using rollgate::hosttest::CommandOutput;
using rollgate::hosttest::quoteShell;
using rollgate::hosttest::runShell;

const std::string kPackages = std::string(ROLLGATE_BINARY_DIR) + "/test-packages";
const std::string kBaseRoot = std::string(ROLLGATE_BINARY_DIR) + "/test-roots/debian12";

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

class Host {
 public:
  explicit Host(const std::string& root) : root_(root) {}
  CommandOutput run(const std::string& command) const {
    return rollgate::hosttest::runInRoot(root_, command);
  }
  // Runs a command that must succeed; returns its output without the trailing newline.
  std::string must(const std::string& command) const {
    const auto result = run(command);
    INFO("in root: " << command << "\n" << result.output);
    REQUIRE(result.exitCode == 0);
    return trimmed(result.output);
  }
  bool exists(const std::string& path) const {
    return run("test -e " + quoteShell(path) + " || test -L " + quoteShell(path)).exitCode == 0;
  }
  std::string file(const std::string& path) const {
    return rollgate::hosttest::readFileText(root_ + path);
  }

 private:
  std::string root_;
};

// The maintainer scripts generate keys with `rollgate keygen` and `rollgate-agent keygen`.
std::string missingKeygen() {
  rollgate::hosttest::TempDir dir("/tmp", "rollgate-keygen");
  const std::string bin = std::getenv("ROLLGATE_BIN_DIR") ? std::getenv("ROLLGATE_BIN_DIR") : "";
  std::string missing;
  for (const std::string program : {"rollgate", "rollgate-agent"}) {
    const std::string prefix = dir.path() + "/" + program;
    runShell(quoteShell(bin + "/" + program) + " keygen --out " + quoteShell(prefix));
    if (rollgate::hosttest::readFileText(prefix + ".pub").size() != 41) {
      missing += (missing.empty() ? "" : ", ") + program + " keygen --out PREFIX";
    }
  }
  return missing;
}

}  // namespace

TEST_CASE("deb: install, reinstall, upgrade over an older build, purge") {
  std::string missing = rollgate::hosttest::missingPrerequisites({"unshare", "chroot", "dpkg-deb"});
  if (missing.empty()) {
    missing = missingKeygen();
  }
  if (!rollgate::testing::requireOrSkip(missing)) {
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(kBaseRoot + "/usr/bin/dpkg"),
                  "no Debian root at " << kBaseRoot << " (the debian_root fixture makes it)");
  rollgate::hosttest::TempDir dir(std::string(ROLLGATE_BINARY_DIR) + "/test-roots", "deb-cycle");
  const std::string root = dir.path() + "/root";
  REQUIRE(rollgate::hosttest::copyTree(kBaseRoot, root));
  REQUIRE(rollgate::hosttest::copyTree(kPackages, root + "/tmp/packages"));
  const Host host(root);

  // --- fresh install of the old build ---
  const std::string installOld = host.must(
      "dpkg -i /tmp/packages/old/rollgate-agent_*.deb /tmp/packages/old/rollgate-coordinator_*.deb"
      " </dev/null 2>&1");
  CHECK(host.must("dpkg-query -W -f='${Version}' rollgate-agent") == "0.0.0-1");
  CHECK(host.must("dpkg-query -W -f='${Version}' rollgate-coordinator") == "0.0.0-1");

  // The system user.
  const std::string user = host.must("getent passwd rollgate");
  CHECK(user.find(":/var/lib/rollgate:/usr/sbin/nologin") != std::string::npos);
  CHECK(std::stoi(host.must("id -u rollgate")) < 1000);

  // Directories and keys, with their owners and modes.
  CHECK(host.must("stat -c '%U:%G %a' /var/lib/rollgate") == "rollgate:rollgate 700");
  CHECK(host.must("stat -c '%U:%G %a' /var/lib/rollgate/agent") == "root:root 700");
  CHECK(host.must("stat -c '%U:%G %a' /etc/rollgate/agents.d") == "rollgate:rollgate 755");
  CHECK(host.must("stat -c '%U:%G %a' /etc/rollgate/coordinator.key") == "rollgate:rollgate 600");
  CHECK(host.must("stat -c '%a' /etc/rollgate/admin.key") == "600");
  CHECK(host.must("stat -c '%a' /etc/rollgate/agent.key") == "600");
  const std::string coordinatorPub = host.file("/etc/rollgate/coordinator.pub");
  const std::string adminPub = host.file("/etc/rollgate/admin.pub");
  const std::string agentPub = host.file("/etc/rollgate/agent.pub");
  const std::string agentKey = host.file("/etc/rollgate/agent.key");
  CHECK(trimmed(coordinatorPub).size() == 40);
  CHECK(trimmed(adminPub).size() == 40);
  CHECK(trimmed(agentPub).size() == 40);
  CHECK(coordinatorPub != adminPub);
  CHECK(host.file("/etc/rollgate/admins.d/admin.pub") == adminPub);

  // Units installed and enabled (no systemd runs in the root, so nothing is started).
  CHECK(host.exists("/usr/lib/systemd/system/rollgate-coordinator.service"));
  CHECK(host.exists("/etc/systemd/system/multi-user.target.wants/rollgate-coordinator.service"));
  CHECK(host.exists("/etc/systemd/system/multi-user.target.wants/rollgate-agent.service"));
  // The binaries run in a clean system (all shared libraries resolved by the Depends).
  CHECK(host.run("ldd /usr/bin/rollgate /usr/bin/rollgate-agent /usr/bin/rollgate-coordinator "
                 "| grep 'not found'")
            .exitCode != 0);

  // --- re-running the maintainer scripts changes nothing ---
  host.must("dpkg -i /tmp/packages/old/rollgate-agent_*.deb /tmp/packages/old/rollgate-coordinator_*.deb"
            " </dev/null 2>&1");
  CHECK(host.file("/etc/rollgate/coordinator.pub") == coordinatorPub);
  CHECK(host.file("/etc/rollgate/admin.pub") == adminPub);
  CHECK(host.file("/etc/rollgate/agent.key") == agentKey);

  // --- the operator edits the configs, the coordinator has state ---
  host.must("printf '# edited by the operator\\n' >> /etc/rollgate/agent.toml");
  host.must("sed -i 's/7401/7411/' /etc/rollgate/coordinator.toml");
  host.must("echo state > /var/lib/rollgate/coordinator.db && chown rollgate: /var/lib/rollgate/coordinator.db");
  host.must("echo enrolled > /etc/rollgate/agents.d/web-1.pub");
  const std::string editedAgentConfig = host.file("/etc/rollgate/agent.toml");
  const std::string editedCoordinatorConfig = host.file("/etc/rollgate/coordinator.toml");

  // --- upgrade to the current build (stdin closed: a conffile prompt would fail the upgrade) ---
  host.must("dpkg -i /tmp/packages/current/rollgate-agent_*.deb "
            "/tmp/packages/current/rollgate-coordinator_*.deb </dev/null 2>&1");
  const std::string currentVersion = trimmed(
      runShell("dpkg-deb -f " + kPackages + "/current/rollgate-agent_*.deb Version").output);
  CHECK(currentVersion != "0.0.0-1");
  CHECK(host.must("dpkg-query -W -f='${Version}' rollgate-agent") == currentVersion);
  CHECK(host.must("dpkg-query -W -f='${Version}' rollgate-coordinator") == currentVersion);
  CHECK(host.file("/etc/rollgate/agent.toml") == editedAgentConfig);
  CHECK(host.file("/etc/rollgate/coordinator.toml") == editedCoordinatorConfig);
  CHECK_FALSE(host.exists("/etc/rollgate/agent.toml.dpkg-dist"));
  CHECK(host.file("/etc/rollgate/coordinator.pub") == coordinatorPub);
  CHECK(host.file("/etc/rollgate/agent.key") == agentKey);
  CHECK(host.file("/var/lib/rollgate/coordinator.db") == "state\n");
  CHECK(host.file("/etc/rollgate/agents.d/web-1.pub") == "enrolled\n");

  // --- remove keeps configuration and state; purge removes everything the packages made ---
  host.must("dpkg --remove rollgate-agent rollgate-coordinator </dev/null 2>&1");
  CHECK_FALSE(host.exists("/usr/bin/rollgate-coordinator"));
  CHECK(host.exists("/etc/rollgate/coordinator.key"));
  CHECK(host.exists("/var/lib/rollgate/coordinator.db"));
  host.must("dpkg --purge rollgate-agent rollgate-coordinator </dev/null 2>&1");
  for (const char* path :
       {"/etc/rollgate", "/var/lib/rollgate", "/usr/bin/rollgate", "/usr/bin/rollgate-agent",
        "/usr/lib/systemd/system/rollgate-agent.service",
        "/etc/systemd/system/multi-user.target.wants/rollgate-coordinator.service",
        "/etc/systemd/system/multi-user.target.wants/rollgate-agent.service",
        "/usr/share/doc/rollgate-agent"}) {
    CHECK_MESSAGE(!host.exists(path), path << " still exists after purge");
  }
  CHECK(host.run("dpkg-query -W -f='${Status}' rollgate-agent 2>&1 | grep -q 'installed'")
            .exitCode != 0);

  // --- a fresh install after purge makes new keys ---
  host.must("dpkg -i /tmp/packages/current/rollgate-coordinator_*.deb </dev/null 2>&1");
  CHECK(host.file("/etc/rollgate/coordinator.pub").size() == 41);
  CHECK(host.file("/etc/rollgate/coordinator.pub") != coordinatorPub);
  CHECK(host.file("/etc/rollgate/coordinator.toml") != editedCoordinatorConfig);
  (void)installOld;
}

TEST_CASE("rpm: scriptlets install, upgrade and erase (rpm --root into the Debian root)") {
  // No rpm-based root is available here, so the .rpms go into a copy of the Debian root with
  // `rpm --root --nodeps` (the libraries they link are there, from the Debian packages): this
  // runs the real %post/%preun/%postun scriptlets chrooted into it.
  std::string missing =
      rollgate::hosttest::missingPrerequisites({"unshare", "chroot", "rpm"});
  if (missing.empty()) {
    missing = missingKeygen();
  }
  if (!rollgate::testing::requireOrSkip(missing)) {
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(kBaseRoot + "/usr/bin/dpkg"),
                  "no Debian root at " << kBaseRoot << " (the debian_root fixture makes it)");
  rollgate::hosttest::TempDir dir(std::string(ROLLGATE_BINARY_DIR) + "/test-roots", "rpm-cycle");
  const std::string root = dir.path() + "/root";
  REQUIRE(rollgate::hosttest::copyTree(kBaseRoot, root));
  const Host host(root);
  auto rpm = [&](const std::string& args) {
    const auto result = rollgate::hosttest::runWithRootMounts(
        root, "rpm --root " + quoteShell(root) + " --dbpath /var/lib/rpm " + args);
    INFO("rpm " << args << "\n" << result.output);
    REQUIRE(result.exitCode == 0);
    return trimmed(result.output);
  };
  rpm("--initdb");
  const std::string old = kPackages + "/old/";
  const std::string current = kPackages + "/current/";
  rpm("-i --nodeps " + old + "rollgate-agent-0.0.0-1.*.rpm " + old +
      "rollgate-coordinator-0.0.0-1.*.rpm");
  CHECK(rpm("-q --qf '%{VERSION}-%{RELEASE}' rollgate-agent") == "0.0.0-1");
  CHECK(host.must("getent passwd rollgate").find(":/var/lib/rollgate:/usr/sbin/nologin") !=
        std::string::npos);
  CHECK(host.must("stat -c '%U:%G %a' /etc/rollgate/coordinator.key") == "rollgate:rollgate 600");
  CHECK(host.must("stat -c '%U:%G %a' /etc/rollgate/agents.d") == "rollgate:rollgate 755");
  CHECK(host.must("stat -c '%U:%G %a' /var/lib/rollgate") == "rollgate:rollgate 700");
  CHECK(host.must("stat -c '%a' /etc/rollgate/agent.key") == "600");
  CHECK(host.file("/etc/rollgate/admins.d/admin.pub") == host.file("/etc/rollgate/admin.pub"));
  const std::string coordinatorPub = host.file("/etc/rollgate/coordinator.pub");
  const std::string agentKey = host.file("/etc/rollgate/agent.key");
  CHECK(trimmed(coordinatorPub).size() == 40);

  host.must("printf '# edited by the operator\\n' >> /etc/rollgate/agent.toml");
  const std::string editedAgentConfig = host.file("/etc/rollgate/agent.toml");
  rpm("-U --nodeps " + current + "rollgate-agent-*.rpm " + current + "rollgate-coordinator-*.rpm");
  CHECK(rpm("-q --qf '%{VERSION}' rollgate-agent") != "0.0.0");
  CHECK(host.file("/etc/rollgate/agent.toml") == editedAgentConfig);
  CHECK_FALSE(host.exists("/etc/rollgate/agent.toml.rpmnew"));
  CHECK(host.file("/etc/rollgate/coordinator.pub") == coordinatorPub);
  CHECK(host.file("/etc/rollgate/agent.key") == agentKey);

  rpm("-e rollgate-agent rollgate-coordinator");
  CHECK_FALSE(host.exists("/usr/bin/rollgate-agent"));
  CHECK_FALSE(host.exists("/usr/lib/systemd/system/rollgate-coordinator.service"));
  // rpm has no purge: the edited config is saved, keys and state stay (see postun.sh).
  CHECK(host.file("/etc/rollgate/agent.toml.rpmsave") == editedAgentConfig);
  CHECK(host.file("/etc/rollgate/coordinator.pub") == coordinatorPub);
}
