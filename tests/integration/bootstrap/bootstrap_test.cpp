// `rollgate bootstrap` against a real sshd on a loopback port whose root sessions are chrooted
// into a copy of a clean Debian 12 root (fixture debian_root), with a real coordinator
// (LocalFleet) to enroll with. Asserts what an operator sees and what lands on the host:
//   - an unknown host key is refused without --accept-new-host-key, and nothing is installed;
//   - with it: the package is installed, agent.toml and the coordinator key are written, the
//     host's key is enrolled at the coordinator, the agent installed this way then connects;
//   - a second run changes nothing (same files, same dpkg state, "no changes");
//   - --hosts runs several hosts and reports each, failing if one failed;
//   - a changed host key is refused even with --accept-new-host-key.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/support/fleet/fleet.h"
#include "tests/support/skip.h"
#include "tests/support/sshd/test_host.h"

namespace {

namespace host = rollgate::hosttest;
using host::quoteShell;

const std::string kPackages = std::string(ROLLGATE_BINARY_DIR) + "/test-packages/current";
const std::string kBaseRoot = std::string(ROLLGATE_BINARY_DIR) + "/test-roots/debian12";

std::string agentDeb() {
  for (const auto& entry : std::filesystem::directory_iterator(kPackages)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("rollgate-agent_", 0) == 0 && entry.path().extension() == ".deb") {
      return entry.path().string();
    }
  }
  return {};
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// Modification and change times (ns) plus size of each file: any write or chmod shows.
std::string snapshot(const std::string& root) {
  std::string out;
  for (const char* path : {"/etc/rollgate/agent.toml", "/etc/rollgate/agent.key",
                           "/etc/rollgate/agent.pub", "/etc/rollgate/coordinator.pub",
                           "/var/lib/dpkg/status", "/usr/bin/rollgate-agent",
                           "/etc/systemd/system/multi-user.target.wants/rollgate-agent.service"}) {
    struct stat st {};
    if (lstat((root + path).c_str(), &st) != 0) {
      out += std::string(path) + " missing\n";
      continue;
    }
    out += std::string(path) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ctim.tv_sec) + "." +
           std::to_string(st.st_ctim.tv_nsec) + " " + std::to_string(st.st_size) + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("bootstrap over SSH: host key checks, install, enroll, idempotent rerun") {
  std::string missing = host::missingPrerequisites({"unshare", "chroot", "ssh-keygen", "/usr/sbin/sshd"});
  if (missing.empty() && !std::filesystem::exists(kBaseRoot + "/usr/bin/dpkg")) {
    missing = "the Debian root at " + kBaseRoot + " (fixture debian_root)";
  }
  if (!rollgate::testing::requireOrSkip(missing)) {
    return;
  }
  const std::string deb = agentDeb();
  REQUIRE_MESSAGE(!deb.empty(), "no rollgate-agent .deb in " << kPackages);

  // The coordinator.
  rollgate::testing::LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE_MESSAGE(fleet.waitForCoordinator(), rollgate::testing::readFile(fleet.coordinatorLog()));

  // The host: a copy of the clean root, reachable as root@127.0.0.1:PORT with a key.
  host::TempDir dir(std::string(ROLLGATE_BINARY_DIR) + "/test-roots", "bootstrap");
  const std::string root = dir.path() + "/root";
  REQUIRE(host::copyTree(kBaseRoot, root));
  const std::string clientKey = dir.path() + "/id_ed25519";
  REQUIRE(host::runShell("ssh-keygen -q -t ed25519 -N '' -C operator -f " + quoteShell(clientKey))
              .exitCode == 0);
  const std::string authorizedKeys = dir.path() + "/authorized_keys";
  REQUIRE(host::writeFileText(authorizedKeys, host::readFileText(clientKey + ".pub"), 0600));
  std::filesystem::create_directories(dir.path() + "/sshd-a");
  auto sshd = host::SshServer::start(root, authorizedKeys, dir.path() + "/sshd-a");
  REQUIRE_MESSAGE(sshd, (sshd ? "" : sshd.error().message));
  const int port = (*sshd)->port();
  const std::string knownHosts = dir.path() + "/known_hosts";
  const std::string target = "root@127.0.0.1:" + std::to_string(port);

  auto bootstrap = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"bootstrap",   "--ssh",         target,
                                  "--identity",  clientKey,       "--known-hosts",
                                  knownHosts,    "--package",     deb,
                                  "--region",    "eu-west",       "--cluster",
                                  "eu-west-a",   "--name",        "web-1",
                                  "--coordinator",
                                  "tcp://127.0.0.1:" + std::to_string(fleet.agentPort())};
    args.insert(args.end(), extra.begin(), extra.end());
    return fleet.cli(args);
  };
  const std::string enrolledKeyFile = fleet.dir().file("agents.d/web-1.pub");

