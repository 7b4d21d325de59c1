#include "coordinator/init_command.h"

#include "common/init_files.h"
#include "common/keys.h"
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
      "[coordinator]\n"
      "agent_endpoint = " + tomlString(options.agentEndpoint) + "      # agents connect here\n"
      "admin_endpoint = " + tomlString(options.adminEndpoint) + "     # the rollgate CLI\n"
      "broadcast_endpoint = " + tomlString(options.broadcastEndpoint) + "  # aborts and freezes, to every agent\n"
      "key = " + tomlString(dir + "/coordinator.key") + "\n"
      "agents_dir = " + tomlString(dir + "/agents.d") + "   # enrolled agents: <host>.pub\n"
      "admins_dir = " + tomlString(dir + "/admins.d") + "   # operators: <name>.pub\n"
      "state_dir = " + tomlString(stateDir) + "\n"
      "# The fleet's telemetry window: agents cut windows this long, plans follow it.\n"
      "window_seconds = " + std::to_string(options.windowSeconds) + "\n";
  // Check what we are about to write with the reader the daemon uses.
  if (auto parsed = parseCoordinatorConfig(text, config); !parsed) {
    return makeError("rollgate-coordinator init: " + parsed.error().message);
  }
  for (const auto& d : {dir, dir + "/agents.d", dir + "/admins.d", stateDir}) {
    if (auto s = makeDirectories(d); !s) return s.error();
  }
  if (auto s = writeKeyPair(dir + "/coordinator", generateCurveKeyPair(), false); !s) return s.error();
  CurveKeyPair admin = generateCurveKeyPair();
  if (auto s = writeKeyPair(dir + "/admin", admin, false); !s) return s.error();
  if (auto s = writeKeyFile(adminAllowed, admin.publicKey, 0644); !s) return s.error();
  if (auto s = writeNewFile(config, text, 0644); !s) return s.error();

  return "wrote " + config + "\n"
         "wrote " + dir + "/coordinator.key (secret, mode 0600) and " + dir + "/coordinator.pub\n"
         "wrote " + dir + "/admin.key (operator secret, mode 0600) and " + dir + "/admin.pub, "
         "allowed as " + adminAllowed + "\n"
         "created " + dir + "/agents.d (enrolled agents) and " + stateDir + " (state)\n"
         "next: start the coordinator\n"
         "  rollgate-coordinator --config " + config + "\n"
         "then point the CLI at it\n"
         "  export ROLLGATE_ADMIN=" + options.adminEndpoint + " ROLLGATE_KEY=" + dir + "/admin.key "
         "ROLLGATE_COORDINATOR_KEY=" + dir + "/coordinator.pub\n"
         "and give every agent host " + dir + "/coordinator.pub (rollgate-agent init --coordinator-key)\n";
}

}  // namespace rollgate::coordinator
