// AdminApi: the coordinator's answers to operators (the CLI over the admin socket), one handler per
// request kind, chosen with std::visit on the request's body. A handler returns its reply, or
// nothing when the reply follows later through the Outbox (install and rollback commands report
// progress, aborts wait for acknowledgements). The operator's name is the ZAP user id of the
// connection, never a field of the request. Also owns the fleet-wide freeze.
//
// Failure policy for what an operator does (every store write is checked):
//  - a freeze or unfreeze that cannot be saved is refused (error reply, nothing broadcast);
//  - `freeze --hold-running` pauses every running rollout it can after the freeze is saved; the
//    reply names the rollouts paused and those that could not be (and why);
//  - a revoked host that cannot be removed from the store: the key is revoked (its messages are
//    ignored from now on) and the reply is an error saying the record is still stored;
//  - an action whose entry in the event log cannot be saved is done, logged as an error, and its
//    reply says "(not recorded in the event log: ...)";
//  - aborts, reverts, rollouts and artifact pushes have their own policies (see
//    abort_coordinator.h, reverts.h, rollouts.h, artifact_store.h).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "common/transport.h"
#include "coordinator/abort_coordinator.h"
#include "coordinator/artifact_store.h"
#include "coordinator/backtests.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/outbox.h"
#include "coordinator/registry.h"
#include "coordinator/reverts.h"
#include "coordinator/rollouts.h"
#include "coordinator/store/store.h"
#include "coordinator/telemetry_store.h"
#include "coordinator/trains.h"

namespace rollgate::coordinator {

// The freeze as agents and operators are told it: "<reason> (<by>)", or "frozen by <by>" without a
// reason.
std::string freezeText(const FreezeState& freeze);

// What every agent is told on hello and when the freeze changes.
Welcome welcomeFor(const CoordinatorConfig& config, const std::string& host, std::uint64_t epoch,
                   bool frozen);

// What the admin API works on. Every reference must outlive the AdminApi.
struct AdminApiParts {
  const CoordinatorConfig& config;
  Store& store;
  Registry& registry;
  Allowlist& agents;
  TelemetryStore& telemetry;
  ArtifactStore& artifacts;
  Rollouts& rollouts;
  CommandDispatcher& commands;
  AbortCoordinator& aborts;
  Reverts& reverts;
  Outbox& outbox;
  const Clock& clock;
  Logger logger;
};

class AdminApi {
 public:
  explicit AdminApi(AdminApiParts parts);

  // Loads the freeze from the store.
  Status restore();
  const std::optional<FreezeState>& frozen() const { return frozen_; }
  // Where release-train requests go (null: refused). Requires: outlives this.
  void useTrains(Trains* trains) { trains_ = trains; }
  // Where `rollgate backtest` runs (null: refused). Requires: outlives this.
  void useBacktests(Backtests* backtests) { backtests_ = backtests; }

  // The reply to `request` from `operatorName` on connection `routingId`, or nothing when it is
  // sent later.
  std::optional<AdminReply> handle(const std::string& operatorName, const std::string& routingId,
                                   const AdminRequest& request);

 private:
  struct Caller {
    std::string operatorName;
    ReplyTo replyTo;
  };
  std::optional<AdminReply> on(const Caller& caller, const ListHosts& request);
  std::optional<AdminReply> on(const Caller& caller, const EnrollHost& request);
  std::optional<AdminReply> on(const Caller& caller, const RevokeHost& request);
  std::optional<AdminReply> on(const Caller& caller, const QueryTelemetry& request);
  std::optional<AdminReply> on(const Caller& caller, const PushArtifact& request);
  std::optional<AdminReply> on(const Caller& caller, const ManualCommand& request);
  std::optional<AdminReply> on(const Caller& caller, const ListReleases& request);
  std::optional<AdminReply> on(const Caller& caller, const StartRollout& request);
  std::optional<AdminReply> on(const Caller& caller, const RolloutAction& request);
  std::optional<AdminReply> on(const Caller& caller, const ListRollouts& request);
  std::optional<AdminReply> on(const Caller& caller, const DescribeRollout& request);
  std::optional<AdminReply> on(const Caller& caller, const AbortRequest& request);
  std::optional<AdminReply> on(const Caller& caller, const FreezeRequest& request);
  std::optional<AdminReply> on(const Caller& caller, const WatchRollout& request);
  std::optional<AdminReply> on(const Caller& caller, const RevertRequest& request);
  std::optional<AdminReply> on(const Caller& caller, const DescribeRevert& request);
  std::optional<AdminReply> on(const Caller& caller, const TrainRequest& request);
  std::optional<AdminReply> on(const Caller& caller, const ConsoleTokenRequest& request);
  std::optional<AdminReply> on(const Caller& caller, const BacktestRequest& request);
  std::optional<AdminReply> on(const Caller& caller, const LabelRollout& request);

  // Pauses every running rollout for `freeze --hold-running`; "; paused running rollouts: ..." and
  // the ones that could not be paused, for the reply.
  std::string holdRunning(const std::string& operatorName);
  // Appends to the event log; returns "" or, when it cannot be saved (logged), a note for the
  // reply.
  std::string recordEvent(const std::string& kind, const std::string& host,
                          const std::string& rolloutId, const std::string& message);
  // Keeps an enrollment or revocation in a store shared by several coordinators; returns "" or,
  // when it cannot be kept (logged), a note for the reply.
  std::string shareEnrollment(const EnrollmentRecord& record);

  AdminApiParts parts_;
  std::optional<FreezeState> frozen_;
  std::uint64_t manualCommands_ = 0;
  Trains* trains_ = nullptr;
  Backtests* backtests_ = nullptr;
};

}  // namespace rollgate::coordinator