  // 1. Unknown host key, no --accept-new-host-key: refused, nothing happens on the host.
  {
    const auto refused = bootstrap({});
    INFO(refused.out << refused.err);
    CHECK(refused.exitCode != 0);
    CHECK(refused.out.find("web-1") != std::string::npos);
    CHECK(refused.out.find("FAILED") != std::string::npos);
    CHECK(refused.out.find("--accept-new-host-key") != std::string::npos);
    CHECK(refused.out.find("SHA256:") != std::string::npos);
    CHECK(trimmed(host::readFileText(knownHosts)).empty());
    CHECK_FALSE(std::filesystem::exists(root + "/usr/bin/rollgate-agent"));
    CHECK_FALSE(std::filesystem::exists(enrolledKeyFile));
  }

  // 2. Accepting the new key: installed, configured, enrolled.
  {
    const auto first = bootstrap({"--accept-new-host-key"});
    INFO(first.out << first.err);
    REQUIRE(first.exitCode == 0);
    CHECK(first.out.find("web-1  ok") != std::string::npos);
    CHECK(first.out.find("package rollgate-agent") != std::string::npos);
    CHECK(first.out.find("agent.toml written") != std::string::npos);
    CHECK(first.out.find("systemd is not running on the host; agent not started") !=
          std::string::npos);
    CHECK(first.out.find("1 of 1 hosts bootstrapped") != std::string::npos);
  }
  const std::string hostKeyBase64 =
      (*sshd)->hostKeyPublic().substr((*sshd)->hostKeyPublic().find(' ') + 1);
  CHECK(host::readFileText(knownHosts).find(hostKeyBase64) != std::string::npos);
  const std::string expectedVersion =
      trimmed(host::runShell("dpkg-deb -f " + quoteShell(deb) + " Version").output);
  CHECK(trimmed(host::runInRoot(root, "dpkg-query -W -f='${Status} ${Version}' rollgate-agent")
                    .output) == "install ok installed " + expectedVersion);
  const std::string config = host::readFileText(root + "/etc/rollgate/agent.toml");
  CHECK(config.find("region = \"eu-west\"") != std::string::npos);
  CHECK(config.find("cluster = \"eu-west-a\"") != std::string::npos);
  CHECK(config.find("coordinator = \"tcp://127.0.0.1:" + std::to_string(fleet.agentPort()) +
                    "\"") != std::string::npos);
  CHECK(trimmed(host::readFileText(root + "/etc/rollgate/coordinator.pub")) ==
        fleet.coordinatorPublicKey());
  const std::string agentPub = trimmed(host::readFileText(root + "/etc/rollgate/agent.pub"));
  CHECK(agentPub.size() == 40);
  // Enrolled at the coordinator under the given name, with the key generated on the host.
  CHECK(trimmed(host::readFileText(enrolledKeyFile)) == agentPub);
  // No upload left behind.
  CHECK(host::runShell("ls " + quoteShell(root + "/var/tmp") + " | grep -c rollgate-bootstrap")
            .output == "0\n");

  // 3. A second run changes nothing.
  {
    const std::string before = snapshot(root);
    const std::string knownBefore = host::readFileText(knownHosts);
    const std::string enrolledBefore = snapshot(fleet.dir().path());
    struct stat enrolledStat {};
    REQUIRE(stat(enrolledKeyFile.c_str(), &enrolledStat) == 0);
    const auto second = bootstrap({});
    INFO(second.out << second.err);
    REQUIRE(second.exitCode == 0);
    CHECK(second.out.find("web-1  ok      no changes") != std::string::npos);
    CHECK(snapshot(root) == before);
    CHECK(host::readFileText(knownHosts) == knownBefore);
    struct stat enrolledAfter {};
    REQUIRE(stat(enrolledKeyFile.c_str(), &enrolledAfter) == 0);
    CHECK(enrolledAfter.st_mtim.tv_nsec == enrolledStat.st_mtim.tv_nsec);
    CHECK(enrolledAfter.st_mtim.tv_sec == enrolledStat.st_mtim.tv_sec);
  }

