// Installer: executes install, activate, rollback and restart commands for ONE service, as steps
//   fetch -> verify -> unpack -> switch -> restart (ServiceManager) -> health probe
// journaling each step durably before it runs (journal.h), so that recover() after a SIGKILL at
// any step leaves `current` on a complete release and returns the interrupted command's result.
// With a TrafficGate (a load balancer such as HAProxy), every restart is wrapped in drain ...
// restore, so that no request is dropped; a balancer that cannot be reached fails the step before
// anything restarts.
// A failed restart or health check switches back to the release that was active before and
// restarts it (Outcome::kRolledBack, with both events). Commands are applied at most once through
// the shared CommandLedger: older ones get kStale, re-delivered ones their recorded result.
//
// Thread-safety: not thread-safe. Run every call for one service on one thread (the agent's
// worker). `cancel` may be set from any thread; it is checked between steps and during download
// and unpack, and is ignored once `current` was switched (the command then runs to its end).
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/install/artifact_source.h"
#include "agent/install/journal.h"
#include "agent/install/release_store.h"
#include "agent/install/unpack.h"
#include "agent/install/verifier.h"
#include "agent/lb/traffic_gate.h"
#include "agent/systemd/service_manager.h"
#include "common/messages.h"
#include "common/sys/env.h"

namespace rollgate::install {

struct InstallerConfig {
  std::string service;                 // name as in agent.toml
  std::string installRoot;             // releases/, current
  std::string stateDir;                // journal + staging; "" = <installRoot>/.rollgate
  std::string unit;                    // unit to restart; "" = no restart
  std::string healthUrl;               // probed after restart; "" = no probe
  uint32_t healthTimeoutMillis = 30'000;
  uint32_t healthIntervalMillis = 200;
  uint32_t healthRequestTimeoutMillis = 2'000;
  uint32_t restartTimeoutMillis = 90'000;
  std::vector<std::string> trustedKeyPaths;  // Ed25519 build keys (.pub); empty = unsigned OK
  size_t keepReleases = 5;                   // retention, never prunes active or in-flight
  // Hosts without systemd: argv of a restart command. The caller builds the ServiceManager
  // (CommandServiceManager(restartCommand) or SystemdClient); kept here for the TOML loader.
  std::vector<std::string> restartCommand;
  UnpackLimits unpackLimits;
};

// Progress of the running command: a CommandResult with progress = true, outcome kInProgress,
// message = the step ("fetch", "unpack", ...), bytesDone/bytesTotal during fetch.
using CommandProgressFn = std::function<void(const CommandResult&)>;

class Installer {
 public:
  // `services`, `ledger`, the sources and `env` must outlive the installer. `sources` are tried
  // in order; the first whose handles(url) is true fetches. The journal's durable writes, the
  // clock (durations, the health probe's deadline) and the probe's waits go through `env`.
  Installer(InstallerConfig config, systemd::ServiceManager& services, CommandLedger& ledger,
            std::vector<ArtifactSource*> sources, sys::Env& env,
            std::shared_ptr<spdlog::logger> logger);

  // Creates directories and loads the trusted keys. Call once before anything else.
  Status open();

  // Call at startup, before execute(): finishes what a crash interrupted. Returns the result of
  // the interrupted command (Outcome::kInterrupted, or kSucceeded if only the report was
  // missing), already recorded in the ledger, or nullopt when nothing was in progress. A journal
  // that cannot be parsed is moved aside (<stateDir>/journal.json.corrupt) and returned as an
  // error to log; the next call returns nullopt.
  Result<std::optional<CommandResult>> recover();

  // Executes one command addressed to this service. Never throws; every failure is a result.
  CommandResult execute(const Command& command, const CommandProgressFn& progress,
                        const std::atomic<bool>& cancel);

  // The service's releases for Hello/Heartbeat.
  ServiceRelease describe() const;
  const InstallerConfig& config() const { return config_; }
  ReleaseStore& store() { return store_; }

  // The service's load balancer: drained before every restart (install, activate, rollback,
  // baseline restart, switch back, recovery) and made ready after it. nullptr (the default): no
  // load balancer. `gate` must outlive the installer.
  void setTrafficGate(lb::TrafficGate* gate) { gate_ = gate; }

  // Test hook: called with each step right after it was journaled, before it runs.
  void setBeforeStepHook(std::function<void(Step)> hook) { beforeStep_ = std::move(hook); }

 private:
  struct Run;
  CommandResult install(Run& run, const InstallRelease& body, const std::atomic<bool>& cancel);
  CommandResult activate(Run& run, const std::string& version, bool allowOlder);
  CommandResult rollback(Run& run, const RollBackRelease& body);
  CommandResult restartOnly(Run& run);
  CommandResult switchAndConfirm(Run& run);
  CommandResult switchBack(Run& run, const std::string& reason);
  Status restartAndProbe(Run& run, const std::string& release);
  Status restartUnitAndProbe(Run& run, const std::string& release);
  void recoverTrafficGate(Run& run);
  Result<std::optional<CommandResult>> recoverJournal();
  void holdTrafficWeight(Run& run);
  Status journalStep(Run& run, Step step);
  CommandResult finish(Run& run, Outcome outcome, std::string message);
  Status probeHealth();
  std::string stagingDir() const { return stateDir_ + "/staging"; }

  InstallerConfig config_;
  std::string stateDir_;
  systemd::ServiceManager& services_;
  CommandLedger& ledger_;
  std::vector<ArtifactSource*> sources_;
  sys::Env& env_;
  std::shared_ptr<spdlog::logger> logger_;
  ReleaseStore store_;
  Journal journal_;
  ArtifactVerifier verifier_;
  std::function<void(Step)> beforeStep_;
  lb::TrafficGate* gate_ = nullptr;
};

}  // namespace rollgate::install
