#include "agent/install/installer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "agent/install/health_probe.h"
#include "agent/install/http_status.h"
#include "agent/install/version.h"

namespace rollgate::install {
namespace {

namespace fs = std::filesystem;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

const char* outcomeText(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kFailed: return "failed";
    case Outcome::kRolledBack: return "rolled back";
    case Outcome::kStale: return "stale";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kInterrupted: return "interrupted";
    case Outcome::kInProgress: return "in progress";
  }
  return "?";
}

void clearDirectory(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code removeEc;
    fs::remove_all(entry.path(), removeEc);
  }
}

}  // namespace

struct Installer::Run {
  const Command* command = nullptr;
  const CommandProgressFn* progress = nullptr;
  JournalRecord record;
  uint64_t startedSteadyMillis = 0;
  // The load balancer could not be told to send traffic again after a restart: the command
  // fails with this reason even if the restart went well.
  std::string trafficError;
  // The plan's weight for this stage: held once the install is active and healthy.
  std::int32_t trafficWeight = -1;
  std::uint32_t trafficWeightSeconds = 0;
};

Installer::Installer(InstallerConfig config, systemd::ServiceManager& services,
                     CommandLedger& ledger, std::vector<ArtifactSource*> sources,
                     sys::Env& env, std::shared_ptr<spdlog::logger> logger)
    : config_(std::move(config)),
      stateDir_(config_.stateDir.empty() ? config_.installRoot + "/.rollgate" : config_.stateDir),
      services_(services),
      ledger_(ledger),
      sources_(std::move(sources)),
      env_(env),
      logger_(std::move(logger)),
      store_(config_.installRoot),
      journal_(stateDir_ + "/journal.json", env) {}

Status Installer::open() {
  if (auto s = store_.prepare(); !s) return s;
  std::error_code ec;
  fs::create_directories(stagingDir(), ec);
  if (ec) return makeError(stagingDir() + ": create: " + ec.message());
  auto verifier = ArtifactVerifier::fromKeyFiles(config_.trustedKeyPaths);
  if (!verifier) return makeError("service " + config_.service + ": " + verifier.error().message);
  verifier_ = std::move(*verifier);
  return {};
}

ServiceRelease Installer::describe() const {
  ServiceRelease out;
  out.service = config_.service;
  out.activeRelease = store_.activeRelease().value_or("");
  for (const auto& r : store_.listReleases()) out.releases.push_back(r.version);
  return out;
}

Status Installer::journalStep(Run& run, Step step) {
  run.record.step = step;
  if (auto s = journal_.write(run.record); !s) return s;
  if (run.progress && *run.progress) {
    CommandResult p;
    p.command = run.command->ref;
    p.service = config_.service;
    p.outcome = Outcome::kInProgress;
    p.progress = true;
    p.message = stepName(step);
    p.activeRelease = store_.activeRelease().value_or("");
    (*run.progress)(p);
  }
  if (beforeStep_) beforeStep_(step);
  return {};
}

CommandResult Installer::finish(Run& run, Outcome outcome, std::string message) {
  if (!run.trafficError.empty()) {
    if (outcome == Outcome::kSucceeded) outcome = Outcome::kFailed;
    message += "; " + run.trafficError;
  }
  CommandResult result;
  result.command = run.command->ref;
  result.service = config_.service;
  result.outcome = outcome;
  result.activeRelease = store_.activeRelease().value_or("");
  result.message = std::move(message);
  result.events = run.record.events;
  result.durationMillis = env_.steadyMillis() - run.startedSteadyMillis;
  if (auto s = ledger_.record(result); !s) {
    logger_->error("service {}: cannot record result of command {}/{}: {}", config_.service,
                   result.command.epoch, result.command.sequence, s.error().message);
    result.events.push_back("warning: result not recorded: " + s.error().message);
  }
  if (auto s = journal_.clear(); !s) {
    logger_->error("service {}: {}", config_.service, s.error().message);
  }
  auto log = outcome == Outcome::kSucceeded ? spdlog::level::info : spdlog::level::warn;
  logger_->log(log, "service {}: rollout {} seq {}: {} {}: {}: {}", config_.service,
               result.command.rolloutId, result.command.sequence,
               commandKindName(run.record.kind), run.record.version, outcomeText(outcome),
               result.message);
  return result;
}

