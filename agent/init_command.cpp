#include "agent/init_command.h"

#include <unistd.h>

#include <sstream>
#include <vector>

#include "agent/agent_config.h"
#include "common/init_files.h"
#include "common/keys.h"
#include "common/sys/env.h"
#include "common/sys/private_files.h"

namespace rollgate::agent {
namespace {

std::string tomlArray(const std::string& words) {
  std::istringstream in(words);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : ", ") + tomlString(word);
  return "[" + out + "]";
}

}  // namespace

Result<std::string> initAgent(const InitOptions& options) {
  const std::string dir = absolutePath(options.dir);
  const std::string config = dir + "/agent.toml";
  const std::string keyPrefix = dir + "/agent";
  const std::string coordinatorKey = absolutePath(
      options.coordinatorKey.empty() ? dir + "/coordinator.pub" : options.coordinatorKey);
  const std::string stateDir =
      absolutePath(!options.stateDir.empty() ? options.stateDir
                                             : (dir == "/etc/rollgate" ? "/var/lib/rollgate/agent"
                                                                       : dir + "/agent-state"));
  if (auto s =
          refuseExisting({config, keyPrefix + ".key", keyPrefix + ".pub"}, "rollgate-agent init");
      !s) {
    return s.error();
  }
  if (options.host.empty()) {
    return makeError(
        "rollgate-agent init: --host is required (the name to enrol this host's key under)");
  }
  if (!options.service.empty() && options.installRoot.empty()) {
    return makeError("rollgate-agent init: --install-root is required with --service " +
                     options.service);
  }
  std::string text =
      "# Written by rollgate-agent init; see docs/setup.md for every key.\n[agent]\n";
  auto add = [&text](const std::string& key, const std::string& value) {
    text += key + " = " + tomlString(value) + "\n";
  };
  add("host", options.host);
  add("region", options.region);
  add("cluster", options.cluster);
  add("coordinator", options.coordinator);
  if (!options.broadcast.empty()) add("broadcast", options.broadcast);
  add("coordinator_key", coordinatorKey);
  add("key", keyPrefix + ".key");
  add("state_dir", stateDir);
  add("systemd", options.systemd);
  text += "# The telemetry window is the coordinator's ([coordinator] window_seconds).\n";
  if (!options.service.empty()) {
    text += "\n[[service]]\n";
    add("name", options.service);
    if (!options.unit.empty()) add("unit", options.unit);
    add("install_root", absolutePath(options.installRoot));
    if (!options.accessLog.empty()) {
      add("access_log", absolutePath(options.accessLog));
      add("access_log_format", options.accessLogFormat);
    }
    if (!options.errorLog.empty()) add("error_log", absolutePath(options.errorLog));
    if (!options.healthUrl.empty()) add("health_url", options.healthUrl);
    if (!options.restartCommand.empty()) {
      text += "restart_command = " + tomlArray(options.restartCommand) + "\n";
    }
  } else {
    text +=
        "\n# [[service]]\n# name = \"web\"\n# unit = \"nginx.service\"\n"
        "# install_root = \"/srv/web\"\n# access_log = \"/var/log/nginx/access.log\"\n"
        "# health_url = \"http://127.0.0.1/health\"\n";
  }
  // The same reader as the daemon: a bad --region, --coordinator or service is refused here,
  // naming the key, before anything is written.
  if (auto parsed = parseAgentConfig(text, config); !parsed) {
    return makeError("rollgate-agent init: " + parsed.error().message);
  }
  for (const auto& d : {dir, sys::parentDir(stateDir)}) {
    if (auto s = makeDirectories(d); !s) return s.error();
  }
  // The state directory is the daemon's alone: 0700 when init creates it, whatever the umask.
  if (auto s = sys::createPrivateDir(stateDir); !s) return s.error();
  CurveKeyPair pair = generateCurveKeyPair();
  if (auto s = writeKeyPair(keyPrefix, pair, false); !s) return s.error();
  if (auto s = writeNewFile(config, text, 0644); !s) return s.error();
  std::string report = "wrote " + config + "\n";
  report += "wrote " + keyPrefix + ".key (secret, mode 0600) and " + keyPrefix + ".pub\n";
  report += "public key: " + pair.publicKey + "\n";
  if (options.service.empty()) report += "add a [[service]] table for each service it manages\n";
  if (::access(coordinatorKey.c_str(), R_OK) != 0) {
    report += "copy the coordinator's public key (coordinator.pub) to " + coordinatorKey + "\n";
  }
  report += "next: enrol the key with the coordinator (where the rollgate CLI runs)\n";
  report += "  rollgate hosts enroll " + options.host + " " + keyPrefix + ".pub\n";
  report += "then start the agent\n";
  report += "  rollgate-agent --config " + config + "\n";
  return report;
}

}  // namespace rollgate::agent
