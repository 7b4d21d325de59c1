#include "coordinator/revert_job.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/version.h"

namespace rollgate::coordinator {
namespace {

using nlohmann::json;

bool declares(const HostInfo& host, const std::string& service, const ServiceRelease** out) {
  for (const auto& s : host.services) {
    if (s.service == service) {
      *out = &s;
      return true;
    }
  }
  return false;
}

bool keeps(const ServiceRelease& service, const std::string& version) {
  return std::find(service.releases.begin(), service.releases.end(), version) !=
         service.releases.end();
}

bool answered(RevertHostStatus status) {
  return status == RevertHostStatus::kSucceeded || status == RevertHostStatus::kFailed;
}

// The newest release older than `newest` that some host of the service keeps.
std::optional<std::string> previousKept(const std::vector<const ServiceRelease*>& services,
                                        const std::string& newest) {
  std::optional<std::string> best;
  for (const auto* service : services) {
    for (const auto& version : service->releases) {
      if (compareVersions(version, newest) >= 0) continue;
      if (!best || compareVersions(version, *best) > 0) best = version;
    }
  }
  return best;
}

template <typename Enum, std::size_t N>
Result<Enum> enumFromName(const std::string& name, const char* (&nameOf)(Enum),
                          const Enum (&values)[N], const std::string& key) {
  for (Enum value : values) {
    if (name == nameOf(value)) return value;
  }
  return makeError("revert state: " + key + ": unknown value '" + name + "'");
}

constexpr RevertMethod kMethods[] = {RevertMethod::kNone, RevertMethod::kRollback,
                                     RevertMethod::kInstall};
constexpr RevertHostStatus kStatuses[] = {RevertHostStatus::kPending, RevertHostStatus::kSent,
                                          RevertHostStatus::kSucceeded, RevertHostStatus::kFailed};

json refToJson(const CommandRef& ref) {
  return {{"rollout_id", ref.rolloutId}, {"sequence", ref.sequence}, {"epoch", ref.epoch}};
}

}  // namespace

const char* revertMethodName(RevertMethod method) {
  switch (method) {
    case RevertMethod::kNone:
      return "none";
    case RevertMethod::kRollback:
      return "rollback";
    case RevertMethod::kInstall:
      return "install";
  }
  return "none";
}

const char* revertHostStatusName(RevertHostStatus status) {
  switch (status) {
    case RevertHostStatus::kPending:
      return "pending";
    case RevertHostStatus::kSent:
      return "sent";
    case RevertHostStatus::kSucceeded:
      return "succeeded";
    case RevertHostStatus::kFailed:
      return "failed";
  }
  return "pending";
}

std::uint32_t revertBatchSize(const RevertRequest& request, std::size_t hosts) {
  std::uint64_t size = hosts;
  if (request.batchHosts > 0) {
    size = request.batchHosts;
  } else if (request.batchPercent > 0) {
    size = (hosts * request.batchPercent + 99) / 100;
  }
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(size, 1, UINT32_MAX));
}

Result<RevertState> planRevert(const RevertRequest& request, const std::vector<HostInfo>& fleet,
                               const ArtifactLookup& artifacts, std::uint64_t nowMillis) {
  const std::string& service = request.service;
  if (request.batchPercent > 100) {
    return makeError("--batch " + std::to_string(request.batchPercent) +
                     "%: a percentage of hosts must be 1 to 100");
  }
  std::vector<const HostInfo*> hosts;
  std::vector<const ServiceRelease*> services;
  for (const auto& host : fleet) {
    const ServiceRelease* declared = nullptr;
    if (!declares(host, service, &declared)) continue;
    hosts.push_back(&host);
    services.push_back(declared);
  }
  if (hosts.empty()) return makeError("no host declares service " + service);
  RevertState state;
  state.service = service;
  state.reason = request.reason;
  state.createdMillis = nowMillis;
  state.batchSize = revertBatchSize(request, hosts.size());
  std::size_t newestAt = hosts.size();
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const std::string& active = services[i]->activeRelease;
    if (active.empty()) continue;
    if (newestAt == hosts.size() || compareVersions(active, state.newestActive) > 0) {
      state.newestActive = active;
      newestAt = i;
    }
  }
  if (request.toVersion.empty()) {
    if (state.newestActive.empty()) {
      return makeError("no host of service " + service +
                       " has an active release to revert from; name one with --to VERSION");
    }
    auto previous = previousKept(services, state.newestActive);
    if (!previous) {
      return makeError("no host of service " + service + " keeps a release older than " +
                       state.newestActive + "; name one with --to VERSION");
    }
    state.toVersion = *previous;
  } else {
    state.toVersion = request.toVersion;
    if (!state.newestActive.empty() && compareVersions(state.toVersion, state.newestActive) > 0) {
      return makeError("release " + state.toVersion + " of service " + service + " is newer than " +
                       state.newestActive + ", the newest active (on host " +
                       hosts[newestAt]->name +
                       "): a revert only goes back; roll it out with "
                       "rollgate rollout start");
    }
  }
  state.artifact = artifacts(service, state.toVersion);
  bool anyKeeps = std::any_of(services.begin(), services.end(), [&](const ServiceRelease* s) {
    return s->activeRelease == state.toVersion || keeps(*s, state.toVersion);
  });
  if (!anyKeeps && !state.artifact) {
    return makeError("release " + state.toVersion + " of service " + service +
                     ": no host keeps it and the artifact store has none (push it with rollgate "
                     "artifact push FILE --service " +
                     service + " --version " + state.toVersion + ")");
  }
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    RevertHost host;
    host.name = hosts[i]->name;
    host.fromRelease = services[i]->activeRelease;
    host.activeRelease = host.fromRelease;
    // The registry's view of a host is as old as its last heartbeat: every host gets a command
    // (one already on the target answers at once). With the artifact at hand the command is an
    // install flagged as a revert, which fetches only when the host lacks the release; without
    // it, a rollback, which only a host that keeps the release can take.
    if (state.artifact) {
      host.method = RevertMethod::kInstall;
    } else if (host.fromRelease == state.toVersion || keeps(*services[i], state.toVersion)) {
      host.method = RevertMethod::kRollback;
    } else {
      host.status = RevertHostStatus::kFailed;
      host.message = "does not keep release " + state.toVersion +
                     " and the artifact store has none to send it";
      host.doneMillis = nowMillis;
    }
    state.hosts.push_back(std::move(host));
  }
  std::sort(state.hosts.begin(), state.hosts.end(),
            [](const RevertHost& a, const RevertHost& b) { return a.name < b.name; });
  return state;
}

