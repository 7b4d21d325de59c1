// `rollgate-coordinator init`: a working coordinator in one directory, without the package: the
// config (coordinator.toml), the coordinator's key pair, one operator key pair already in the
// operator allowlist (admins.d/admin.pub), an empty agent allowlist (agents.d/) and the state
// directory. Never overwrites a file. Returns the report to print: every path written and the
// commands to run next.
// Thread-safety: a plain function.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace rollgate::coordinator {

struct InitOptions {
  std::string dir = "/etc/rollgate";
  std::string stateDir;  // default: /var/lib/rollgate when dir is /etc/rollgate, else DIR/state
  std::string agentEndpoint = "tcp://0.0.0.0:7400";
  std::string adminEndpoint = "tcp://127.0.0.1:7401";
  std::string broadcastEndpoint = "tcp://0.0.0.0:7402";
  std::int64_t windowSeconds = 10;  // the fleet's telemetry window (agents and plans follow it)
};

Result<std::string> initCoordinator(const InitOptions& options);

}  // namespace rollgate::coordinator