  // 4. An operator's edit to agent.toml survives a rerun with other settings.
  {
    REQUIRE(host::runInRoot(root, "echo '# tuned by hand' >> /etc/rollgate/agent.toml").exitCode ==
            0);
    const std::string edited = host::readFileText(root + "/etc/rollgate/agent.toml");
    const auto rerun = fleet.cli({"bootstrap", "--ssh", target, "--identity", clientKey,
                                  "--known-hosts", knownHosts, "--package", deb, "--region",
                                  "eu-central", "--cluster", "eu-central-a", "--name", "web-1",
                                  "--coordinator",
                                  "tcp://127.0.0.1:" + std::to_string(fleet.agentPort())});
    INFO(rerun.out << rerun.err);
    CHECK(rerun.exitCode == 0);
    CHECK(rerun.out.find("kept it") != std::string::npos);
    CHECK(host::readFileText(root + "/etc/rollgate/agent.toml") == edited);
  }

  // 5. Many hosts from a file: one good, one unreachable; each reported, the run fails.
  {
    const std::string hostsFile = dir.path() + "/hosts";
    const int closedPort = host::freeLoopbackPort();
    REQUIRE(host::writeFileText(hostsFile, "# fleet\n" + target + " web-1\nroot@127.0.0.1:" +
                                               std::to_string(closedPort) +
                                               " web-2 cluster=eu-west-b\n"));
    const auto many = fleet.cli({"bootstrap", "--hosts", hostsFile, "--identity", clientKey,
                                 "--known-hosts", knownHosts, "--package", deb, "--region",
                                 "eu-west", "--cluster", "eu-west-a", "--coordinator",
                                 "tcp://127.0.0.1:" + std::to_string(fleet.agentPort())});
    INFO(many.out << many.err);
    CHECK(many.exitCode != 0);
    CHECK(many.out.find("web-1  ok") != std::string::npos);
    CHECK(many.out.find("web-2  FAILED") != std::string::npos);
    CHECK(many.out.find("cannot connect") != std::string::npos);
    CHECK(many.out.find("1 of 2 hosts bootstrapped, 1 failed") != std::string::npos);
  }

  // 6. The agent installed by bootstrap, run with the written config and its enrolled key,
  //    is accepted by the coordinator.
  {
    auto agent = host::ChildProcess::spawn(
        {"/usr/bin/unshare", "--mount", "--propagation", "private", "--fork", "/bin/sh", "-c",
         "mount -t proc proc " + quoteShell(root + "/proc") + " && mount --rbind /dev " +
             quoteShell(root + "/dev") + " && exec chroot " +
             quoteShell(root) + " /usr/bin/rollgate-agent --config /etc/rollgate/agent.toml"},
        dir.path() + "/agent.log");
    REQUIRE(agent);
    const bool healthy = fleet.waitForHealthy({"web-1"}, std::chrono::seconds(30));
    CHECK_MESSAGE(healthy, host::readFileText(dir.path() + "/agent.log"));
    (*agent)->stop();
  }

  // 7. The host comes back with another key on the same address: refused, even when new keys
  //    would be accepted.
  {
    sshd.value().reset();
    std::filesystem::create_directories(dir.path() + "/sshd-b");
    auto imposter = host::SshServer::start(root, authorizedKeys, dir.path() + "/sshd-b", port);
    REQUIRE_MESSAGE(imposter, (imposter ? "" : imposter.error().message));
    const std::string before = snapshot(root);
    const std::string knownBefore = host::readFileText(knownHosts);
    const auto changed = bootstrap({"--accept-new-host-key"});
    INFO(changed.out << changed.err);
    CHECK(changed.exitCode != 0);
    CHECK(changed.out.find("host key CHANGED") != std::string::npos);
    CHECK(host::readFileText(knownHosts) == knownBefore);
    CHECK(snapshot(root) == before);
  }
}