std::vector<std::size_t> dueHosts(const RevertState& state) {
  std::size_t inFlight = std::count_if(state.hosts.begin(), state.hosts.end(), [](const auto& h) {
    return h.status == RevertHostStatus::kSent;
  });
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < state.hosts.size() && inFlight + out.size() < state.batchSize; ++i) {
    if (state.hosts[i].status == RevertHostStatus::kPending) out.push_back(i);
  }
  return out;
}

bool applyRevertResult(RevertState& state, const std::string& host, const CommandResult& result,
                       std::uint64_t nowMillis) {
  auto it = std::find_if(state.hosts.begin(), state.hosts.end(),
                         [&](const RevertHost& h) { return h.name == host; });
  if (it == state.hosts.end() || it->status != RevertHostStatus::kSent || !it->ref ||
      *it->ref != result.command || result.progress) {
    return false;
  }
  it->activeRelease = result.activeRelease;
  it->message = result.message;
  it->doneMillis = nowMillis;
  bool onTarget = result.activeRelease == state.toVersion;
  bool succeeded =
      result.outcome == Outcome::kSucceeded ||
      ((result.outcome == Outcome::kStale || result.outcome == Outcome::kInterrupted) && onTarget);
  it->status = succeeded ? RevertHostStatus::kSucceeded : RevertHostStatus::kFailed;
  if (!succeeded) {
    it->message = std::string(outcomeName(result.outcome)) + ": " + result.message;
  }
  finishIfDone(state, nowMillis);
  return true;
}

std::vector<std::string> expireSilentHosts(RevertState& state, std::uint64_t nowMillis) {
  std::vector<std::string> expired;
  for (auto& host : state.hosts) {
    if (host.status != RevertHostStatus::kSent ||
        nowMillis < host.sentMillis + kRevertAnswerMillis) {
      continue;
    }
    host.status = RevertHostStatus::kFailed;
    host.message = "no answer within " + std::to_string(kRevertAnswerMillis / 1000) +
                   " s (it gets the command when it comes back)";
    host.doneMillis = nowMillis;
    expired.push_back(host.name);
  }
  if (!expired.empty()) finishIfDone(state, nowMillis);
  return expired;
}

void finishIfDone(RevertState& state, std::uint64_t nowMillis) {
  if (state.finished()) return;
  bool done = std::all_of(state.hosts.begin(), state.hosts.end(),
                          [](const RevertHost& h) { return answered(h.status); });
  if (done) state.finishedMillis = std::max<std::uint64_t>(nowMillis, 1);
}

std::string revertStatus(const RevertState& state) {
  if (!state.finished()) return "running";
  bool failed = std::any_of(state.hosts.begin(), state.hosts.end(), [](const RevertHost& h) {
    return h.status == RevertHostStatus::kFailed;
  });
  return failed ? "failed" : "succeeded";
}

Command revertCommand(const RevertState& state, const RevertHost& host) {
  Command command;
  command.service = state.service;
  command.ref.rolloutId = state.id;
  if (host.method == RevertMethod::kInstall && state.artifact) {
    const ArtifactInfo& a = *state.artifact;
    InstallRelease install{a.version, a.sha256, a.sizeBytes, "coordinator", a.signature, true};
    install.revert = true;
    command.body = install;
  } else {
    command.body = RollBackRelease{state.toVersion, true};
  }
  return command;
}

