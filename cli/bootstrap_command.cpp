// `rollgate bootstrap`: installs and enrolls the agent on new hosts over SSH (see
// bootstrap_host.h for the steps). Hosts run in parallel; the summary goes to stdout, one line
// per host, and the command fails when any host failed.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/keys.h"
#include "cli/bootstrap_host.h"
#include "cli/commands.h"

namespace rollgate::cli {
namespace {

struct BootstrapArgs {
  std::string sshTarget;
  std::string hostsFile;
  std::string name;
  std::string identityFile;
  std::string knownHostsFile;
  bool acceptNewHostKey = false;
  std::string packageFile;
  std::string region;
  std::string cluster;
  std::string coordinator;
  std::string broadcast;
  std::string coordinatorPublicKeyFile;
  bool overwriteConfig = false;
  int jobs = 8;
  bool json = false;
};

[[noreturn]] void failWith(const std::string& message, int code) {
  std::cerr << "rollgate bootstrap: " << message << "\n";
  throw CLI::RuntimeError(code);
}

bool validEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) != 0 || endpoint.size() <= 6) {
    return false;
  }
  return std::all_of(endpoint.begin(), endpoint.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == ':' || c == '/' || c == '[' || c == ']' || c == '_';
  });
}

// "tcp://HOST:7400" -> "tcp://HOST:7402".
std::string defaultBroadcast(const std::string& coordinator) {
  const auto colon = coordinator.rfind(':');
  return coordinator.substr(0, colon) + ":7402";
}

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : "; ") + item;
  }
  return out;
}

void printSummary(const std::vector<BootstrapReport>& reports, bool json) {
  if (json) {
    std::cout << "[";
    for (size_t i = 0; i < reports.size(); ++i) {
      const auto& r = reports[i];
      std::cout << (i ? ",\n " : "") << "{\"name\":" << jsonString(r.name)
                << ",\"target\":" << jsonString(r.target) << ",\"ok\":" << (r.ok ? "true" : "false")
                << ",\"changes\":[";
      for (size_t c = 0; c < r.changes.size(); ++c) {
        std::cout << (c ? "," : "") << jsonString(r.changes[c]);
      }
      std::cout << "],\"notes\":[";
      for (size_t n = 0; n < r.notes.size(); ++n) {
        std::cout << (n ? "," : "") << jsonString(r.notes[n]);
      }
      std::cout << "],\"error\":" << jsonString(r.error) << "}";
    }
    std::cout << "]\n";
    return;
  }
  size_t width = 4;
  for (const auto& r : reports) {
    width = std::max(width, r.name.size());
  }
  size_t failed = 0;
  for (const auto& r : reports) {
    std::string detail;
    if (r.ok) {
      detail = r.changes.empty() ? "no changes" : "changed: " + joined(r.changes);
      if (!r.notes.empty()) {
        detail += " (" + joined(r.notes) + ")";
      }
    } else {
      ++failed;
      detail = r.error;
      if (!r.changes.empty()) {
        detail += " (changed before failing: " + joined(r.changes) + ")";
      }
    }
    std::string name = r.name;
    name.resize(width, ' ');
    std::cout << name << "  " << (r.ok ? "ok    " : "FAILED") << "  " << detail << "\n";
  }
  std::cout << reports.size() - failed << " of " << reports.size() << " hosts bootstrapped";
  if (failed != 0) {
    std::cout << ", " << failed << " failed";
  }
  std::cout << "\n";
}