CommandResult Installer::execute(const Command& command, const CommandProgressFn& progress,
                                 const std::atomic<bool>& cancel) {
  Run run;
  run.command = &command;
  run.progress = &progress;
  run.startedSteadyMillis = env_.steadyMillis();
  run.record.ref = command.ref;
  run.record.service = config_.service;
  run.record.previous = store_.activeRelease().value_or("");
  run.record.startedMillis = env_.nowMillis();

  auto check = ledger_.check(command.ref);
  if (check.verdict == CommandLedger::Verdict::kDuplicate) return *check.recorded;
  if (check.verdict == CommandLedger::Verdict::kStale) {
    CommandRef last = ledger_.lastApplied();
    CommandResult result;
    result.command = command.ref;
    result.service = config_.service;
    result.outcome = Outcome::kStale;
    result.activeRelease = run.record.previous;
    result.message = "command (epoch " + std::to_string(command.ref.epoch) + ", sequence " +
                     std::to_string(command.ref.sequence) +
                     ") is not newer than the last applied (epoch " + std::to_string(last.epoch) +
                     ", sequence " + std::to_string(last.sequence) + "); ignored";
    return result;
  }
  recoverTrafficGate(run);
  if (command.service != config_.service) {
    run.record.kind = CommandKind::kInstall;
    return finish(run, Outcome::kFailed,
                  "command for service '" + command.service + "' sent to installer of '" +
                      config_.service + "'");
  }
  return std::visit(
      Overloaded{
          [&](const InstallRelease& body) { return install(run, body, cancel); },
          [&](const ActivateRelease& body) { return activate(run, body.version, false); },
          [&](const RollBackRelease& body) { return rollback(run, body); },
          [&](const RestartBaseline&) { return restartOnly(run); },
          [&](const CancelCommand&) {
            return finish(run, Outcome::kFailed,
                          "cancel is handled by the agent's event loop, not the installer");
          },
      },
      command.body);
}

CommandResult Installer::install(Run& run, const InstallRelease& body,
                                 const std::atomic<bool>& cancel) {
  run.record.kind = CommandKind::kInstall;
  run.record.version = body.version;
  run.record.sha256 = body.sha256;
  run.trafficWeight = body.trafficWeight;
  run.trafficWeightSeconds = body.trafficWeightSeconds;
  if (auto s = validateVersion(body.version); !s) {
    return finish(run, Outcome::kFailed, s.error().message);
  }
  if (auto s = parseSha256Hex(body.sha256); !s) {
    return finish(run, Outcome::kFailed, "install " + body.version + ": " + s.error().message);
  }
  const std::string& active = run.record.previous;
  if (!active.empty() && active == body.version) {
    return finish(run, Outcome::kSucceeded, "release " + body.version + " is already active");
  }
  // Only an operator's revert may go to an older release (docs/revert.md).
  if (!active.empty() && body.activate && !body.revert &&
      compareVersions(body.version, active) < 0) {
    return finish(run, Outcome::kFailed,
                  "refusing to install " + body.version + ": older than the active release " +
                      active + " (use an explicit rollback or rollgate revert)");
  }
  if (store_.hasRelease(body.version)) {
    run.record.events.push_back("release " + body.version + " already unpacked; not fetched");
  } else {
    std::string staging = stagingDir() + "/" + body.sha256 + ".part";
    auto failFetch = [&](Outcome outcome, const std::string& message) {
      if (outcome != Outcome::kCancelled) ::unlink(staging.c_str());
      return finish(run, outcome, message);
    };
    if (auto s = journalStep(run, Step::kFetch); !s) return finish(run, Outcome::kFailed, s.error().message);
    if (cancel.load()) return failFetch(Outcome::kCancelled, "cancelled before fetch");
    ArtifactSource* source = nullptr;
    for (auto* candidate : sources_) {
      if (candidate->handles(body.source)) {
        source = candidate;
        break;
      }
    }
    if (source == nullptr) {
      return failFetch(Outcome::kFailed, "no artifact source for '" + body.source + "'");
    }
    FetchRequest request{body.source, body.sha256, body.sizeBytes, staging};
    ProgressFn bytes = [&](uint64_t done, uint64_t total) {
      if (!*run.progress) return;
      CommandResult p;
      p.command = run.command->ref;
      p.service = config_.service;
      p.outcome = Outcome::kInProgress;
      p.progress = true;
      p.message = "fetch";
      p.bytesDone = done;
      p.bytesTotal = total;
      (*run.progress)(p);
    };
    if (auto s = source->fetch(request, bytes, cancel); !s) {
      bool cancelled = cancel.load() && s.error().message == "cancelled";
      return failFetch(cancelled ? Outcome::kCancelled : Outcome::kFailed,
                       "fetch " + body.source + ": " + s.error().message);
    }
    if (auto s = journalStep(run, Step::kVerify); !s) return failFetch(Outcome::kFailed, s.error().message);
    if (cancel.load()) return failFetch(Outcome::kCancelled, "cancelled before verify");
    if (auto s = verifier_.verify(staging, body.sha256, body.sizeBytes, body.signature); !s) {
      return failFetch(Outcome::kFailed, "refused " + body.version + ": " + s.error().message);
    }
    run.record.events.push_back("verified " + body.version + " sha256 " + body.sha256 +
                                (verifier_.requiresSignature() ? " and signature" : ""));
    if (auto s = journalStep(run, Step::kUnpack); !s) return failFetch(Outcome::kFailed, s.error().message);
    if (cancel.load()) return failFetch(Outcome::kCancelled, "cancelled before unpack");
    auto unpacked =
        unpackRelease(staging, store_.releasesDir(), body.version, config_.unpackLimits, cancel);
    if (!unpacked) {
      bool cancelled = cancel.load() && unpacked.error().message == "cancelled";
      return failFetch(cancelled ? Outcome::kCancelled : Outcome::kFailed,
                       "unpack artifact " + config_.service + " " + body.version + ": " +
                           unpacked.error().message + "; nothing installed, the active release unchanged");
    }
    if (auto s = store_.markInstalled(body.version); !s) {
      logger_->warn("service {}: {}", config_.service, s.error().message);
    }
    run.record.events.push_back("unpacked " + body.version + ": " +
                                std::to_string(unpacked->entries) + " entries, " +
                                std::to_string(unpacked->fileBytes) + " bytes");
    clearDirectory(stagingDir());
  }
  if (!body.activate) {
    if (auto pruned = store_.prune(config_.keepReleases, {body.version}); pruned && !pruned->empty()) {
      run.record.events.push_back("pruned " + std::to_string(pruned->size()) + " old release(s)");
    }
    return finish(run, Outcome::kSucceeded, "installed " + body.version + " (not activated)");
  }
  // A revert, once the release is here, is a rollback: after a crash past the switch it completes
  // (its target is the release the operator chose) instead of going back to the newer one.
  if (body.revert) run.record.kind = CommandKind::kRollback;
  return switchAndConfirm(run);
}