std::string revertToJson(const RevertState& state) {
  json hosts = json::array();
  for (const auto& h : state.hosts) {
    json host = {{"host", h.name},
                 {"from", h.fromRelease},
                 {"method", revertMethodName(h.method)},
                 {"status", revertHostStatusName(h.status)},
                 {"message", h.message},
                 {"active_release", h.activeRelease},
                 {"sent_ms", h.sentMillis},
                 {"done_ms", h.doneMillis}};
    if (h.ref) host["ref"] = refToJson(*h.ref);
    hosts.push_back(std::move(host));
  }
  json out = {{"id", state.id},
              {"seq", state.seq},
              {"service", state.service},
              {"to_version", state.toVersion},
              {"newest_active", state.newestActive},
              {"reason", state.reason},
              {"requested_by", state.requestedBy},
              {"batch_size", state.batchSize},
              {"created_ms", state.createdMillis},
              {"finished_ms", state.finishedMillis},
              {"aborted_rollouts", state.abortedRollouts},
              {"hosts", hosts}};
  if (state.artifact) {
    out["artifact"] = {{"version", state.artifact->version},
                       {"sha256", state.artifact->sha256},
                       {"size_bytes", state.artifact->sizeBytes},
                       {"signature_hex", toHex(state.artifact->signature)}};
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<RevertState> revertFromJson(const std::string& text) {
  json in = json::parse(text, nullptr, false);
  if (!in.is_object()) return makeError("revert state: not a JSON object");
  try {
    RevertState state;
    state.id = in.at("id").get<std::string>();
    state.seq = in.at("seq").get<std::uint64_t>();
    state.service = in.at("service").get<std::string>();
    state.toVersion = in.at("to_version").get<std::string>();
    state.newestActive = in.value("newest_active", "");
    state.reason = in.value("reason", "");
    state.requestedBy = in.value("requested_by", "");
    state.batchSize = std::max<std::uint32_t>(in.at("batch_size").get<std::uint32_t>(), 1);
    state.createdMillis = in.at("created_ms").get<std::uint64_t>();
    state.finishedMillis = in.at("finished_ms").get<std::uint64_t>();
    state.abortedRollouts = in.value("aborted_rollouts", std::vector<std::string>{});
    if (in.contains("artifact")) {
      const json& a = in["artifact"];
      ArtifactInfo artifact;
      artifact.service = state.service;
      artifact.version = a.at("version").get<std::string>();
      artifact.sha256 = a.at("sha256").get<std::string>();
      artifact.sizeBytes = a.at("size_bytes").get<std::uint64_t>();
      auto signature = fromHex(a.value("signature_hex", ""));
      if (!signature) return makeError("revert state: artifact.signature_hex: not hex");
      artifact.signature = *signature;
      state.artifact = artifact;
    }
    for (const auto& h : in.at("hosts")) {
      RevertHost host;
      host.name = h.at("host").get<std::string>();
      host.fromRelease = h.value("from", "");
      auto method = enumFromName(h.at("method").get<std::string>(), revertMethodName, kMethods,
                                 "hosts.method");
      if (!method) return method.error();
      host.method = *method;
      auto status = enumFromName(h.at("status").get<std::string>(), revertHostStatusName, kStatuses,
                                 "hosts.status");
      if (!status) return status.error();
      host.status = *status;
      host.message = h.value("message", "");
      host.activeRelease = h.value("active_release", "");
      host.sentMillis = h.value("sent_ms", std::uint64_t{0});
      host.doneMillis = h.value("done_ms", std::uint64_t{0});
      if (h.contains("ref")) {
        const json& r = h["ref"];
        host.ref =
            CommandRef{r.at("rollout_id").get<std::string>(), r.at("sequence").get<std::uint64_t>(),
                       r.at("epoch").get<std::uint64_t>()};
      }
      state.hosts.push_back(std::move(host));
    }
    return state;
  } catch (const json::exception& e) {
    return makeError(std::string("revert state: ") + e.what());
  }
}

std::string revertReport(const RevertState& state, std::uint64_t nowMillis) {
  json out = json::parse(revertToJson(state));
  out.erase("artifact");
  out.erase("seq");
  for (auto& host : out["hosts"]) {
    host.erase("ref");
    std::uint64_t sent = host["sent_ms"].get<std::uint64_t>();
    std::uint64_t done = host["done_ms"].get<std::uint64_t>();
    host["elapsed_ms"] = sent == 0 || done < sent ? 0 : done - sent;
  }
  json counts = json::object();
  for (RevertHostStatus status : kStatuses) counts[revertHostStatusName(status)] = 0;
  for (const auto& h : state.hosts)
    counts[revertHostStatusName(h.status)] = counts[revertHostStatusName(h.status)].get<int>() + 1;
  out["counts"] = counts;
  out["status"] = revertStatus(state);
  std::uint64_t end = state.finished() ? state.finishedMillis : nowMillis;
  out["elapsed_ms"] = end > state.createdMillis ? end - state.createdMillis : 0;
  return json{{"revert", out}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rollgate::coordinator
