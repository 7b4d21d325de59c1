// `rollgate rollout ...`, `rollgate watch ID`, `rollgate explain ID` (protocol in
// rollout_commands.h): the admin calls, following a rollout, and the subcommands. The text they
// print comes from rollout_render.cpp.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/install_commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"
#include "common/sys/error.h"
#include "common/version.h"

namespace rollgate::cli {

using nlohmann::json;

namespace {

// ---- I/O

// The reply to DescribeRollout as the read model; a reply that does not decode ends the command.
RolloutView decodeView(const json& document, const std::string& what) {
  auto view = rolloutViewFromJson(document);
  if (!view) fail(kExitFailure, "the coordinator's reply to " + what + ": " + view.error().message);
  return std::move(*view);
}

RolloutView describeOrFail(const AdminOptions& admin, const std::string& id) {
  AdminRequest request;
  request.body = DescribeRollout{id};
  const std::string what = "describe rollout " + id;
  return decodeView(replyDocumentOrExit(callAdminOrExit(admin, std::move(request)), what), what);
}

// --interval SECONDS of watch and start --wait: how often the rollout is polled.
void addIntervalOption(CLI::App& command, double& seconds) {
  command.add_option("--interval", seconds, "seconds between polls while following (default 1)")
      ->check(CLI::Range(0.05, 60.0));
}

std::uint64_t intervalMillis(double seconds) {
  return static_cast<std::uint64_t>(seconds * 1000.0 + 0.5);
}

void printText(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

void printJson(const json& document) {
  std::printf("%s\n", document.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

}  // namespace

RolloutSummaryView followRollout(const AdminOptions& admin, const std::string& id,
                                 std::FILE* linesTo, std::uint64_t intervalMillis) {
  constexpr int kMaxUnavailableSeconds = 60;
  const bool redraw = linesTo == stdout && ::isatty(STDOUT_FILENO) == 1;
  std::unique_ptr<AdminClient> client;
  std::optional<RolloutSummaryView> previous;
  int unavailable = 0;
  // An explicit --timeout bounds the whole follow, not only each request; the rollout goes on.
  const auto started = std::chrono::steady_clock::now();
  const auto limit = std::chrono::duration<double>(admin.timeoutSeconds);
  while (true) {
    if (admin.timeoutGiven && previous && std::chrono::steady_clock::now() - started >= limit) {
      fail(kExitFailure, "rollout " + id + " is still " + previous->status + " after --timeout " +
                             std::to_string(static_cast<int>(admin.timeoutSeconds)) +
                             " s; it goes on (rollgate rollout watch " + id + ")");
    }
    std::string problem;
    if (!client) {
      auto connected = AdminClient::connect(admin);
      if (connected) {
        client = std::move(*connected);
      } else {
        problem = connected.error().message;
      }
    }
    std::optional<AdminReply> reply;
    if (client) {
      AdminRequest request;
      request.body = DescribeRollout{id};
      auto answer = client->call(std::move(request));
      if (answer) {
        reply = std::move(*answer);
      } else {
        problem = answer.error().message;
        client.reset();  // a late reply must not be taken for the next request's
      }
    }
    if (!reply) {
      if (unavailable == 0) {
        std::fprintf(stderr, "rollgate: %s; retrying for up to %d s\n", problem.c_str(),
                     kMaxUnavailableSeconds);
      }
      if (++unavailable > kMaxUnavailableSeconds) fail(kExitUnavailable, problem);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    unavailable = 0;
    if (const auto* error = std::get_if<AdminError>(&reply->body))
      fail(kExitFailure, error->message);
    const std::string what = "describe rollout " + id;
    RolloutSummaryView summary = decodeView(replyDocumentOrExit(*reply, what), what).rollout;
    if (redraw) {
      std::printf("\033[H\033[2J%s", renderRolloutStatus(summary).c_str());
      std::fflush(stdout);
    } else {
      for (const auto& line : rolloutWatchChanges(previous ? &*previous : nullptr, summary)) {
        std::fprintf(linesTo, "%s\n", line.c_str());
      }
      std::fflush(linesTo);
    }
    if (isTerminalRolloutStatus(summary.status)) {
      if (redraw) std::printf("\nrollout %s ended %s\n", id.c_str(), summary.status.c_str());
      return summary;
    }
    previous = std::move(summary);
    std::this_thread::sleep_for(std::chrono::milliseconds(intervalMillis));
  }
}

std::string readTextFile(const std::string& path, const std::string& what) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(kExitUsage, what + " " + path + ": cannot open: " + sys::errnoMessage(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) fail(kExitUsage, what + " " + path + ": read failed");
  return content.str();
}

namespace {

struct StartOptions {
  std::string service;
  std::string version;
  std::string artifact;
  std::string signature;
  std::string planFile;
  std::string gatesFile;
  std::string canaryHost;
  bool wait = false;
  double interval = 1.0;  // seconds between polls with --wait
  bool json = false;
};

void start(const AdminOptions& admin, const StartOptions& options) {
  if (auto valid = validateVersion(options.version); !valid) {
    fail(kExitUsage, "--version: " + valid.error().message);
  }
  std::string planToml = readTextFile(options.planFile, "plan file");
  std::string gatesToml = readTextFile(options.gatesFile, "gates file");
  if (::access(options.artifact.c_str(), R_OK) != 0) {
    fail(kExitUsage, "artifact " + options.artifact + ": " + sys::errnoMessage(errno));
  }
  // A refusal (frozen, a rollout of the service running, an older version, a bad plan or gates)
  // comes before the upload, not after it.
  AdminRequest check;
  check.body =
      StartRollout{options.service, options.version, planToml, gatesToml, options.canaryHost, true};
  AdminReply checked = callAdminOrExit(admin, std::move(check));
  // What the check found worth saying (a Prometheus query returning a raw counter...).
  if (const auto* ok = std::get_if<AdminOk>(&checked.body)) {
    std::istringstream lines(ok->message);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("warning: ", 0) == 0) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  auto sha256 = pushArtifactFile(admin, options.artifact, options.service, options.version,
                                 options.signature, true);
  if (!sha256) fail(kExitFailure, sha256.error().message);
  std::fprintf(stderr, "artifact %s %s stored (sha256 %s)\n", options.service.c_str(),
               options.version.c_str(), sha256->c_str());

  AdminRequest request;
  request.body = StartRollout{options.service, options.version,    planToml,
                              gatesToml,       options.canaryHost, false};
  json reply = replyDocumentOrExit(callAdminOrExit(admin, std::move(request)), "start rollout");
  auto summary = rolloutSummaryFromJson(reply.contains("rollout") ? reply["rollout"] : json());
  if (!summary) {
    fail(kExitFailure, "the coordinator's reply to start rollout: " + summary.error().message);
  }
  if (!options.wait) {
    if (options.json) {
      printJson(json{{"rollout", toJson(*summary)}});
    } else {
      printText(renderRolloutStarted(*summary));
    }
    return;
  }
  if (summary->id.empty()) fail(kExitFailure, "the coordinator's reply to start rollout has no id");
  if (!options.json) printText(renderRolloutStarted(*summary));
  RolloutSummaryView last =
      followRollout(admin, summary->id, options.json ? stderr : stdout, intervalMillis(options.interval));
  if (options.json) printJson(json{{"rollout", toJson(last)}});
  int code = rolloutExitCode(last.status);
  if (code != 0) throw CLI::RuntimeError(code);
}

void addWatchCommand(CLI::App& parent, AdminOptions& admin, const std::string& description) {
  auto* watch = parent.add_subcommand("watch", description);
  auto id = std::make_shared<std::string>();
  auto interval = std::make_shared<double>(1.0);
  watch->add_option("ID", *id, "rollout id")->required();
  addIntervalOption(*watch, *interval);
  watch->callback([&admin, id, interval] {
    RolloutSummaryView last = followRollout(admin, *id, stdout, intervalMillis(*interval));
    int code = rolloutExitCode(last.status);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

void addExplainCommand(CLI::App& parent, AdminOptions& admin, const std::string& description) {
  auto* explain = parent.add_subcommand("explain", description);
  struct Options {
    std::string id;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  explain->add_option("ID", options->id, "rollout id")->required();
  explain->add_flag("--json", options->json, "print JSON");
  explain->callback([&admin, options] {
    RolloutView view = describeOrFail(admin, options->id);
    if (options->json) {
      printJson(toJson(view));
    } else {
      printText(renderRolloutExplain(view));
    }
  });
}

}  // namespace

void addRolloutCommands(CLI::App& app, AdminOptions& admin) {
  auto* rollout = app.add_subcommand(
      "rollout", "staged rollouts with statistical gates: start, follow, explain, control");
  rollout->require_subcommand(1);

  auto startOptions = std::make_shared<StartOptions>();
  auto* startCommand = rollout->add_subcommand(
      "start", "push a build and roll it out: canary, cluster, region, fleet");
  startCommand->add_option("--service", startOptions->service, "service name")->required();
  startCommand->add_option("--version", startOptions->version, "the new release")->required();
  startCommand->add_option("--artifact", startOptions->artifact, "the build to push")->required();
  startCommand->add_option("--signature", startOptions->signature,
                           "build signature file (default: ARTIFACT.sig when it exists)");
  startCommand->add_option("--plan", startOptions->planFile, "plan TOML (default plan if absent)");
  startCommand->add_option("--gates", startOptions->gatesFile,
                           "gates TOML (default gates if absent)");
  startCommand->add_option("--canary-host", startOptions->canaryHost, "the canary host");
  startCommand->add_flag("--wait", startOptions->wait,
                         "follow it until it ends; exit 0 only if it succeeded");
  startCommand->add_flag("--json", startOptions->json, "print JSON");
  addIntervalOption(*startCommand, startOptions->interval);
  startCommand->callback([&admin, startOptions] { start(admin, *startOptions); });

  struct ReadOptions {
    std::string id;
    bool json = false;
  };
  auto statusOptions = std::make_shared<ReadOptions>();
  auto* status = rollout->add_subcommand("status", "a rollout's step, hosts and checks");
  status->add_option("ID", statusOptions->id, "rollout id")->required();
  status->add_flag("--json", statusOptions->json, "print JSON");
  status->callback([&admin, statusOptions] {
    RolloutView view = describeOrFail(admin, statusOptions->id);
    if (statusOptions->json) {
      printJson(json{{"rollout", toJson(view.rollout)}});
    } else {
      printText(renderRolloutStatus(view.rollout));
    }
  });

  auto listJson = std::make_shared<bool>(false);
  auto* list = rollout->add_subcommand("list", "every rollout, newest first");
  list->add_flag("--json", *listJson, "print JSON");
  list->callback([&admin, listJson] {
    AdminRequest request;
    request.body = ListRollouts{};
    json doc = replyDocumentOrExit(callAdminOrExit(admin, std::move(request)), "list rollouts");
    auto rollouts = rolloutListFromJson(doc);
    if (!rollouts) {
      fail(kExitFailure, "the coordinator's reply to list rollouts: " + rollouts.error().message);
    }
    auto freeze = freezeFromJson(doc);
    if (!freeze) {
      fail(kExitFailure, "the coordinator's reply to list rollouts: " + freeze.error().message);
    }
    if (*listJson) {
      printJson(rolloutListToJson(*rollouts, *freeze));
    } else {
      printText(renderRolloutList(*rollouts, *freeze));
    }
  });

  addWatchCommand(*rollout, admin, "follow a rollout live until it ends");
  addExplainCommand(*rollout, admin, "why the rollout did what it did, step by step");

  auto historyOptions = std::make_shared<ReadOptions>();
  auto* history = rollout->add_subcommand("history", "a rollout's events, timestamped");
  history->add_option("ID", historyOptions->id, "rollout id")->required();
  history->add_flag("--json", historyOptions->json, "print JSON");
  history->callback([&admin, historyOptions] {
    RolloutView view = describeOrFail(admin, historyOptions->id);
    if (historyOptions->json) {
      json events = json::array();
      for (const auto& e : view.events) events.push_back(toJson(e));
      printJson(json{{"id", view.rollout.id}, {"events", events}});
    } else {
      printText(renderRolloutHistory(view));
    }
  });

  const std::pair<const char*, RolloutAction::Action> kActions[] = {
      {"pause", RolloutAction::Action::kPause},
      {"resume", RolloutAction::Action::kResume},
      {"promote", RolloutAction::Action::kPromote},
      {"rollback", RolloutAction::Action::kRollback}};
  const char* kDescriptions[] = {
      "hold a rollout: no further step starts until it is resumed",
      "resume a paused rollout (a step held for not enough data analyses again)",
      "pass the current step over a warn or not-enough-data hold",
      "roll back every host the rollout changed"};
  for (std::size_t i = 0; i < std::size(kActions); ++i) {
    auto* command = rollout->add_subcommand(kActions[i].first, kDescriptions[i]);
    auto id = std::make_shared<std::string>();
    auto asJson = std::make_shared<bool>(false);
    command->add_option("ID", *id, "rollout id")->required();
    command->add_flag("--json", *asJson, "print JSON");
    const auto action = kActions[i].second;
    const std::string name = kActions[i].first;
    command->callback([&admin, id, asJson, action, name] {
      AdminRequest request;
      request.body = RolloutAction{*id, action};
      printOkOrExit(callAdminOrExit(admin, std::move(request)), *asJson, name + " rollout " + *id);
    });
  }

  addRolloutLabelCommand(*rollout, admin);

  addWatchCommand(app, admin, "follow a rollout live until it ends (rollout watch)");
  addExplainCommand(app, admin, "why a rollout did what it did (rollout explain)");
}

}  // namespace rollgate::cli
