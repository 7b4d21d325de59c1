#include "coordinator/admin_api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/keys.h"
#include "common/rollout_view.h"
#include "common/sys/error.h"
#include "coordinator/console_feed.h"

namespace rollgate::coordinator {
namespace {

AdminReply replyWith(decltype(AdminReply::body) body) {
  AdminReply reply;
  reply.body = std::move(body);
  return reply;
}

AdminReply okOrError(const Result<std::string>& result, bool asJson) {
  if (!result) return replyWith(AdminError{result.error().message});
  if (asJson) return replyWith(JsonDocument{*result});
  return replyWith(AdminOk{*result});
}

}  // namespace

std::string freezeText(const FreezeState& freeze) {
  const std::string by = freeze.by.empty() ? "an operator" : freeze.by;
  if (freeze.reason.empty()) return "frozen by " + by;
  // Stores from before the freeze had an author hold "<reason> (<by>)" as the reason.
  if (freeze.by.empty()) return freeze.reason;
  return freeze.reason + " (" + by + ")";
}

Welcome welcomeFor(const CoordinatorConfig& config, const std::string& host, std::uint64_t epoch,
                   bool frozen) {
  Welcome welcome;
  welcome.host = host;
  welcome.epoch = epoch;
  welcome.heartbeatMillis = static_cast<std::uint32_t>(config.heartbeatSeconds * 1000);
  welcome.windowMillis = static_cast<std::uint32_t>(config.windowSeconds * 1000);
  welcome.frozen = frozen;
  return welcome;
}

AdminApi::AdminApi(AdminApiParts parts) : parts_(std::move(parts)) {}

Status AdminApi::restore() {
  auto frozen = parts_.store.frozen();
  if (!frozen) return frozen.error();
  frozen_ = *frozen;
  return {};
}

std::optional<AdminReply> AdminApi::handle(const std::string& operatorName,
                                           const std::string& routingId,
                                           const AdminRequest& request) {
  Caller caller{operatorName, ReplyTo{routingId, request.requestId}};
  return std::visit([&](const auto& body) { return on(caller, body); }, request.body);
}

std::string AdminApi::recordEvent(const std::string& kind, const std::string& host,
                                  const std::string& rolloutId, const std::string& message) {
  auto status = parts_.store.recordEvent(
      EventRecord{parts_.clock.nowMillis(), kind, host, rolloutId, message});
  if (status) return "";
  parts_.logger->error("cannot record '{}' in the event log ({}): {}", kind, message,
                       status.error().message);
  return " (not recorded in the event log: " + status.error().message + ")";
}

std::string AdminApi::shareEnrollment(const EnrollmentRecord& record) {
  if (!parts_.store.sharesEnrollments()) return "";
  if (auto status = parts_.store.saveEnrollments({record}); !status) {
    parts_.logger->error("host {}: {} here, but not kept for the other coordinators: {}",
                         record.name, record.revoked ? "revoked" : "enrolled",
                         status.error().message);
    return " (only on this coordinator: the store did not keep it for the others: " +
           status.error().message + ")";
  }
  return "";
}

std::optional<AdminReply> AdminApi::on(const Caller&, const ListHosts&) {
  HostList list;
  list.hosts = parts_.registry.list(parts_.clock.nowMillis());
  list.freeze = frozen_;
  return replyWith(std::move(list));
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const EnrollHost& request) {
  if (!isValidZ85Key(request.publicKey)) {
    return replyWith(AdminError{"public key for host " + request.name +
                                " is not a 40-character Z85 CURVE key"});
  }
  if (auto existing = parts_.agents.keyForName(request.name)) {
    if (*existing == request.publicKey) {
      return replyWith(AdminOk{"host " + request.name + " is already enrolled with this key"});
    }
    return replyWith(AdminError{"host " + request.name +
                                " is already enrolled with a different key; revoke it first"});
  }
  if (auto owner = parts_.agents.nameForKey(request.publicKey)) {
    return replyWith(AdminError{"this key is already enrolled as host " + *owner});
  }
  ::mkdir(parts_.config.agentsDir.c_str(), 0755);
  std::string path = parts_.config.agentsDir + "/" + request.name + ".pub";
  if (auto status = writeKeyFile(path, request.publicKey, 0644); !status) {
    return replyWith(AdminError{status.error().message});
  }
  parts_.agents.set(request.name, request.publicKey);
  parts_.logger->info("operator {} enrolled host {}", caller.operatorName, request.name);
  std::string note =
      recordEvent("host_enrolled", request.name, "", "by operator " + caller.operatorName) +
      shareEnrollment(EnrollmentRecord{request.name, request.publicKey, false,
                                       parts_.clock.nowMillis(), caller.operatorName});
  return replyWith(AdminOk{"enrolled host " + request.name + note});
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const RevokeHost& request) {
  if (!parts_.agents.keyForName(request.name)) {
    return replyWith(AdminError{"no enrolled host named " + request.name});
  }
  std::string path = parts_.config.agentsDir + "/" + request.name + ".pub";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return replyWith(AdminError{"cannot remove " + path + ": " + sys::errnoMessage(errno)});
  }
  std::string revokedKey = parts_.agents.keyForName(request.name).value_or("");
  parts_.agents.remove(request.name);
  parts_.registry.remove(request.name);
  parts_.logger->info("operator {} revoked host {}; its messages are ignored from now on",
                      caller.operatorName, request.name);
  std::string note =
      recordEvent("host_revoked", request.name, "", "by operator " + caller.operatorName) +
      shareEnrollment(EnrollmentRecord{request.name, revokedKey, true, parts_.clock.nowMillis(),
                                       caller.operatorName});
  if (auto status = parts_.store.deleteHost(request.name); !status) {
    parts_.logger->error("host {}: revoked, but its record cannot be removed from the store: {}",
                         request.name, status.error().message);
    return replyWith(AdminError{"revoked host " + request.name +
                                " (its key is refused from now on), but its record cannot be "
                                "removed from the store: " +
                                status.error().message + note});
  }
  return replyWith(AdminOk{"revoked host " + request.name + note});
}

