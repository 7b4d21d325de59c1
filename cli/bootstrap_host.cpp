#include "cli/bootstrap_host.h"


#include <array>
#include <fstream>
#include <sstream>

#include "common/keys.h"
#include "common/sha256.h"

namespace rollgate::cli {
namespace {

constexpr const char* kHeredocEnd = "ROLLGATE_BOOTSTRAP_EOF";

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string lastLines(const std::string& text, size_t count) {
  auto lines = splitLines(text);
  std::string joined;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      continue;
    }
    joined += (joined.empty() ? "" : " | ") + lines[i];
  }
  return joined.empty() ? "(no output)" : joined;
}

Result<std::string> packageSha256Hex(const std::string& path) {
  auto digest = sha256File(path);
  if (!digest) return makeError("package '" + path + "': " + digest.error().message);
  return toHex(*digest);
}

// Shell for uploading the package and installing it unless that exact version is installed.
// Prints "unchanged PACKAGE VERSION" or "installed PACKAGE VERSION"; installer chatter goes to
// stderr.
std::string installScript(bool deb, const std::string& sha256) {
  std::string s =
      "set -e\n"
      "d=$(mktemp -d /var/tmp/rollgate-bootstrap.XXXXXX)\n"
      "trap 'rm -rf \"$d\"' EXIT\n";
  s += deb ? "f=\"$d/rollgate-agent.deb\"\n" : "f=\"$d/rollgate-agent.rpm\"\n";
  s += "cat > \"$f\"\n"
       "sum=$(sha256sum \"$f\" | cut -d' ' -f1)\n"
       "if [ \"$sum\" != " + shellQuote(sha256) + " ]; then\n"
       "  echo \"upload damaged: sha256 on the host is $sum\" >&2; exit 3\n"
       "fi\n";
  if (deb) {
    s += "pkg=$(dpkg-deb -f \"$f\" Package)\n"
         "new=$(dpkg-deb -f \"$f\" Version)\n"
         "old=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' \"$pkg\" 2>/dev/null || true)\n"
         "if [ \"$old\" = \"ii $new\" ]; then echo \"unchanged $pkg $new\"; exit 0; fi\n"
         "export DEBIAN_FRONTEND=noninteractive\n"
         "if command -v apt-get >/dev/null 2>&1; then\n"
         "  apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef "
         "-o Dpkg::Options::=--force-confold \"$f\" >&2\n"
         "else\n"
         "  dpkg --force-confdef --force-confold -i \"$f\" >&2\n"
         "fi\n";
  } else {
    s += "pkg=$(rpm -qp --qf '%{NAME}' \"$f\")\n"
         "new=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' \"$f\")\n"
         "old=$(rpm -q --qf '%{VERSION}-%{RELEASE}' \"$pkg\" 2>/dev/null || true)\n"
         "if [ \"$old\" = \"$new\" ]; then echo \"unchanged $pkg $new\"; exit 0; fi\n"
         "if command -v dnf >/dev/null 2>&1; then dnf install -y \"$f\" >&2\n"
         "elif command -v yum >/dev/null 2>&1; then yum install -y \"$f\" >&2\n"
         "elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install \"$f\" >&2\n"
         "else rpm -U \"$f\" >&2\n"
         "fi\n";
  }
  s += "echo \"installed $pkg $new\"\n";
  return s;
}

// Shell that writes the coordinator's key and agent.toml where they differ and makes sure the
// agent has a key. Prints "changed X" / "unchanged X" / "kept config" lines and "pub KEY".
std::string configureScript(const std::string& configText, const std::string& coordinatorKey,
                            bool overwriteConfig) {
  std::string s =
      "set -e\n"
      "umask 022\n"
      "install -d -m 0755 /etc/rollgate\n"
      "want=" + shellQuote(coordinatorKey) + "\n"
      "have=$(cat /etc/rollgate/coordinator.pub 2>/dev/null || true)\n"
      "if [ \"$have\" = \"$want\" ]; then echo 'unchanged coordinator-key'; else\n"
      "  printf '%s\\n' \"$want\" > /etc/rollgate/coordinator.pub.rollgate-new\n"
      "  mv /etc/rollgate/coordinator.pub.rollgate-new /etc/rollgate/coordinator.pub\n"
      "  echo 'changed coordinator-key'\n"
      "fi\n"
      "f=/etc/rollgate/agent.toml\n"
      "cat > \"$f.rollgate-new\" <<'" + std::string(kHeredocEnd) + "'\n" + configText +
      kHeredocEnd + "\n"
      "if [ -f \"$f\" ] && [ \"$(cat \"$f\")\" = \"$(cat \"$f.rollgate-new\")\" ]; then\n"
      "  rm -f \"$f.rollgate-new\"; echo 'unchanged config'\n"
      "elif [ ! -f \"$f\" ] || ! grep -Eq '^[[:space:]]*coordinator[[:space:]]*=' \"$f\" || [ " +
      (overwriteConfig ? "1" : "0") + " = 1 ]; then\n"
      "  mv \"$f.rollgate-new\" \"$f\"; echo 'changed config'\n"
      "else\n"
      "  rm -f \"$f.rollgate-new\"; echo 'kept config'\n"
      "fi\n"
      "if [ ! -s /etc/rollgate/agent.pub ]; then\n"
      "  rollgate-agent keygen --out /etc/rollgate/agent --if-missing >&2\n"
      "  echo 'changed key'\n"
      "else echo 'unchanged key'; fi\n"
      "echo \"pub $(cat /etc/rollgate/agent.pub)\"\n";
  return s;
}

