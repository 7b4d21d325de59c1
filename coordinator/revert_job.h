// RevertJob: the pure logic of a fleet-wide revert (`rollgate revert`, docs/revert.md): which
// release is the target, which hosts get what, how many switch at once, what each host's answer
// means, and the report. No I/O and no clock of its own: times come in as Unix milliseconds, the
// fleet and the artifact store as values. Reverts (reverts.h) drives it and keeps it durable.
//
// A revert is planned once: every host that declares the service is listed with the release it
// was on. When the coordinator's artifact store has the target, every host is told to install it
// with the revert flag (the only install an agent lets go to an older release; a host that keeps
// the release switches to it without fetching, one already on it answers at once); without the
// artifact, hosts are told to roll back to it (an explicit RollBackRelease), and a host that does
// not keep it is failed at planning. Every host gets a command, even one the registry shows on
// the target already: the registry is only as fresh as the last heartbeat. At most batchSize
// hosts have a command in flight at once; a host that fails does not stop the others. The revert
// ends when every host has answered.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

enum class RevertMethod : std::uint8_t {
  kNone,      // cannot get the target (failed at planning)
  kRollback,  // no artifact stored, the host keeps the target: RollBackRelease{target, explicit}
  kInstall,   // InstallRelease from the artifact store with revert = true (fetched if missing)
};

enum class RevertHostStatus : std::uint8_t {
  kPending,    // not sent yet (waits for room in the batch)
  kSent,       // command sent (its ref saved first); no final answer yet
  kSucceeded,  // the host answered and is on the target
  kFailed,     // the host answered with a failure, or cannot get the target
};

const char* revertMethodName(RevertMethod method);
const char* revertHostStatusName(RevertHostStatus status);

struct RevertHost {
  std::string name;
  std::string fromRelease;  // active when the revert was planned ("" if none)
  RevertMethod method = RevertMethod::kNone;
  RevertHostStatus status = RevertHostStatus::kPending;
  std::string message;            // the agent's answer, or why the host cannot be reverted
  std::string activeRelease;      // as last reported by the agent for this revert
  std::optional<CommandRef> ref;  // the ref its command was (or is about to be) sent with
  std::uint64_t sentMillis = 0;
  std::uint64_t doneMillis = 0;
  bool operator==(const RevertHost&) const = default;
};

struct RevertState {
  std::string id;  // "v<seq>"
  std::uint64_t seq = 0;
  std::string service;
  std::string toVersion;     // the resolved target
  std::string newestActive;  // the newest release active on the service's hosts when planned
  std::string reason;
  std::string requestedBy;
  std::uint32_t batchSize = 1;  // hosts with a command in flight at once, >= 1
  std::uint64_t createdMillis = 0;
  std::uint64_t finishedMillis = 0;          // 0 while running
  std::vector<std::string> abortedRollouts;  // running rollouts of the service this revert stopped
  std::optional<ArtifactInfo> artifact;      // the target's artifact, when the store has it
  std::vector<RevertHost> hosts;             // in planning order (name order)
  bool operator==(const RevertState&) const = default;

  bool finished() const { return finishedMillis != 0; }
};

// The artifact store as planning sees it: the target's artifact, if stored.
using ArtifactLookup = std::function<std::optional<ArtifactInfo>(const std::string& service,
                                                                 const std::string& version)>;

// Plans a revert of request.service over `fleet` (every known host). Errors name the service and
// the release: no host declares the service; no host keeps an older release (without --to); the
// named release is not older than the newest active one; no host keeps it and the artifact store
// has none; a bad batch. A host that lacks the target while the store has no artifact is planned
// as failed (named in the report), the others go ahead.
Result<RevertState> planRevert(const RevertRequest& request, const std::vector<HostInfo>& fleet,
                               const ArtifactLookup& artifacts, std::uint64_t nowMillis);

// Hosts per batch for `hosts` hosts: batchHosts, else batchPercent % rounded up, else all; >= 1.
std::uint32_t revertBatchSize(const RevertRequest& request, std::size_t hosts);

// Indexes (into state.hosts) of the pending hosts that may be sent now, in order, so that at most
// batchSize hosts are in flight.
std::vector<std::size_t> dueHosts(const RevertState& state);

// A final result from `host`. Returns false when it is not the answer to this revert's command to
// that host (unknown host, other ref, host not in flight). A host succeeds when it says so, or
// when a stale or interrupted answer shows it on the target. Ends the revert (finishedMillis)
// when every host has answered.
bool applyRevertResult(RevertState& state, const std::string& host, const CommandResult& result,
                       std::uint64_t nowMillis);

// A host that has not answered within this time after its command was sent is failed ("no
// answer ..."), so that one dead host does not hold the revert (and the service) forever; it still
// gets the command when it comes back. As long as a rollout step's default install timeout.
inline constexpr std::uint64_t kRevertAnswerMillis = 600'000;

// Fails the hosts in flight for kRevertAnswerMillis or more at `nowMillis` (ending the revert when
// they were the last). Returns their names.
std::vector<std::string> expireSilentHosts(RevertState& state, std::uint64_t nowMillis);

// Ends the revert if every host has answered (planning can leave nothing to send).
void finishIfDone(RevertState& state, std::uint64_t nowMillis);

// "running", "succeeded" (every host on the target), "failed" (some host is not).
std::string revertStatus(const RevertState& state);

// The command that takes `host` to the target. Requires: host.method is kRollback or kInstall.
Command revertCommand(const RevertState& state, const RevertHost& host);

// The durable form (everything, refs included) and back. fromJson errors name the key.
std::string revertToJson(const RevertState& state);
Result<RevertState> revertFromJson(const std::string& text);

// The operator's report (docs/revert.md): the durable form plus status, counts and elapsed time.
std::string revertReport(const RevertState& state, std::uint64_t nowMillis);

}  // namespace rollgate::coordinator
