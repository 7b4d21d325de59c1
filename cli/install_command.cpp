// `rollgate install`, `rollgate rollback` and `rollgate releases`: by-hand installs and rollbacks
// on one host, waiting for the agent's result (protocol in install_commands.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/codec.h"
#include "common/version.h"
#include "cli/commands.h"
#include "cli/install_commands.h"
#include "cli/output.h"

namespace rollgate::cli {
namespace {

struct CommandOptions {
  std::string host;
  std::string service;
  std::string version;  // install: required; rollback: --to, may be empty
  bool json = false;
  double timeoutSeconds = 600;
};

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", static_cast<double>(bytes) / 1e6);
  return text;
}

// Interim CommandResults on stderr: one line rewritten in place on a terminal, otherwise a line
// per step (and per quarter of a transfer).
class CommandProgress {
 public:
  explicit CommandProgress(bool quiet) : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

  void update(const CommandResult& result) {
    if (quiet_ && !tty_) return;
    std::string line = result.message.empty() ? "working" : result.message;
    int quarter = -1;
    if (result.bytesTotal > 0) {
      int percent = static_cast<int>(std::min(result.bytesDone, result.bytesTotal) * 100 /
                                     result.bytesTotal);
      line += ": " + std::to_string(percent) + "% (" + megabytes(result.bytesDone) + " of " +
              megabytes(result.bytesTotal) + " MB)";
      quarter = percent / 25;
    }
    if (tty_) {
      std::string padded = line;
      if (padded.size() < width_) padded.append(width_ - padded.size(), ' ');
      width_ = line.size();
      std::fprintf(stderr, "\r%s", padded.c_str());
      printed_ = true;
    } else {
      if (result.message == lastStep_ && quarter == lastQuarter_) return;
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    lastStep_ = result.message;
    lastQuarter_ = quarter;
    std::fflush(stderr);
  }

  void finish() {
    if (printed_) std::fprintf(stderr, "\n");
    printed_ = false;
  }

 private:
  bool quiet_;
  bool tty_;
  bool printed_ = false;
  std::size_t width_ = 0;
  std::string lastStep_;
  int lastQuarter_ = -2;
};

nlohmann::json resultJson(const std::string& command, const CommandOptions& options,
                          const CommandResult& result) {
  return {{"command", command},
          {"host", options.host},
          {"service", options.service},
          {"version", options.version},
          {"outcome", outcomeName(result.outcome)},
          {"succeeded", result.outcome == Outcome::kSucceeded},
          {"active_release", result.activeRelease},
          {"message", result.message},
          {"events", result.events},
          {"duration_ms", result.durationMillis},
          {"rollout_id", result.command.rolloutId},
          {"sequence", result.command.sequence}};
}

// What happened, in words an operator on call reads first.
std::string headline(const std::string& command, const CommandOptions& options,
                     const CommandResult& result) {
  std::string what = command == "install"
                         ? "install " + options.service + " " + options.version + " on " + options.host
                         : "rollback of " + options.service + " on " + options.host +
                               (options.version.empty() ? "" : " to " + options.version);
  std::string active = result.activeRelease.empty() ? "(none)" : result.activeRelease;
  switch (result.outcome) {
    case Outcome::kSucceeded:
      return what + ": succeeded; active release " + active;
    case Outcome::kRolledBack:
      return what + ": ROLLED BACK: the new release failed and " + options.host +
             " is back on " + active;
    case Outcome::kFailed:
      return what + ": FAILED; active release " + active;
    case Outcome::kStale:
      return what + ": REFUSED as stale (the agent has applied a newer command); active release " +
             active;
    case Outcome::kCancelled:
      return what + ": CANCELLED; active release " + active;
    case Outcome::kInterrupted:
      return what + ": INTERRUPTED (the agent stopped during the command); active release " +
             active;
    case Outcome::kInProgress:
      return what + ": still in progress on the agent; active release " + active;
  }
  return what + ": unknown outcome";
}

void printResult(const std::string& command, const CommandOptions& options,
                 const CommandResult& result) {
  if (options.json) {
    std::printf("%s\n", resultJson(command, options, result).dump(2).c_str());
    return;
  }
  std::printf("%s\n", headline(command, options, result).c_str());
  if (!result.message.empty()) std::printf("  %s\n", result.message.c_str());
  if (!result.events.empty()) {
    std::printf("events:\n");
    for (const auto& event : result.events) std::printf("  - %s\n", event.c_str());
  }
  std::printf("duration: %.1f s\n", static_cast<double>(result.durationMillis) / 1000.0);
}

void runCommand(const AdminOptions& admin, const CommandOptions& options,
                ManualCommand::Kind kind) {
  const std::string command = kind == ManualCommand::Kind::kInstall ? "install" : "rollback";
  if (!isValidName(options.host)) {
    fail(kExitUsage, "--host '" + options.host + "' is not a valid host name");
  }
  if (!isValidName(options.service)) {
    fail(kExitUsage, "--service '" + options.service + "' is not a valid service name");
  }
  if (!options.version.empty()) {
    if (auto valid = validateVersion(options.version); !valid) fail(kExitUsage, valid.error().message);
  }
  if (!(options.timeoutSeconds > 0)) {
    fail(kExitUsage, "--timeout-seconds must be positive, got " +
                         std::to_string(options.timeoutSeconds));
  }
  auto client = AdminClient::connect(admin);
  if (!client) fail(kExitUnavailable, client.error().message);

  AdminRequest request;
  request.body = ManualCommand{options.host, options.service, kind, options.version};
  CommandProgress progress(options.json);
  auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeoutSeconds * 1000));
  auto reply = (*client)->call(std::move(request), timeout, [&](const AdminReply& interim) {
    if (const auto* result = std::get_if<CommandResult>(&interim.body)) progress.update(*result);
  });
  progress.finish();
  if (!reply) fail(kExitUnavailable, reply.error().message);
  if (const auto* error = std::get_if<AdminError>(&reply->body)) {
    fail(kExitFailure, command + " " + options.service + " on " + options.host + ": " +
                           error->message);
  }
  const auto* result = std::get_if<CommandResult>(&reply->body);
  if (result == nullptr) fail(kExitFailure, "unexpected reply to " + command + " (not a result)");
  printResult(command, options, *result);
  if (result->outcome != Outcome::kSucceeded) throw CLI::RuntimeError(kExitFailure);
}

