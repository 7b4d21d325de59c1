#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include "cli/commands.h"
#include "cli/install_commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"
#include "cli/train_commands.h"

namespace rollgate::cli {
namespace {

using nlohmann::json;

json call(const AdminOptions& admin, const std::string& action, const std::string& service,
          const json& args, const std::string& what) {
  AdminRequest request;
  request.body = TrainRequest{action, service, args.dump()};
  AdminReply reply = callAdminOrExit(admin, std::move(request));
  return replyDocumentOrExit(reply, what);
}

std::string text(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return "-";
  std::string value = object[key].get<std::string>();
  return value.empty() ? "-" : value;
}

std::string shortSha(const std::string& sha) { return sha.substr(0, 12); }

std::string clock(std::uint64_t millis) {
  if (millis == 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm);
  return out;
}

void renderCandidate(const json& c) {
  std::printf("%s %s (%s): tests %s, %s%s\n", text(c, "service").c_str(),
              shortSha(text(c, "commit")).c_str(), text(c, "version").c_str(),
              text(c, "tests").c_str(), text(c, "state").c_str(),
              c.value("note", "").empty() ? "" : (" (" + c.value("note", "") + ")").c_str());
}

void renderStatus(const json& s) {
  std::printf("train %s: %s, %s%s\n", text(s, "service").c_str(),
              s.value("enabled", false) ? "enabled" : "disabled", text(s, "phase").c_str(),
              s.value("moving", false) ? " (moving)" : " (not moving)");
  std::printf("  why:  %s\n", text(s, "why").c_str());
  std::printf("  next: %s\n", text(s, "next").c_str());
  if (s.contains("deployed") && s["deployed"].is_object()) {
    std::printf("  on every host: %s (%s)\n", shortSha(text(s["deployed"], "commit")).c_str(),
                text(s["deployed"], "version").c_str());
  }
  if (s.contains("heldOn") && s["heldOn"].is_object()) {
    const json& bad = s["heldOn"];
    std::printf("  bad commit: %s (%s) by %s: %s\n", shortSha(text(bad, "commit")).c_str(),
                text(bad, "version").c_str(), text(bad, "author").c_str(), text(bad, "note").c_str());
  }
  if (s.contains("lock") && s["lock"].is_object()) {
    std::printf("  locked by %s: %s\n", text(s["lock"], "author").c_str(),
                text(s["lock"], "reason").c_str());
  }
  if (!text(s, "rollout").empty() && text(s, "rollout") != "-") {
    std::printf("  rollout: %s\n", text(s, "rollout").c_str());
  }
  std::printf("  waiting commits: %llu, rollouts planned at %llu s\n",
              static_cast<unsigned long long>(s.value("waiting", 0ULL)),
              static_cast<unsigned long long>(s.value("plannedRolloutSeconds", 0ULL)));
}

struct SubmitOptions {
  std::string service, version, commit, parent, author, title, fixes, tests, artifact, signature;
  bool json = false;
};

}  // namespace

void addReleaseCommands(CLI::App& app, AdminOptions& admin) {
  auto* release = app.add_subcommand("release", "release candidates from CI for the release train");
  release->require_subcommand(1);

  auto submit = std::make_shared<SubmitOptions>();
  auto* s = release->add_subcommand("submit", "submit a commit (in commit order) as a candidate");
  s->add_option("--service", submit->service, "service")->required();
  s->add_option("--version", submit->version, "the version of its artifact")->required();
  s->add_option("--commit", submit->commit, "commit SHA")->required();
  s->add_option("--parent", submit->parent, "parent commit SHA (checked: commit order)");
  s->add_option("--author", submit->author, "author");
  s->add_option("--title", submit->title, "commit title");
  s->add_option("--fixes", submit->fixes, "the commit this one fixes or reverts");
  s->add_option("--tests", submit->tests, "passed | failed | pending")->required();
  s->add_option("--artifact", submit->artifact, "artifact file, pushed first (as artifact push)");
  s->add_option("--signature", submit->signature, "its signature file (default: FILE.sig if any)");
  s->add_flag("--json", submit->json, "print the candidate as JSON");
  s->callback([submit, &admin] {
    if (!submit->artifact.empty()) {
      auto pushed = pushArtifactFile(admin, submit->artifact, submit->service, submit->version,
                                     submit->signature, false);
      if (!pushed) fail(kExitFailure, pushed.error().message);
    }
    json args{{"commit", submit->commit}, {"version", submit->version},
              {"parent", submit->parent}, {"author", submit->author},
              {"title", submit->title},   {"fixes", submit->fixes},
              {"tests", submit->tests}};
    json c = call(admin, "submit", submit->service, args, "release submit " + submit->commit);
    if (submit->json) {
      std::printf("%s\n", c.dump().c_str());
    } else {
      renderCandidate(c);
    }
  });

  auto tests = std::make_shared<SubmitOptions>();
  auto* t = release->add_subcommand("tests", "record a submitted commit's test result");
  t->add_option("--service", tests->service, "service")->required();
  t->add_option("--commit", tests->commit, "commit SHA")->required();
  t->add_option("--tests", tests->tests, "passed | failed | pending")->required();
  t->add_flag("--json", tests->json, "print the candidate as JSON");
  t->callback([tests, &admin] {
    json c = call(admin, "tests", tests->service,
                  json{{"commit", tests->commit}, {"tests", tests->tests}},
                  "release tests " + tests->commit);
    if (tests->json) {
      std::printf("%s\n", c.dump().c_str());
    } else {
      renderCandidate(c);
    }
  });

  auto list = std::make_shared<SubmitOptions>();
  auto* l = release->add_subcommand("list", "the candidates of a service and what became of them");
  l->add_option("--service", list->service, "service")->required();
  l->add_flag("--json", list->json, "print JSON");
  l->callback([list, &admin] {
    json doc = call(admin, "list", list->service, json::object(), "release list");
    if (list->json) {
      std::printf("%s\n", doc.dump().c_str());
      return;
    }
    Table table({"#", "COMMIT", "VERSION", "AUTHOR", "TESTS", "STATE", "SUBMITTED", "NOTE"});
    for (const auto& c : doc["candidates"]) {
      table.add({std::to_string(c.value("seq", 0ULL)), shortSha(text(c, "commit")),
                 text(c, "version"), text(c, "author"), text(c, "tests"), text(c, "state"),
                 clock(c.value("submitted_millis", 0ULL)), text(c, "note")});
    }
    table.print(stdout);
  });
}

void addTrainCommands(CLI::App& app, AdminOptions& admin) {
  auto* trainApp = app.add_subcommand("train", "the release train of a service (docs/train.md)");
  trainApp->require_subcommand(1);
  struct Options {
    std::string service, config, plan, gates, reason, deployed;
    bool json = false;
    std::size_t limit = 50;
  };
  auto add = [&](const char* name, const char* help) {
    auto options = std::make_shared<Options>();
    auto* cmd = trainApp->add_subcommand(name, help);
    cmd->add_option("service", options->service, "service")->required();
    cmd->add_flag("--json", options->json, "print JSON");
    std::string action = name;
    if (action == "enable") {
      cmd->add_option("--config", options->config, "train config TOML (cap, goal, window, freezes)");
      cmd->add_option("--plan", options->plan, "rollout plan TOML (default: the default plan)");
      cmd->add_option("--gates", options->gates, "gates TOML (default: the default gates)");
      cmd->add_option("--deployed", options->deployed,
                      "the candidate commit already on every host (default: none yet)");
    }
    if (action == "lock") cmd->add_option("--reason", options->reason, "why")->required();
    if (action == "history") cmd->add_option("--limit", options->limit, "events (newest)");
    cmd->callback([options, action, &admin] {
      json args = json::object();
      if (action == "enable") {
        args["config"] = options->config.empty() ? "" : readTextFile(options->config, "train config");
        args["configName"] = options->config;
        args["plan"] = options->plan.empty() ? "" : readTextFile(options->plan, "plan file");
        args["gates"] = options->gates.empty() ? "" : readTextFile(options->gates, "gates file");
        args["deployedCommit"] = options->deployed;
      }
      if (action == "lock") args["reason"] = options->reason;
      if (action == "history") args["limit"] = options->limit;
      json doc = call(admin, action, options->service, args, "train " + action);
      if (options->json) {
        std::printf("%s\n", doc.dump().c_str());
        return;
      }
      if (action != "history") {
        renderStatus(doc);
        return;
      }
      Table table({"TIME (UTC)", "WHAT", "COMMIT", "ROLLOUT", "REASON"});
      for (const auto& e : doc["events"]) {
        table.add({clock(e.value("atMillis", 0ULL)), text(e, "kind"), shortSha(text(e, "commit")),
                   text(e, "rollout"), text(e, "text")});
      }
      table.print(stdout);
    });
  };
  add("enable", "enable the train (with its config, plan and gates)");
  add("disable", "disable the train (a running rollout goes on)");
  add("status", "what the train does, why it is not moving, what it would do next");
  add("history", "what the train did, with its reasons");
  add("pause", "pause the train");
  add("resume", "resume the train (also after a stop)");
  add("lock", "lock the train, with a reason");
  add("unlock", "unlock the train");
}

}  // namespace rollgate::cli