// Shell that enables and (re)starts the agent where systemd runs. Prints "changed X" lines, or
// "nosystemd".
std::string startScript(bool restart) {
  std::string s =
      "set -e\n"
      "if [ ! -d /run/systemd/system ]; then echo nosystemd; exit 0; fi\n"
      "u=rollgate-agent.service\n"
      "if ! systemctl is-enabled --quiet \"$u\"; then systemctl enable --quiet \"$u\"; "
      "echo 'changed enabled'; fi\n";
  if (restart) {
    s += "if systemctl is-active --quiet \"$u\"; then systemctl restart \"$u\"; "
         "echo 'changed restarted'; else systemctl start \"$u\"; echo 'changed started'; fi\n";
  } else {
    s += "if ! systemctl is-active --quiet \"$u\"; then systemctl start \"$u\"; "
         "echo 'changed started'; fi\n";
  }
  s += "if ! systemctl is-active --quiet \"$u\"; then\n"
       "  journalctl -u \"$u\" -n 5 --no-pager -o cat >&2 || true\n"
       "  echo \"$u is not active\" >&2; exit 4\n"
       "fi\n";
  return s;
}

}  // namespace

Status checkHostField(const std::string& what, const std::string& value) {
  if (value.empty() || value.size() > 64) {
    return makeError(what + " '" + value + "': expected 1 to 64 characters");
  }
  for (const char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return makeError(what + " '" + value + "': only letters, digits, '.', '_' and '-' allowed");
    }
  }
  return {};
}

std::string agentConfigText(const BootstrapHost& host, const BootstrapSettings& settings) {
  std::string text = std::string(kBootstrapConfigMarker) + " for host " + host.name + ".\n";
  text +=
      "# Edit freely: a later bootstrap keeps an edited file (unless --overwrite-config), and the\n"
      "# package never overwrites it. Services go in [[service]] tables (see the package's README).\n"
      "\n"
      "[agent]\n";
  text += "host = \"" + host.name + "\"\n";
  text += "region = \"" + host.region + "\"\n";
  text += "cluster = \"" + host.cluster + "\"\n";
  text += "coordinator = \"" + settings.coordinatorEndpoint + "\"\n";
  text += "broadcast = \"" + settings.broadcastEndpoint + "\"\n";
  text +=
      "coordinator_key = \"/etc/rollgate/coordinator.pub\"\n"
      "key = \"/etc/rollgate/agent.key\"\n"
      "state_dir = \"/var/lib/rollgate/agent\"\n"
      "systemd = \"system\"\n";
  return text;
}

Result<std::vector<BootstrapHost>> parseHostsFile(const std::string& text,
                                                  const std::string& sourceName,
                                                  const BootstrapHost& defaults) {
  std::vector<BootstrapHost> hosts;
  const auto lines = splitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = sourceName + ":" + std::to_string(i + 1);
    std::string line = lines[i];
    if (const auto hash = line.find('#'); hash != std::string::npos) {
      line.resize(hash);
    }
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string word; words >> word;) {
      fields.push_back(word);
    }
    if (fields.empty()) {
      continue;
    }
    BootstrapHost host = defaults;
    host.sshTarget = fields[0];
    host.name.clear();
    auto target = parseSshTarget(host.sshTarget);
    if (!target) {
      return makeError(where + ": " + target.error().message);
    }
    for (size_t f = 1; f < fields.size(); ++f) {
      const std::string& field = fields[f];
      if (field.rfind("region=", 0) == 0) {
        host.region = field.substr(7);
      } else if (field.rfind("cluster=", 0) == 0) {
        host.cluster = field.substr(8);
      } else if (field.rfind("name=", 0) == 0) {
        host.name = field.substr(5);
      } else if (f == 1 && field.find('=') == std::string::npos) {
        host.name = field;
      } else {
        return makeError(where + ": unexpected '" + field +
                         "' (expected TARGET [NAME] [region=R] [cluster=C])");
      }
    }
    if (host.name.empty()) {
      host.name = target->host;
    }
    for (const auto& [what, value] : {std::pair{"name", host.name},
                                      std::pair{"region", host.region},
                                      std::pair{"cluster", host.cluster}}) {
      if (auto st = checkHostField(what, value); !st) {
        return makeError(where + ": " + st.error().message);
      }
    }
    for (const auto& other : hosts) {
      if (other.name == host.name) {
        return makeError(where + ": host name '" + host.name + "' appears twice");
      }
    }
    hosts.push_back(std::move(host));
  }
  if (hosts.empty()) {
    return makeError(sourceName + ": no hosts");
  }
  return hosts;
}