CommandResult Installer::activate(Run& run, const std::string& version, bool allowOlder) {
  run.record.kind = allowOlder ? CommandKind::kRollback : CommandKind::kActivate;
  run.record.version = version;
  if (!store_.hasRelease(version)) {
    return finish(run, Outcome::kFailed, "release " + version + " is not installed");
  }
  const std::string& active = run.record.previous;
  if (active == version) {
    return finish(run, Outcome::kSucceeded, "release " + version + " is already active");
  }
  if (!allowOlder && !active.empty() && compareVersions(version, active) < 0) {
    return finish(run, Outcome::kFailed,
                  "refusing to activate " + version + ": older than the active release " +
                      active + " (use an explicit rollback)");
  }
  return switchAndConfirm(run);
}

CommandResult Installer::rollback(Run& run, const RollBackRelease& body) {
  std::string target = body.toVersion;
  if (target.empty()) {
    auto previous = store_.previousRelease();
    if (!previous) {
      run.record.kind = CommandKind::kRollback;
      return finish(run, Outcome::kFailed,
                    "no release older than the active one to roll back to");
    }
    target = *previous;
  }
  // Only an explicit rollback (an operator's, a rollout's, a revert's) may go to an older release.
  return activate(run, target, body.isExplicit);
}

CommandResult Installer::restartOnly(Run& run) {
  run.record.kind = CommandKind::kRestart;
  run.record.version = run.record.previous;
  if (auto s = journalStep(run, Step::kRestart); !s) return finish(run, Outcome::kFailed, s.error().message);
  if (auto s = restartAndProbe(run, run.record.previous); !s) {
    return finish(run, Outcome::kFailed, s.error().message);
  }
  return finish(run, Outcome::kSucceeded, "restarted on " + run.record.previous);
}

Status Installer::probeHealth() {
  if (config_.healthUrl.empty()) return {};
  HealthProbeOptions options{config_.healthUrl, config_.healthTimeoutMillis,
                             config_.healthIntervalMillis, config_.healthRequestTimeoutMillis};
  return HealthProbe(options, env_, httpGetStatus).waitHealthy();
}