std::optional<AdminReply> AdminApi::on(const Caller&, const QueryTelemetry& request) {
  if (!parts_.registry.find(request.host, parts_.clock.nowMillis())) {
    return replyWith(AdminError{"no host named " + request.host});
  }
  // The newest windows are shown once written: waits for the ingest thread (at most 2 s).
  if (auto status = parts_.telemetry.flush(2000); !status) {
    return replyWith(AdminError{"cannot store telemetry: " + status.error().message});
  }
  auto windows = parts_.telemetry.latest(
      request.host, request.service,
      std::min<std::uint32_t>(request.last == 0 ? 10 : request.last, 10000));
  if (!windows) return replyWith(AdminError{windows.error().message});
  return replyWith(WindowList{std::move(*windows)});
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const PushArtifact& piece) {
  std::uint64_t now = parts_.clock.nowMillis();
  auto stored = parts_.artifacts.receive(piece, caller.operatorName, now);
  if (!stored) return replyWith(AdminError{stored.error().message});
  std::string note;
  if (piece.final) {
    parts_.logger->info("operator {}: {}", caller.operatorName, *stored);
    note = recordEvent("artifact_pushed", "", "", *stored + " by " + caller.operatorName);
  }
  return replyWith(AdminOk{*stored + note});
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const ManualCommand& request) {
  auto host = parts_.registry.find(request.host, parts_.clock.nowMillis());
  if (!host) return replyWith(AdminError{"no host named " + request.host});
  bool declared = std::any_of(host->services.begin(), host->services.end(),
                              [&](const ServiceRelease& s) { return s.service == request.service; });
  if (!declared) {
    return replyWith(
        AdminError{"host " + request.host + " does not declare service " + request.service});
  }
  if (!parts_.registry.routingIdOf(request.host) || !host->connected) {
    return replyWith(AdminError{"host " + request.host + " is not connected"});
  }
  Command command;
  command.service = request.service;
  command.ref.rolloutId = "manual-" + std::to_string(parts_.store.epoch()) + "-" +
                          std::to_string(++manualCommands_);
  std::string what;
  if (request.kind == ManualCommand::Kind::kInstall) {
    auto artifact = parts_.artifacts.find(request.service, request.version);
    if (!artifact) {
      return replyWith(AdminError{"no artifact for " + request.service + " " + request.version +
                                  " (push it first: rollgate artifact push FILE --service " +
                                  request.service + " --version " + request.version + ")"});
    }
    command.body = InstallRelease{artifact->version, artifact->sha256, artifact->sizeBytes,
                                  "coordinator", artifact->signature, true};
    what = "install " + request.service + " " + request.version;
  } else {
    command.body = RollBackRelease{request.version, true};
    what = "roll back " + request.service +
           (request.version.empty() ? " to the previous release" : " to " + request.version);
  }
  Outbox& outbox = parts_.outbox;
  ReplyTo replyTo = caller.replyTo;
  auto onProgress = [&outbox, replyTo](const CommandResult& progress) {
    AdminReply interim;
    interim.final = false;
    interim.body = progress;
    outbox.toAdmin(replyTo, std::move(interim));
  };
  auto onResult = [&outbox, replyTo](const CommandResult& result) {
    outbox.toAdmin(replyTo, replyWith(result));
  };
  auto sent = parts_.commands.send(request.host, command, onResult, onProgress);
  if (!sent) return replyWith(AdminError{sent.error().message});
  parts_.logger->info("operator {}: {} on host {} (command {} #{})", caller.operatorName, what,
                      request.host, sent->rolloutId, sent->sequence);
  // A manual command is the operator's own: it is not re-sent after a restart, so its ref is not
  // saved; a failed event-log entry is logged (the reply is the command's result).
  recordEvent("manual_command", request.host, sent->rolloutId, what + " by " + caller.operatorName);
  return std::nullopt;
}