void listReleases(const AdminOptions& admin, const std::string& host, bool json) {
  if (!isValidName(host)) fail(kExitUsage, "--host '" + host + "' is not a valid host name");
  AdminRequest request;
  request.body = ListReleases{host};
  AdminReply reply = callAdminOrExit(admin, std::move(request));
  const auto* list = std::get_if<HostList>(&reply.body);
  if (list == nullptr) fail(kExitFailure, "unexpected reply to a release listing");
  const HostInfo* info = nullptr;
  for (const auto& h : list->hosts) {
    if (h.name == host) info = &h;
  }
  if (info == nullptr) fail(kExitFailure, "the coordinator returned no releases for host " + host);

  if (json) {
    auto services = nlohmann::json::array();
    for (const auto& s : info->services) {
      services.push_back(
          {{"service", s.service}, {"active_release", s.activeRelease}, {"releases", s.releases}});
    }
    nlohmann::json out = {{"host", info->name},
                          {"connected", info->connected},
                          {"healthy", info->healthy},
                          {"last_contact_ms", info->lastContactMillis},
                          {"services", services}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("host %s: %s, %s\n", info->name.c_str(),
              info->connected ? "connected" : "NOT CONNECTED",
              info->healthy ? "healthy" : "UNHEALTHY");
  if (info->services.empty()) {
    std::printf("no services\n");
    return;
  }
  Table table({"SERVICE", "RELEASE", "ACTIVE"});
  for (const auto& s : info->services) {
    bool activeListed = false;
    for (const auto& release : s.releases) {
      bool active = release == s.activeRelease;
      activeListed = activeListed || active;
      table.add({s.service, release, active ? "*" : ""});
    }
    if (!s.activeRelease.empty() && !activeListed) table.add({s.service, s.activeRelease, "*"});
    if (s.releases.empty() && s.activeRelease.empty()) table.add({s.service, "-", ""});
  }
  table.print(stdout);
}

}  // namespace

void addInstallCommands(CLI::App& app, AdminOptions& admin) {
  auto install = std::make_shared<CommandOptions>();
  auto* installCommand = app.add_subcommand(
      "install", "install (and activate) a pushed release on one host, and wait for the result");
  installCommand->add_option("--host", install->host, "host name")->required();
  installCommand->add_option("--service", install->service, "service name")->required();
  installCommand->add_option("--version", install->version, "release version (pushed before)")
      ->required();
  installCommand->add_flag("--json", install->json, "print JSON");
  installCommand
      ->add_option("--timeout-seconds", install->timeoutSeconds,
                   "give up after this long without news from the coordinator "
                   "(default: --timeout when given, else 600)")
      ->capture_default_str();
  // The wait is --timeout-seconds; without it, the global --timeout when that is given.
  const auto effective = [&app](CLI::App* command, CommandOptions options) {
    if (command->get_option("--timeout-seconds")->count() == 0 &&
        app.get_option("--timeout")->count() > 0) {
      options.timeoutSeconds = app.get_option("--timeout")->as<double>();
    }
    return options;
  };
  installCommand->callback([&admin, install, installCommand, effective] {
    runCommand(admin, effective(installCommand, *install), ManualCommand::Kind::kInstall);
  });

  auto rollback = std::make_shared<CommandOptions>();
  auto* rollbackCommand = app.add_subcommand(
      "rollback", "switch one host's service back to the previous (or a named) release");
  rollbackCommand->add_option("--host", rollback->host, "host name")->required();
  rollbackCommand->add_option("--service", rollback->service, "service name")->required();
  rollbackCommand->add_option("--to", rollback->version,
                              "release to go back to (default: the one before the active one)");
  rollbackCommand->add_flag("--json", rollback->json, "print JSON");
  rollbackCommand
      ->add_option("--timeout-seconds", rollback->timeoutSeconds,
                   "give up after this long without news from the coordinator "
                   "(default: --timeout when given, else 600)")
      ->capture_default_str();
  rollbackCommand->callback([&admin, rollback, rollbackCommand, effective] {
    runCommand(admin, effective(rollbackCommand, *rollback), ManualCommand::Kind::kRollback);
  });

  auto host = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* releases =
      app.add_subcommand("releases", "the releases on one host: active and unpacked, per service");
  releases->add_option("--host", *host, "host name")->required();
  releases->add_flag("--json", *json, "print JSON");
  releases->callback([&admin, host, json] { listReleases(admin, *host, *json); });
}

}  // namespace rollgate::cli
