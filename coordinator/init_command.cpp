#include "coordinator/init_command.h"

#include "common/init_files.h"
#include "common/keys.h"
#include "common/sys/env.h"
#include "common/sys/private_files.h"
#include "coordinator/coordinator_config.h"

namespace rollgate::coordinator {

Result<std::string> initCoordinator(const InitOptions& options) {
  const std::string dir = absolutePath(options.dir);
  const std::string stateDir = absolutePath(
      !options.stateDir.empty() ? options.stateDir
                                : (dir == "/etc/rollgate" ? "/var/lib/rollgate" : dir + "/state"));
  const std::string config = dir + "/coordinator.toml";
  const std::string adminAllowed = dir + "/admins.d/admin.pub";
  if (auto s = refuseExisting({config, dir + "/coordinator.key", dir + "/coordinator.pub",
                               dir + "/admin.key", dir + "/admin.pub", adminAllowed},
                              "rollgate-coordinator init");
      !s) {
    return s.error();
  }
  std::string text =
      "# Written by rollgate-coordinator init. Every key is optional; see docs/setup.md.\n"
      "[coordinator]\n";
  auto add = [&text](const std::string& key, const std::string& value, const char* comment) {
    text += key + " = " + value + (*comment != '\0' ? std::string("  # ") + comment : "") + "\n";
  };
  add("agent_endpoint", tomlString(options.agentEndpoint), "agents connect here");
  add("admin_endpoint", tomlString(options.adminEndpoint), "the rollgate CLI");
  add("broadcast_endpoint", tomlString(options.broadcastEndpoint), "aborts and freezes, to agents");
  add("key", tomlString(dir + "/coordinator.key"), "");
  add("agents_dir", tomlString(dir + "/agents.d"), "enrolled agents: <host>.pub");
  add("admins_dir", tomlString(dir + "/admins.d"), "operators: <name>.pub");
  add("state_dir", tomlString(stateDir), "");
  add("window_seconds", std::to_string(options.windowSeconds),
      "the fleet's telemetry window: agents and plans follow it");
  // Check what we are about to write with the reader the daemon uses.
  if (auto parsed = parseCoordinatorConfig(text, config); !parsed) {
    return makeError("rollgate-coordinator init: " + parsed.error().message);
  }
  for (const auto& d : {dir, dir + "/agents.d", dir + "/admins.d", sys::parentDir(stateDir)}) {
    if (auto s = makeDirectories(d); !s) return s.error();
  }
  // The state directory is the daemon's alone: 0700 when init creates it, whatever the umask.
  if (auto s = sys::createPrivateDir(stateDir); !s) return s.error();
  if (auto s = writeKeyPair(dir + "/coordinator", generateCurveKeyPair(), false); !s) {
    return s.error();
  }
  CurveKeyPair admin = generateCurveKeyPair();
  if (auto s = writeKeyPair(dir + "/admin", admin, false); !s) return s.error();
  if (auto s = writeKeyFile(adminAllowed, admin.publicKey, 0644); !s) return s.error();
  if (auto s = writeNewFile(config, text, 0644); !s) return s.error();

  std::string report = "wrote " + config + "\n";
  report +=
      "wrote " + dir + "/coordinator.key (secret, mode 0600) and " + dir + "/coordinator.pub\n";
  report += "wrote " + dir + "/admin.key (operator secret, mode 0600) and " + dir +
            "/admin.pub, allowed as " + adminAllowed + "\n";
  report += "created " + dir + "/agents.d (enrolled agents) and " + stateDir + " (state)\n";
  report += "next: start the coordinator\n";
  report += "  rollgate-coordinator --config " + config + "\n";
  report += "then point the CLI at it\n";
  report += "  export ROLLGATE_ADMIN=" + options.adminEndpoint + " ROLLGATE_KEY=" + dir +
            "/admin.key ROLLGATE_COORDINATOR_KEY=" + dir + "/coordinator.pub\n";
  report += "and give every agent host " + dir +
            "/coordinator.pub (rollgate-agent init --coordinator-key)\n";
  return report;
}

}  // namespace rollgate::coordinator
