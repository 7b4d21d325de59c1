// Emergency commands at the top level: `rollgate abort`, `rollgate freeze`, `rollgate unfreeze`.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"

namespace rollgate::cli {

void addAbortCommands(CLI::App& app, AdminOptions& admin) {
  auto* abort = app.add_subcommand(
      "abort", "stop a rollout (or every rollout) now; changed hosts are switched back");
  struct Options {
    std::string rolloutId;
    bool all = false;
    std::string reason;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  abort->add_option("ID", options->rolloutId, "rollout id");
  abort->add_flag("--all", options->all, "every rollout, fleet-wide");
  abort->add_option("--reason", options->reason, "why (recorded and shown to every host)");
  abort->add_flag("--json", options->json, "print JSON");
  abort->callback([&admin, options] {
    if (options->all == !options->rolloutId.empty()) {
      fail(kExitUsage, "give either a rollout ID or --all");
    }
    AdminRequest request;
    request.body = AbortRequest{options->rolloutId, options->all, options->reason};
    // The coordinator answers once every host acknowledged, or after 10 s with who did not.
    AdminReply reply = callAdminOrExit(admin, request, std::chrono::seconds(60));
    const auto* doc = std::get_if<JsonDocument>(&reply.body);
    if (doc == nullptr) fail(kExitFailure, "unexpected reply to abort");
    auto json = nlohmann::json::parse(doc->text, nullptr, false);
    if (options->json) {
      std::printf("%s\n", json.dump(2).c_str());
    } else {
      std::printf("abort %llu: %llu of %llu hosts acknowledged in %llu ms (p50 %llu ms, p99 %llu ms)\n",
                  json.value("abort_id", 0ULL), json.value("acknowledged", 0ULL),
                  json.value("targets", 0ULL), json.value("elapsed_ms", 0ULL),
                  json["ack_ms"].value("p50", 0ULL), json["ack_ms"].value("p99", 0ULL));
      auto list = [&](const char* key) {
        std::string names;
        for (const auto& id : json.value(key, std::vector<std::string>{}))
          names += (names.empty() ? "" : ", ") + id;
        return names;
      };
      if (json.contains("stopped")) {
        std::string stopped = list("stopped"), aborting = list("already_aborting");
        if (!stopped.empty()) std::printf("stopped rollouts: %s\n", stopped.c_str());
        if (!aborting.empty()) std::printf("already aborting: %s\n", aborting.c_str());
        if (stopped.empty() && aborting.empty()) std::printf("no rollout was running\n");
      }
      auto missing = json.value("missing", std::vector<std::string>{});
      if (!missing.empty()) {
        std::string names;
        for (const auto& host : missing) names += (names.empty() ? "" : ", ") + host;
        std::printf("not acknowledged yet (re-sent until they do, and on reconnect): %s\n",
                    names.c_str());
      }
    }
    if (!json.value("missing", std::vector<std::string>{}).empty()) throw CLI::RuntimeError(kExitFailure);
  });

  // freeze and unfreeze wait as long as --timeout says.
  const auto printReply = [](const AdminReply& reply, bool frozen, bool asJson) {
    const auto* ok = std::get_if<AdminOk>(&reply.body);
    if (ok == nullptr) fail(kExitFailure, "unexpected reply to a freeze");
    if (asJson) {
      std::printf("%s\n",
                  nlohmann::json{{"frozen", frozen}, {"message", ok->message}}.dump(2).c_str());
    } else {
      std::printf("%s\n", ok->message.c_str());
    }
  };
  auto* freeze = app.add_subcommand("freeze", "block new rollouts fleet-wide");
  auto freezeOptions = std::make_shared<FreezeRequest>();
  auto freezeJson = std::make_shared<bool>(false);
  freeze->add_option("--reason", freezeOptions->reason, "why");
  freeze->add_flag("--hold-running", freezeOptions->holdRunning,
                   "also pause the rollouts already running (an incident freeze)");
  freeze->add_flag("--json", *freezeJson, "print JSON");
  freeze->callback([&admin, freezeOptions, freezeJson, printReply] {
    AdminRequest request;
    request.body = *freezeOptions;
    printReply(callAdminOrExit(admin, request), true, *freezeJson);
  });
  auto* unfreeze = app.add_subcommand("unfreeze", "allow new rollouts again");
  auto unfreezeJson = std::make_shared<bool>(false);
  unfreeze->add_flag("--json", *unfreezeJson, "print JSON");
  unfreeze->callback([&admin, unfreezeJson, printReply] {
    AdminRequest request;
    request.body = FreezeRequest{false, "", false};
    printReply(callAdminOrExit(admin, request), false, *unfreezeJson);
  });
}

}  // namespace rollgate::cli