void Installer::holdTrafficWeight(Run& run) {
  if (run.trafficWeight < 0) return;
  if (gate_ == nullptr) {
    run.record.events.push_back("weight " + std::to_string(run.trafficWeight) +
                                " asked for, but service " + config_.service +
                                " has no load balancer configured (haproxy); ignored");
    return;
  }
  std::uint64_t until = env_.nowMillis() + std::uint64_t{run.trafficWeightSeconds} * 1000;
  if (auto s = gate_->holdWeight(run.trafficWeight, until, run.record.events); !s) {
    logger_->error("service {}: {}", config_.service, s.error().message);
    run.trafficError = s.error().message;
  }
}

void Installer::recoverTrafficGate(Run& run) {
  if (gate_ == nullptr) return;
  if (auto s = gate_->recover(run.record.events); !s) {
    logger_->warn("service {}: {}", config_.service, s.error().message);
    run.record.events.push_back("warning: " + s.error().message);
  }
}

Status Installer::restartAndProbe(Run& run, const std::string& release) {
  if (gate_ == nullptr) return restartUnitAndProbe(run, release);
  if (auto s = gate_->drain(run.record.events); !s) {
    return makeError(s.error().message + "; " + config_.unit + " not restarted on " + release);
  }
  Status restarted = restartUnitAndProbe(run, release);
  // Traffic comes back whatever the restart did: a server that failed stays out through the
  // balancer's own health check, never through a drain left behind.
  if (auto s = gate_->restore(run.record.events); !s) {
    logger_->error("service {}: {}", config_.service, s.error().message);
    if (restarted) run.trafficError = s.error().message;
    run.record.events.push_back(s.error().message);
  }
  return restarted;
}

Status Installer::restartUnitAndProbe(Run& run, const std::string& release) {
  if (!config_.unit.empty()) {
    auto result =
        services_.restartUnit(config_.unit, std::chrono::milliseconds(config_.restartTimeoutMillis));
    if (!result) return makeError("restart of " + config_.unit + " failed: " + result.error().message);
    if (*result != "done") {
      return makeError("restart of " + config_.unit + " on " + release + ": job " + *result);
    }
    auto status = services_.unitStatus(config_.unit);
    if (status && status->activeState == "failed") {
      return makeError("restart of " + config_.unit + " on " + release + ": unit failed");
    }
    run.record.events.push_back("restarted " + config_.unit + " on " + release + ": done");
  }
  if (run.record.step != Step::kSwitchBack) {
    if (auto s = journalStep(run, Step::kHealth); !s) return s;
  }
  if (auto s = probeHealth(); !s) return s;
  if (!config_.healthUrl.empty()) run.record.events.push_back("healthy on " + release);
  return {};
}

CommandResult Installer::switchAndConfirm(Run& run) {
  const std::string& target = run.record.version;
  if (auto s = journalStep(run, Step::kSwitch); !s) return finish(run, Outcome::kFailed, s.error().message);
  if (auto s = store_.activate(target); !s) {
    return finish(run, Outcome::kFailed, "switch to " + target + ": " + s.error().message);
  }
  run.record.events.push_back("switched current to " + target +
                              (run.record.previous.empty() ? "" : " from " + run.record.previous));
  if (auto s = journalStep(run, Step::kRestart); !s) return switchBack(run, s.error().message);
  if (auto s = restartAndProbe(run, target); !s) return switchBack(run, s.error().message);
  holdTrafficWeight(run);
  run.record.step = Step::kDone;
  (void)journal_.write(run.record);
  if (beforeStep_) beforeStep_(Step::kDone);
  auto pruned = store_.prune(config_.keepReleases, {target, run.record.previous});
  if (pruned && !pruned->empty()) {
    run.record.events.push_back("pruned " + std::to_string(pruned->size()) + " old release(s)");
  }
  std::string verb = run.record.kind == CommandKind::kRollback ? "rolled back to " : "activated ";
  return finish(run, Outcome::kSucceeded, verb + target);
}