void runBootstrap(const BootstrapArgs& args, const AdminOptions& admin) {
  if (args.sshTarget.empty() == args.hostsFile.empty()) {
    failWith("give exactly one of --ssh TARGET and --hosts FILE", kExitUsage);
  }
  if (!validEndpoint(args.coordinator)) {
    failWith("--coordinator '" + args.coordinator +
                 "': expected tcp://HOST:PORT as the hosts reach the coordinator",
             kExitUsage);
  }
  const std::string broadcast =
      args.broadcast.empty() ? defaultBroadcast(args.coordinator) : args.broadcast;
  if (!validEndpoint(broadcast)) {
    failWith("--broadcast '" + broadcast + "': expected tcp://HOST:PORT", kExitUsage);
  }
  if (std::ifstream probe(args.packageFile); !probe) {
    failWith("--package '" + args.packageFile + "': cannot open", kExitUsage);
  }
  const std::string keyFile = args.coordinatorPublicKeyFile.empty()
                                  ? admin.coordinatorKeyFile
                                  : args.coordinatorPublicKeyFile;
  auto coordinatorKey = readKeyFile(keyFile);
  if (!coordinatorKey) {
    failWith(coordinatorKey.error().message + " (the coordinator's public key; --coordinator-pub)",
             kExitUsage);
  }

  BootstrapHost defaults;
  defaults.region = args.region;
  defaults.cluster = args.cluster;
  std::vector<BootstrapHost> hosts;
  if (!args.hostsFile.empty()) {
    std::ifstream in(args.hostsFile);
    if (!in) {
      failWith("--hosts '" + args.hostsFile + "': cannot open", kExitUsage);
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parseHostsFile(text.str(), args.hostsFile, defaults);
    if (!parsed) {
      failWith(parsed.error().message, kExitUsage);
    }
    hosts = std::move(*parsed);
  } else {
    auto target = parseSshTarget(args.sshTarget);
    if (!target) {
      failWith(target.error().message, kExitUsage);
    }
    BootstrapHost host = defaults;
    host.sshTarget = args.sshTarget;
    host.name = args.name.empty() ? target->host : args.name;
    for (const auto& [what, value] : {std::pair{"--name", host.name},
                                      std::pair{"--region", host.region},
                                      std::pair{"--cluster", host.cluster}}) {
      if (auto st = checkHostField(what, value); !st) {
        failWith(st.error().message, kExitUsage);
      }
    }
    hosts.push_back(std::move(host));
  }

  BootstrapSettings settings;
  settings.packageFile = args.packageFile;
  settings.coordinatorEndpoint = args.coordinator;
  settings.broadcastEndpoint = broadcast;
  settings.coordinatorPublicKey = *coordinatorKey;
  settings.overwriteConfig = args.overwriteConfig;
  settings.ssh.identityFile = args.identityFile;
  settings.ssh.knownHostsFile = args.knownHostsFile;
  settings.ssh.hostKeyPolicy =
      args.acceptNewHostKey ? HostKeyPolicy::kAcceptNew : HostKeyPolicy::kStrict;

  // Enrollments go one at a time: each opens its own admin connection, and the coordinator's
  // allowlist is one directory.
  std::mutex enrollMutex;
  const EnrollFunction enroll = [&](const std::string& name, const std::string& key) {
    std::lock_guard lock(enrollMutex);
    return enrollHost(admin, name, key);
  };
  // Hosts share known_hosts: libssh appends one line per new key in append mode, so parallel
  // sessions do not overwrite each other's entries.
  std::vector<BootstrapReport> reports(hosts.size());
  std::atomic<size_t> next{0};
  std::mutex progressMutex;
  auto worker = [&] {
    for (size_t i = next++; i < hosts.size(); i = next++) {
      {
        std::lock_guard lock(progressMutex);
        std::cerr << "bootstrap: " << hosts[i].name << " (" << hosts[i].sshTarget << ")...\n";
      }
      reports[i] = bootstrapHost(hosts[i], settings, enroll);
      std::lock_guard lock(progressMutex);
      std::cerr << "bootstrap: " << hosts[i].name << ": "
                << (reports[i].ok ? "ok" : "FAILED: " + reports[i].error) << "\n";
    }
  };
  const size_t threadCount =
      std::min(hosts.size(), static_cast<size_t>(std::max(args.jobs, 1)));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < threadCount; ++t) {
    threads.emplace_back(worker);
  }
  for (auto& thread : threads) {
    thread.join();
  }
  printSummary(reports, args.json);
  if (std::any_of(reports.begin(), reports.end(), [](const auto& r) { return !r.ok; })) {
    throw CLI::RuntimeError(kExitFailure);
  }
}

}  // namespace

void addBootstrapCommand(CLI::App& app, AdminOptions& admin) {
  auto args = std::make_shared<BootstrapArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bootstrap",
      "Install the agent package on hosts over SSH, configure it, enroll its key and start it");
  cmd->add_option("--ssh", args->sshTarget, "[USER@]HOST[:PORT] of one host (USER must be root)");
  cmd->add_option("--hosts", args->hostsFile,
                  "File of hosts, one per line: TARGET [NAME] [region=R] [cluster=C]");
  cmd->add_option("--name", args->name, "Name to enroll the host under (default: its host name)");
  cmd->add_option("--identity,-i", args->identityFile,
                  "SSH private key (default: ssh-agent and ~/.ssh keys)");
  cmd->add_option("--known-hosts", args->knownHostsFile,
                  "known_hosts file (default: ~/.ssh/known_hosts)");
  cmd->add_flag("--accept-new-host-key", args->acceptNewHostKey,
                "Trust and record a host key not yet in known_hosts (a changed key is always "
                "refused)");
  cmd->add_option("--package", args->packageFile, "rollgate-agent .deb or .rpm")->required();
  cmd->add_option("--region", args->region, "Region of the host(s)")->required();
  cmd->add_option("--cluster", args->cluster, "Cluster of the host(s)")->required();
  cmd->add_option("--coordinator", args->coordinator,
                  "Coordinator agent endpoint as the hosts reach it (tcp://HOST:7400)")
      ->required();
  cmd->add_option("--broadcast", args->broadcast,
                  "Coordinator broadcast endpoint (default: the --coordinator host, port 7402)");
  cmd->add_option("--coordinator-pub", args->coordinatorPublicKeyFile,
                  "Coordinator public key file to install on the hosts (default: the admin "
                  "options' coordinator key)");
  cmd->add_flag("--overwrite-config", args->overwriteConfig,
                "Replace an agent.toml that was edited on the host");
  cmd->add_option("--jobs,-j", args->jobs, "Hosts bootstrapped in parallel")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the summary as JSON");
  cmd->callback([args, &admin] { runBootstrap(*args, admin); });
}

}  // namespace rollgate::cli