std::optional<AdminReply> AdminApi::on(const Caller&, const ListReleases& request) {
  auto host = parts_.registry.find(request.host, parts_.clock.nowMillis());
  if (!host) return replyWith(AdminError{"no host named " + request.host});
  return replyWith(HostList{{*host}, std::nullopt});
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const StartRollout& request) {
  if (frozen_) {
    return replyWith(AdminError{"rollouts are frozen fleet-wide (" + freezeText(*frozen_) +
                                "); rollgate unfreeze lifts it"});
  }
  if (auto revert = parts_.reverts.runningFor(request.service)) {
    return replyWith(AdminError{"revert " + *revert + " of service " + request.service +
                                " is still running; rollgate revert status " + *revert});
  }
  // The reply may come from a later tick (a rollout with Prometheus checks queries them first).
  struct Pending {
    bool returned = false;            // on() has returned: the reply goes through the outbox
    std::optional<AdminReply> reply;  // a reply given before on() returned
  };
  auto pending = std::make_shared<Pending>();
  Outbox& outbox = parts_.outbox;
  parts_.rollouts.start(
      request, caller.operatorName,
      [pending, &outbox, replyTo = caller.replyTo, dryRun = request.dryRun](
          Result<std::string> summary) {
        AdminReply reply = !summary ? replyWith(AdminError{summary.error().message})
                           : dryRun ? replyWith(AdminOk{*summary})
                                    : replyWith(JsonDocument{"{\"rollout\": " + *summary + "}"});
        if (pending->returned) {
          outbox.toAdmin(replyTo, std::move(reply));
        } else {
          pending->reply = std::move(reply);
        }
      });
  pending->returned = true;
  return std::move(pending->reply);
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const RolloutAction& request) {
  return okOrError(parts_.rollouts.act(request, caller.operatorName), false);
}

std::optional<AdminReply> AdminApi::on(const Caller&, const ListRollouts&) {
  auto list = parts_.rollouts.listJson();
  if (!list || !frozen_) return okOrError(list, true);
  auto doc = nlohmann::json::parse(*list);
  doc["freeze"] = toJson(*frozen_);
  return replyWith(JsonDocument{doc.dump()});
}

