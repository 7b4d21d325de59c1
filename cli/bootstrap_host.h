// Bootstrapping one host over SSH: upload and install the agent package, write agent.toml and
// the coordinator's public key, make sure the agent has a key, enroll that key with the
// coordinator and start the agent where systemd runs. Every step first looks at what is there
// and acts only on a difference, so a second run on the same host changes nothing.
// Also: the hosts file format and the agent.toml text (pure functions).
// Thread-safety: bootstrapHost() may run on several threads at once for different hosts; the
// enroll callback must then be safe to call concurrently (or serialize itself).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "cli/ssh_session.h"

namespace rollgate::cli {

// One host to bootstrap: where to reach it and how it is named and placed in the fleet.
struct BootstrapHost {
  std::string sshTarget;  // [USER@]HOST[:PORT]
  std::string name;       // enrolled name; defaults to the target's host part
  std::string region;
  std::string cluster;
};

// What all hosts of one run share.
struct BootstrapSettings {
  std::string packageFile;         // local .deb or .rpm of rollgate-agent
  std::string coordinatorEndpoint;  // as agents reach it, "tcp://10.0.0.1:7400"
  std::string broadcastEndpoint;    // "tcp://10.0.0.1:7402"
  std::string coordinatorPublicKey;  // Z85
  bool overwriteConfig = false;     // replace an agent.toml edited on the host
  SshOptions ssh;                   // target filled in per host
};

struct BootstrapReport {
  std::string name;
  std::string target;
  bool ok = false;
  std::vector<std::string> changes;  // what this run changed on the host or the coordinator
  std::vector<std::string> notes;    // things left alone on purpose, worth telling the operator
  std::string error;                 // why it failed (empty when ok)
};

// Enrolls `publicKeyZ85` under `name` with the coordinator.
using EnrollFunction = std::function<Status(const std::string& name, const std::string& key)>;

// Runs every step on one host; never throws for an expected failure (it is in the report).
BootstrapReport bootstrapHost(const BootstrapHost& host, const BootstrapSettings& settings,
                              const EnrollFunction& enroll);

// Parses a hosts file: one host per line, `TARGET [NAME] [region=R] [cluster=C]`; `#` starts a
// comment. Missing region/cluster come from `defaults`. Errors name the file and line.
Result<std::vector<BootstrapHost>> parseHostsFile(const std::string& text,
                                                  const std::string& sourceName,
                                                  const BootstrapHost& defaults);

// Checks a name, region or cluster: 1-64 characters of [A-Za-z0-9._-], so it is safe in TOML,
// file names and shell words.
Status checkHostField(const std::string& what, const std::string& value);

// The agent.toml that bootstrap writes (starts with kBootstrapConfigMarker).
std::string agentConfigText(const BootstrapHost& host, const BootstrapSettings& settings);

inline constexpr const char* kBootstrapConfigMarker = "# Written by rollgate bootstrap";

}  // namespace rollgate::cli