CommandResult Installer::switchBack(Run& run, const std::string& reason) {
  run.record.events.push_back(reason);
  const std::string& previous = run.record.previous;
  if (previous.empty() || !store_.hasRelease(previous)) {
    return finish(run, Outcome::kFailed,
                  reason + "; no previous release to switch back to, current stays on " +
                      run.record.version);
  }
  if (auto s = journalStep(run, Step::kSwitchBack); !s) {
    logger_->error("service {}: {}", config_.service, s.error().message);
  }
  if (auto s = store_.activate(previous); !s) {
    return finish(run, Outcome::kFailed, reason + "; switch back to " + previous + " failed: " +
                                             s.error().message);
  }
  run.record.events.push_back("switched back to " + previous);
  if (auto s = restartAndProbe(run, previous); !s) {
    run.record.events.push_back("after switch back: " + s.error().message);
  }
  return finish(run, Outcome::kRolledBack, reason + "; switched back to " + previous);
}

Result<std::optional<CommandResult>> Installer::recover() {
  auto result = recoverJournal();
  if (gate_ != nullptr) {
    // A drain the previous run could not undo (it died, or the balancer was unreachable). After
    // the journal's recovery: a restart it finished has set the server ready already, and one
    // still under way must not take traffic before its health check.
    std::vector<std::string> events;
    if (auto s = gate_->recover(events); !s) {
      logger_->error("service {}: {}", config_.service, s.error().message);
    }
    for (const auto& event : events) logger_->warn("service {}: {}", config_.service, event);
  }
  return result;
}

Result<std::optional<CommandResult>> Installer::recoverJournal() {
  removeUnpackLeftovers(store_.releasesDir());
  auto read = journal_.read();
  if (!read) {
    // Never trip over the same file twice; `current` is complete whatever the journal says
    // (every switch is atomic), so the service keeps running on it.
    std::string aside = journal_.path() + ".corrupt";
    auto moved = env_.renameFile(journal_.path(), aside);
    return makeError(read.error().message +
                     (moved ? " (moved aside to " + aside
                            : " (could not move it aside: " + moved.error().message) +
                     "; current on " + store_.activeRelease().value_or("(none)") + ")");
  }
  if (!*read) return std::optional<CommandResult>();
  JournalRecord record = **read;
  Command command;
  command.ref = record.ref;
  command.service = record.service;
  CommandProgressFn noProgress;
  Run run;
  run.command = &command;
  run.progress = &noProgress;
  run.record = record;
  run.startedSteadyMillis = env_.steadyMillis();
  run.record.events.push_back(std::string("agent restarted during step '") +
                              stepName(record.step) + "'");
  auto finishRecovered = [&](Outcome outcome, std::string message) {
    CommandResult result = finish(run, outcome, std::move(message));
    uint64_t now = env_.nowMillis();
    result.durationMillis = now > record.startedMillis ? now - record.startedMillis : 0;
    return std::optional<CommandResult>(result);
  };
  const std::string what = std::string(commandKindName(record.kind)) + " " + record.version;
  switch (record.step) {
    case Step::kFetch:
    case Step::kVerify:
    case Step::kUnpack:
      return finishRecovered(Outcome::kInterrupted,
                             what + " interrupted during " + stepName(record.step) +
                                 "; current unchanged on " +
                                 store_.activeRelease().value_or("(none)"));
    case Step::kDone:
      return finishRecovered(Outcome::kSucceeded, what + " completed; result reported after restart");
    case Step::kSwitch:
    case Step::kRestart:
    case Step::kHealth:
    case Step::kSwitchBack:
      break;
  }
  // After the switch, health was not confirmed. An install or activate goes back to the release
  // that was active before; a rollback completes (its target is the safe release).
  std::string goal = record.version;
  if (record.kind != CommandKind::kRollback && !record.previous.empty() &&
      store_.hasRelease(record.previous)) {
    goal = record.previous;
  }
  if (!store_.hasRelease(goal)) {
    auto active = store_.activeRelease();
    return finishRecovered(Outcome::kInterrupted,
                           what + " interrupted; release " + goal + " missing, current on " +
                               active.value_or("(none)"));
  }
  if (store_.activeRelease() != goal) {
    if (auto s = store_.activate(goal); !s) {
      return finishRecovered(Outcome::kInterrupted, what + " interrupted; switch to " + goal +
                                                        " failed: " + s.error().message);
    }
  }
  run.record.events.push_back("current on " + goal + " after recovery");
  run.record.step = Step::kSwitchBack;  // restartAndProbe must not journal a health step
  if (auto s = restartAndProbe(run, goal); !s) {
    run.record.events.push_back("after recovery: " + s.error().message);
  }
  return finishRecovered(Outcome::kInterrupted,
                         what + " interrupted after the switch, before health was confirmed; "
                                "current on " + goal);
}

}  // namespace rollgate::install