std::optional<AdminReply> AdminApi::on(const Caller&, const DescribeRollout& request) {
  return okOrError(parts_.rollouts.describeJson(request.rolloutId), true);
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const AbortRequest& request) {
  return parts_.aborts.start(caller.operatorName, caller.replyTo, request);
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const FreezeRequest& request) {
  const std::string& operatorName = caller.operatorName;
  std::optional<FreezeState> freeze;
  if (request.frozen) {
    freeze = FreezeState{operatorName, request.reason, parts_.clock.nowMillis()};
  }
  if (auto status = parts_.store.setFrozen(freeze); !status) {
    parts_.logger->error("operator {}: cannot {} rollouts: {}", operatorName,
                         freeze ? "freeze" : "unfreeze", status.error().message);
    return replyWith(AdminError{status.error().message});
  }
  frozen_ = freeze;
  const std::optional<std::string> reason =
      freeze ? std::optional<std::string>(freezeText(*freeze)) : std::nullopt;
  Broadcast message;
  if (reason) {
    message.body = Freeze{*reason};
  } else {
    message.body = Resume{};
  }
  parts_.outbox.broadcast(std::move(message));
  // The broadcast is lossy; every connected agent is also told on its own connection.
  for (const auto& host : parts_.registry.list(parts_.clock.nowMillis())) {
    auto routingId = parts_.registry.routingIdOf(host.name);
    if (!routingId) continue;
    parts_.outbox.toAgent(*routingId, welcomeFor(parts_.config, host.name, parts_.store.epoch(),
                                                 reason.has_value()));
  }
  parts_.logger->warn("operator {}: rollouts {} fleet-wide{}", operatorName,
                      reason ? "FROZEN" : "unfrozen", reason ? ": " + *reason : "");
  std::string note =
      recordEvent(reason ? "freeze" : "unfreeze", "", "", reason.value_or("by " + operatorName));
  std::string held;
  if (freeze && request.holdRunning) held = holdRunning(operatorName);
  return replyWith(AdminOk{(reason ? "new rollouts are blocked fleet-wide: " + *reason
                                   : std::string("new rollouts are allowed again")) +
                           held + note});
}

std::string AdminApi::holdRunning(const std::string& operatorName) {
  std::vector<std::string> paused;
  std::vector<std::string> notPaused;
  for (const auto& id : parts_.rollouts.activeIds()) {
    auto done = parts_.rollouts.act(RolloutAction{id, RolloutAction::Action::kPause}, operatorName);
    if (done) {
      paused.push_back(id);
    } else {
      notPaused.push_back(id + " (" + done.error().message + ")");
    }
  }
  const auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
  };
  std::string out = paused.empty() ? "; no running rollout to pause"
                                   : "; paused running rollouts: " + join(paused);
  if (!notPaused.empty()) out += "; not paused: " + join(notPaused);
  parts_.logger->warn("operator {}: freeze holds running rollouts{}", operatorName, out);
  return out;
}

std::optional<AdminReply> AdminApi::on(const Caller&, const WatchRollout&) {
  return replyWith(AdminError{"this coordinator does not implement that request yet"});
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const RevertRequest& request) {
  // A revert goes ahead while rollouts are frozen: it only goes back.
  return okOrError(parts_.reverts.start(request, caller.operatorName), true);
}

std::optional<AdminReply> AdminApi::on(const Caller&, const DescribeRevert& request) {
  return okOrError(parts_.reverts.describe(request.revertId), true);
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const TrainRequest& request) {
  if (trains_ == nullptr) return replyWith(AdminError{"this coordinator runs no release trains"});
  return okOrError(trains_->handle(request, caller.operatorName), true);
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const ConsoleTokenRequest& request) {
  auto token = issueConsoleToken(parts_.store, request, caller.operatorName,
                                 parts_.clock.nowMillis());
  if (!token) return replyWith(AdminError{token.error().message});
  parts_.logger->info("operator {} issued a console token for {} ({})", caller.operatorName,
                      request.operatorName, request.role);
  std::string note = recordEvent("console_token", "", "",
                                 "console token for " + request.operatorName + " (" +
                                     request.role + ") issued by " + caller.operatorName);
  nlohmann::json doc = {{"token", token->first},
                        {"operator", request.operatorName},
                        {"role", request.role},
                        {"expiresMillis", token->second.expiresMillis},
                        {"note", note}};
  return replyWith(JsonDocument{doc.dump()});
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const BacktestRequest& request) {
  if (backtests_ == nullptr) return replyWith(AdminError{"this coordinator runs no backtests"});
  return backtests_->start(request, caller.replyTo, caller.operatorName);
}

std::optional<AdminReply> AdminApi::on(const Caller& caller, const LabelRollout& request) {
  auto result = parts_.rollouts.label(request, caller.operatorName);
  if (!result) return replyWith(AdminError{result.error().message});
  std::string note = recordEvent("rollout_label", "", request.rolloutId,
                                 "labelled " + request.label + " by " + caller.operatorName +
                                     (request.reason.empty() ? "" : ": " + request.reason));
  return replyWith(AdminOk{*result + note});
}

}  // namespace rollgate::coordinator