BootstrapReport bootstrapHost(const BootstrapHost& host, const BootstrapSettings& settings,
                              const EnrollFunction& enroll) {
  BootstrapReport report;
  report.name = host.name;
  report.target = host.sshTarget;
  auto fail = [&report](std::string why) {
    report.ok = false;
    report.error = std::move(why);
    return report;
  };

  const bool deb = endsWith(settings.packageFile, ".deb");
  if (!deb && !endsWith(settings.packageFile, ".rpm")) {
    return fail("package '" + settings.packageFile + "': expected a .deb or .rpm file");
  }
  auto sha256 = packageSha256Hex(settings.packageFile);
  if (!sha256) {
    return fail(sha256.error().message);
  }
  auto target = parseSshTarget(host.sshTarget);
  if (!target) {
    return fail(target.error().message);
  }
  SshOptions ssh = settings.ssh;
  ssh.target = *target;
  auto connected = SshSession::connect(ssh);
  if (!connected) {
    return fail(connected.error().message);
  }
  SshSession& session = **connected;
  if (session.hostKeyAdded()) {
    report.changes.push_back("host key " + session.hostKeyFingerprint() + " added to known_hosts");
  }

  // 1. What kind of host is this?
  auto probe = session.run(
      "id -u; for c in dpkg rpm; do command -v $c >/dev/null 2>&1 && echo has-$c; done; true");
  if (!probe) {
    return fail(probe.error().message);
  }
  const auto probeLines = splitLines(probe->out);
  if (probeLines.empty() || probeLines[0] != "0") {
    return fail("must log in as root (remote uid is '" +
                (probeLines.empty() ? std::string("?") : probeLines[0]) + "')");
  }
  const std::string needed = deb ? "has-dpkg" : "has-rpm";
  if (probe->out.find(needed) == std::string::npos) {
    return fail(std::string("package is a ") + (deb ? ".deb" : ".rpm") + " but the host has no " +
                (deb ? "dpkg" : "rpm"));
  }

  // 2. Package.
  std::ifstream package(settings.packageFile, std::ios::binary);
  if (!package) {
    return fail("package '" + settings.packageFile + "': cannot open");
  }
  auto installed = session.run(installScript(deb, *sha256), &package);
  if (!installed) {
    return fail(installed.error().message);
  }
  if (installed->exitStatus != 0) {
    return fail("installing the package failed (exit " + std::to_string(installed->exitStatus) +
                "): " + lastLines(installed->err, 3));
  }
  const auto installLines = splitLines(installed->out);
  const std::string installResult = installLines.empty() ? "" : installLines.back();
  bool restart = false;
  if (installResult.rfind("installed ", 0) == 0) {
    report.changes.push_back("package " + installResult.substr(10) + " installed");
    restart = true;
  } else if (installResult.rfind("unchanged ", 0) != 0) {
    return fail("unexpected answer from the install step: '" + installResult + "'");
  }

  // 3. Configuration and key.
  auto configured = session.run(configureScript(agentConfigText(host, settings),
                                                settings.coordinatorPublicKey,
                                                settings.overwriteConfig));
  if (!configured) {
    return fail(configured.error().message);
  }
  if (configured->exitStatus != 0) {
    return fail("writing the configuration failed (exit " +
                std::to_string(configured->exitStatus) + "): " + lastLines(configured->err, 3));
  }
  std::string agentKey;
  for (const auto& line : splitLines(configured->out)) {
    if (line == "changed coordinator-key") {
      report.changes.push_back("coordinator key written");
      restart = true;
    } else if (line == "changed config") {
      report.changes.push_back("agent.toml written");
      restart = true;
    } else if (line == "kept config") {
      report.notes.push_back(
          "agent.toml was edited on the host and differs; kept it (--overwrite-config replaces it)");
    } else if (line == "changed key") {
      report.changes.push_back("agent key generated");
      restart = true;
    } else if (line.rfind("pub ", 0) == 0) {
      agentKey = line.substr(4);
    }
  }
  if (!isValidZ85Key(agentKey)) {
    return fail("/etc/rollgate/agent.pub on the host is not a Z85 public key: '" + agentKey + "'");
  }

  // 4. Enroll (before starting the agent, so its first hello is accepted).
  if (auto st = enroll(host.name, agentKey); !st) {
    return fail("enrolling with the coordinator failed: " + st.error().message);
  }
  report.notes.push_back("key enrolled as '" + host.name + "'");

  // 5. Start.
  auto started = session.run(startScript(restart));
  if (!started) {
    return fail(started.error().message);
  }
  if (started->exitStatus != 0) {
    return fail("starting rollgate-agent failed: " + lastLines(started->err, 6));
  }
  for (const auto& line : splitLines(started->out)) {
    if (line == "nosystemd") {
      report.notes.push_back("systemd is not running on the host; agent not started");
    } else if (line.rfind("changed ", 0) == 0) {
      report.changes.push_back("agent " + line.substr(8));
    }
  }
  report.ok = true;
  return report;
}

}  // namespace rollgate::cli
