// `rollgate revert --service S [--to VERSION] [--batch N|P%] [--wait] [--json]`,
// `rollgate revert --staged [--plan F] [--gates F] ...` and `rollgate revert status ID`: a
// fleet-wide revert (docs/revert.md).
//
// Protocol: RevertRequest -> JsonDocument {"revert": <report>} (or the refusal, naming the
// service and release); DescribeRevert{id} -> the same report. With --wait the report is polled
// until its status is no longer "running"; a coordinator that cannot be reached meanwhile (it may
// be restarting: the revert resumes there) is retried for a minute. With --staged the reply is
// {"staged": true, "rollout": <RolloutSummaryView>} and --wait follows that rollout.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"
#include "common/version.h"

namespace rollgate::cli {
namespace {

using nlohmann::json;

struct RevertOptions {
  std::string service;
  std::string toVersion;
  std::string batch;
  std::string reason;
  bool wait = false;
  bool staged = false;
  bool json = false;
  double interval = 0.5;
  std::string planFile;   // with --staged
  std::string gatesFile;  // with --staged
};

// "--batch 5" or "--batch 25%" into the request.
void parseBatch(const std::string& text, RevertRequest& request) {
  if (text.empty()) return;
  bool percent = text.back() == '%';
  std::string digits = percent ? text.substr(0, text.size() - 1) : text;
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (digits.empty() || used != digits.size() || value == 0 || (percent && value > 100) ||
      value > 1'000'000) {
    fail(kExitUsage, "--batch '" + text +
                         "': give a number of hosts (N >= 1) or a percentage "
                         "(1% to 100%)");
  }
  (percent ? request.batchPercent : request.batchHosts) = static_cast<std::uint32_t>(value);
}

std::string field(const json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_string()) return "-";
  std::string value = object[key].get<std::string>();
  return value.empty() ? "-" : value;
}

std::string millis(const json& object, const char* key) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", object.value(key, 0ULL) / 1000.0);
  return text;
}

void render(const json& revert) {
  const json& counts = revert["counts"];
  std::uint64_t on = counts.value("succeeded", 0ULL);
  std::printf("revert %s of %s to %s (newest active was %s): %s, %llu of %zu hosts on %s in %s\n",
              field(revert, "id").c_str(), field(revert, "service").c_str(),
              field(revert, "to_version").c_str(), field(revert, "newest_active").c_str(),
              field(revert, "status").c_str(), static_cast<unsigned long long>(on),
              revert["hosts"].size(), field(revert, "to_version").c_str(),
              millis(revert, "elapsed_ms").c_str());
  std::string stopped;
  for (const auto& id : revert.value("aborted_rollouts", std::vector<std::string>{})) {
    stopped += (stopped.empty() ? "" : ", ") + id;
  }
  if (!stopped.empty()) std::printf("stopped rollouts: %s\n", stopped.c_str());
  Table table({"HOST", "FROM", "HOW", "STATUS", "TIME", "MESSAGE"});
  for (const auto& host : revert["hosts"]) {
    table.add({field(host, "host"), field(host, "from"), field(host, "method"),
               field(host, "status"), millis(host, "elapsed_ms"), field(host, "message")});
  }
  table.print(stdout);
}

