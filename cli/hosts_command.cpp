// `rollgate hosts`: the fleet registry (list), and the agent allowlist (enroll, revoke).
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"
#include "common/keys.h"
#include "common/rollout_view.h"

namespace rollgate::cli {
namespace {

nlohmann::json hostJson(const HostInfo& host, std::uint64_t nowMillis) {
  auto services = nlohmann::json::array();
  for (const auto& s : host.services) {
    services.push_back({{"service", s.service}, {"active_release", s.activeRelease},
                        {"releases", s.releases}});
  }
  return {{"name", host.name},
          {"region", host.region},
          {"cluster", host.cluster},
          {"healthy", host.healthy},
          {"connected", host.connected},
          {"last_contact_ms", host.lastContactMillis},
          {"last_contact_age_s",
           host.lastContactMillis == 0 || nowMillis < host.lastContactMillis
               ? 0.0
               : (nowMillis - host.lastContactMillis) / 1000.0},
          {"agent_version", host.agentVersion},
          {"claimed_host", host.claimedHost},
          {"services", services},
          {"dropped",
           {{"telemetry_windows", host.dropped.telemetryWindows},
            {"telemetry_bytes", host.dropped.telemetryBytes},
            {"messages", host.dropped.messages},
            {"chunk_replies", host.dropped.chunkReplies},
            {"unsolicited_results", host.dropped.unsolicitedResults},
            {"sessions_replaced", host.dropped.sessionsReplaced}}}};
}

// The DROPPED column: what the coordinator refused from the host over its limits ("-": nothing).
std::string droppedSummary(const HostDrops& d) {
  std::string out;
  auto add = [&](std::uint64_t n, const char* what) {
    if (n == 0) return;
    if (!out.empty()) out += " ";
    out += std::to_string(n) + " " + what;
  };
  add(d.telemetryWindows, "windows");
  add(d.messages, "messages");
  add(d.chunkReplies, "chunks");
  add(d.unsolicitedResults, "results");
  add(d.sessionsReplaced, "takeovers");
  return out.empty() ? "-" : out;
}

std::string age(std::uint64_t nowMillis, std::uint64_t thenMillis) {
  if (thenMillis == 0) return "never";
  if (nowMillis < thenMillis) return "now";
  std::uint64_t seconds = (nowMillis - thenMillis) / 1000;
  if (seconds < 120) return std::to_string(seconds) + "s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m ago";
  return std::to_string(seconds / 3600) + "h ago";
}

}  // namespace

void addHostsCommands(CLI::App& app, AdminOptions& admin) {
  auto* hosts = app.add_subcommand("hosts", "list the fleet; enroll and revoke agent keys");
  auto json = std::make_shared<bool>(false);
  hosts->add_flag("--json", *json, "print JSON");
  hosts->require_subcommand(0, 1);
  hosts->callback([&admin, json, hosts] {
    if (!hosts->get_subcommands().empty()) return;
    AdminRequest request;
    request.body = ListHosts{};
    AdminReply reply = callAdminOrExit(admin, request);
    const auto* list = std::get_if<HostList>(&reply.body);
    if (list == nullptr) fail(kExitFailure, "unexpected reply to a host listing");
    std::uint64_t now = static_cast<std::uint64_t>(std::time(nullptr)) * 1000;
    if (*json) {
      auto out = nlohmann::json::array();
      for (const auto& host : list->hosts) out.push_back(hostJson(host, now));
      nlohmann::json doc{{"hosts", out}};
      if (list->freeze) doc["freeze"] = toJson(*list->freeze);
      if (reply.leader) {
        doc["leader"] = toJson(*reply.leader);
      }
      std::printf("%s\n", doc.dump(2).c_str());
      return;
    }
    if (reply.leader) {
      const std::string console =
          reply.leader->consoleUrl.empty() ? "" : "; console " + reply.leader->consoleUrl;
      std::printf("leader: coordinator %s at %s, epoch %llu, leading since %s%s\n",
                  reply.leader->id.c_str(), reply.leader->adminEndpoint.c_str(),
                  static_cast<unsigned long long>(reply.leader->epoch),
                  age(now, reply.leader->sinceMillis).c_str(), console.c_str());
    }
    if (list->freeze) std::printf("%s", renderFreezeLine(*list->freeze).c_str());
    Table table({"HOST", "REGION", "CLUSTER", "STATE", "LAST CONTACT", "SERVICES", "DROPPED"});
    for (const auto& host : list->hosts) {
      std::string services;
      for (const auto& s : host.services) {
        if (!services.empty()) services += " ";
        services += s.service + "@" + (s.activeRelease.empty() ? "-" : s.activeRelease);
      }
      table.add({host.name, host.region, host.cluster, host.healthy ? "healthy" : "UNHEALTHY",
                 age(now, host.lastContactMillis), services.empty() ? "-" : services,
                 droppedSummary(host.dropped)});
    }
    table.print(stdout);
    std::size_t healthy = 0;
    for (const auto& host : list->hosts) healthy += host.healthy ? 1 : 0;
    std::printf("%zu hosts, %zu healthy\n", list->hosts.size(), healthy);
  });

  auto* enroll = hosts->add_subcommand("enroll", "allow an agent's key, under a host name");
  auto name = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  enroll->add_option("NAME", *name, "host name")->required();
  enroll->add_option("PUBKEY", *key, "the agent's public key (Z85) or a .pub file")->required();
  auto enrollJson = std::make_shared<bool>(false);
  enroll->add_flag("--json", *enrollJson, "print JSON");
  enroll->callback([&admin, name, key, enrollJson] {
    std::string publicKey = *key;
    if (!isValidZ85Key(publicKey)) {
      auto fromFile = readKeyFile(publicKey);
      if (!fromFile) {
        fail(kExitUsage, "PUBKEY '" + publicKey + "' is neither a 40-character Z85 key nor a "
                         "readable key file (" + fromFile.error().message + ")");
      }
      publicKey = *fromFile;
    }
    AdminRequest request;
    request.body = EnrollHost{*name, publicKey};
    printOkOrExit(callAdminOrExit(admin, request), *enrollJson, "enroll host " + *name);
  });

  auto* revoke = hosts->add_subcommand("revoke", "remove a host's key; its messages are ignored at once");
  auto revokeName = std::make_shared<std::string>();
  revoke->add_option("NAME", *revokeName, "host name")->required();
  auto revokeJson = std::make_shared<bool>(false);
  revoke->add_flag("--json", *revokeJson, "print JSON");
  revoke->callback([&admin, revokeName, revokeJson] {
    AdminRequest request;
    request.body = RevokeHost{*revokeName};
    printOkOrExit(callAdminOrExit(admin, request), *revokeJson, "revoke host " + *revokeName);
  });
}

}  // namespace rollgate::cli
