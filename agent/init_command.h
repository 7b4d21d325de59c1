// `rollgate-agent init`: a working agent.toml and the host's key pair in one directory, for a host
// set up by hand (`rollgate bootstrap` does the same over SSH). The [agent] table is complete;
// services are added as [[service]] tables (one is written when --service is given). Never
// overwrites a file. Returns the report to print: every path written and the commands to run next
// (enrol the public key with the coordinator, start the agent).
// Thread-safety: a plain function.
#pragma once

#include <string>

#include "common/result.h"

namespace rollgate::agent {

struct InitOptions {
  std::string dir = "/etc/rollgate";
  std::string host;            // required: the name the key is enrolled under
  std::string region;          // required
  std::string cluster;         // required
  std::string coordinator;     // required: tcp://HOST:7400
  std::string broadcast;       // default: the coordinator's host, port 7402
  std::string coordinatorKey;  // default: DIR/coordinator.pub
  std::string stateDir;        // default: /var/lib/rollgate/agent, or DIR/agent-state
  std::string systemd = "system";
  // One service, written when `service` is set.
  std::string service;
  std::string unit;         // default: SERVICE.service
  std::string installRoot;  // required with a service
  std::string accessLog;
  std::string accessLogFormat = "combined";
  std::string errorLog;
  std::string healthUrl;
  std::string restartCommand;  // with systemd = "none": one program, arguments split at spaces
};

Result<std::string> initAgent(const InitOptions& options);

}  // namespace rollgate::agent