// The report of revert `id`, retrying an unreachable coordinator for up to a minute.
json describeWithRetry(const AdminOptions& admin, const std::string& id) {
  constexpr int kMaxUnavailableSeconds = 60;
  for (int unavailable = 0;; ++unavailable) {
    std::string problem;
    auto client = AdminClient::connect(admin);
    if (client) {
      AdminRequest request;
      request.body = DescribeRevert{id};
      auto reply = (*client)->call(std::move(request));
      if (reply) {
        if (const auto* error = std::get_if<AdminError>(&reply->body)) {
          fail(kExitFailure, error->message);
        }
        return replyDocumentOrExit(*reply, "revert status " + id);
      }
      problem = reply.error().message;
    } else {
      problem = client.error().message;
    }
    if (unavailable == 0) {
      std::fprintf(stderr, "rollgate: %s; retrying for up to %d s\n", problem.c_str(),
                   kMaxUnavailableSeconds);
    }
    if (unavailable >= kMaxUnavailableSeconds) fail(kExitUnavailable, problem);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

const json& revertOf(const json& document, const std::string& what) {
  if (!document.contains("revert") || !document["revert"].is_object()) {
    fail(kExitFailure, "the coordinator's reply to " + what + " has no 'revert' object");
  }
  return document["revert"];
}

void printReport(const json& document, bool asJson) {
  if (asJson) {
    std::printf("%s\n", document.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    render(document["revert"]);
  }
  std::fflush(stdout);
}

// --staged: the coordinator started a rollout of the older release; it is followed like
// `rollout start --wait`.
void followStaged(const AdminOptions& admin, const RevertOptions& options, const json& document) {
  auto summary =
      rolloutSummaryFromJson(document.contains("rollout") ? document["rollout"] : json());
  if (!summary)
    fail(kExitFailure, "the coordinator's reply to revert --staged: " + summary.error().message);
  if (!options.wait) {
    if (options.json) {
      std::printf("%s\n", json{{"staged", true}, {"rollout", toJson(*summary)}}.dump(2).c_str());
    } else {
      std::printf("staged revert of %s to %s: ", options.service.c_str(), summary->version.c_str());
      std::fputs(renderRolloutStarted(*summary).c_str(), stdout);
    }
    return;
  }
  RolloutSummaryView last = followRollout(admin, summary->id, options.json ? stderr : stdout,
                                          static_cast<std::uint64_t>(options.interval * 1000));
  if (options.json) {
    std::printf("%s\n", json{{"staged", true}, {"rollout", toJson(last)}}.dump(2).c_str());
  }
  if (int code = rolloutExitCode(last.status); code != 0) throw CLI::RuntimeError(code);
}

void revert(const AdminOptions& admin, const RevertOptions& options) {
  if (!options.staged && !(options.planFile.empty() && options.gatesFile.empty())) {
    fail(kExitUsage, "--plan and --gates go with --staged (a revert without it has no analysis)");
  }
  if (!options.toVersion.empty()) {
    if (auto valid = validateVersion(options.toVersion); !valid) {
      fail(kExitUsage, "--to: " + valid.error().message);
    }
  }
  AdminRequest request;
  RevertRequest body{options.service,
                     options.toVersion,
                     0,
                     0,
                     options.staged,
                     options.reason,
                     readTextFile(options.planFile, "plan file"),
                     readTextFile(options.gatesFile, "gates file")};
  parseBatch(options.batch, body);
  request.body = body;
  json document = replyDocumentOrExit(callAdminOrExit(admin, std::move(request)), "revert");
  if (document.value("staged", false)) return followStaged(admin, options, document);
  std::string id = field(revertOf(document, "revert"), "id");
  // --wait waits for every host; an explicit --timeout bounds that wait too.
  const auto started = std::chrono::steady_clock::now();
  const auto limit = std::chrono::duration<double>(admin.timeoutSeconds);
  bool timedOut = false;
  while (options.wait && field(document["revert"], "status") == "running") {
    if (admin.timeoutGiven && std::chrono::steady_clock::now() - started >= limit) {
      timedOut = true;
      break;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int>(options.interval * 1000)));
    document = describeWithRetry(admin, id);
    revertOf(document, "revert status " + id);
  }
  printReport(document, options.json);
  if (timedOut) {
    fail(kExitFailure, "revert " + id + " is still running after --timeout " +
                           std::to_string(static_cast<int>(admin.timeoutSeconds)) +
                           " s (it goes on; rollgate revert status " + id + ")");
  }
  if (field(document["revert"], "status") == "failed") throw CLI::RuntimeError(kExitFailure);
}

}  // namespace

void addRevertCommand(CLI::App& app, AdminOptions& admin) {
  auto* command = app.add_subcommand(
      "revert", "switch every host of a service back to an older release, fast (docs/revert.md)");
  auto options = std::make_shared<RevertOptions>();
  command->add_option("--service", options->service, "the service to revert");
  command->add_option("--to", options->toVersion,
                      "the release to go back to (default: the newest one older than the newest "
                      "active, among those the hosts keep)");
  command->add_option("--batch", options->batch,
                      "hosts switched at once: N or P% of the service's hosts (default: all)");
  command->add_option("--reason", options->reason, "why (recorded in the event log)");
  command->add_flag(
      "--wait", options->wait,
      "wait until every host answered (at most --timeout when given); exit 0 only if every "
      "host is on the release");
  command->add_flag("--staged", options->staged,
                    "a gated revert: a rollout of the older release (canary, analysis, stages)");
  command->add_option("--plan", options->planFile, "with --staged: plan TOML (default plan)");
  command->add_option("--gates", options->gatesFile, "with --staged: gates TOML (default gates)");
  command->add_flag("--json", options->json, "print JSON");
  command->add_option("--interval", options->interval, "seconds between polls with --wait")
      ->check(CLI::Range(0.05, 60.0));

  auto* status = command->add_subcommand("status", "a revert's report, per host");
  auto id = std::make_shared<std::string>();
  auto statusJson = std::make_shared<bool>(false);
  status->add_option("ID", *id, "revert id (v<n>)")->required();
  status->add_flag("--json", *statusJson, "print JSON");
  status->callback([&admin, id, statusJson] {
    AdminRequest request;
    request.body = DescribeRevert{*id};
    json document =
        replyDocumentOrExit(callAdminOrExit(admin, std::move(request)), "revert status " + *id);
    revertOf(document, "revert status " + *id);
    printReport(document, *statusJson);
  });

  command->callback([&admin, options, command] {
    if (command->got_subcommand("status")) return;
    if (options->service.empty()) fail(kExitUsage, "revert: --service is required");
    revert(admin, *options);
  });
}

}  // namespace rollgate::cli
