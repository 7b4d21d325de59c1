// Store: everything the coordinator keeps, behind one narrow interface: hosts, the event log,
// aborts, the fleet-wide freeze, rollouts with the command refs they sent, check results, reverts,
// telemetry windows and artifact metadata. Nothing outside a backend knows how or where it is
// kept (no SQL outside coordinator/store/). SqliteStore (sqlite_store.h) is the embedded default;
// PostgresStore (postgres_store.h) is shared by several coordinators, one leading at a time.
//
// Every call returns a Status or a Result the caller must look at: a write that fails is an
// expected failure (full disk, I/O error, lost database server) and each caller has a failure
// policy for it (see coordinator.h, rollouts.h, abort_coordinator.h). Reads that fail return an
// error too; "nothing there" is an empty optional or an empty list, never an error.
//
// Thread-safety: an implementation belongs to one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/rollout_view.h"
#include "coordinator/aborts.h"

namespace rollgate::coordinator {

// One line of the event log: what the system did and why.
struct EventRecord {
  std::uint64_t atMillis = 0;
  std::string kind;       // e.g. "host_registered", "abort", "state", "rollout"
  std::string host;       // empty when not about one host
  std::string rolloutId;  // empty when not about one rollout
  std::string message;
};

// A host key enrolled or revoked by an operator (`rollgate hosts enroll` / `revoke`), kept for
// the other coordinators sharing the store.
struct EnrollmentRecord {
  std::string name;
  std::string publicKey;  // Z85
  bool revoked = false;
  std::uint64_t atMillis = 0;
  std::string by;  // the operator, or "agents_dir" for a key found there
  bool operator==(const EnrollmentRecord&) const = default;
};

// A rollout as kept: the engine's state (rollout::stateToJson, without windows) plus the columns
// lists and resumption need, and the ref each engine command was sent with.
struct RolloutRecord {
  std::string id;  // "r<seq>"
  std::uint64_t seq = 0;
  std::string service;
  std::string version;
  std::string status;  // rollout::statusName()
  bool finished = false;
  std::uint64_t createdMillis = 0;
  std::uint64_t updatedMillis = 0;
  std::string stateJson;
  std::map<std::uint64_t, CommandRef> commandRefs;  // engine commandId -> ref it was sent with
  std::string startedBy;
};

// The release train (coordinator/train): a candidate as kept, its model as JSON
// (train::toJson) beside the columns lookups need.
struct TrainCandidateRow {
  std::string service;
  std::uint64_t seq = 0;
  std::string commit;
  std::string json;
  bool operator==(const TrainCandidateRow&) const = default;
};
// One thing a train did, with its reason.
struct TrainEventRecord {
  std::uint64_t atMillis = 0;
  std::string service;
  std::string kind;  // picked, shipped, bisecting, bad_commit, ... (train.h)
  std::string commit;
  std::string rolloutId;
  std::string message;
  bool operator==(const TrainEventRecord&) const = default;
};

// A fleet-wide revert as kept (coordinator/revert_job.h): its state as JSON (revertToJson) plus
// the columns listing and resumption need.
struct RevertRecord {
  std::string id;  // "v<seq>"
  std::uint64_t seq = 0;
  std::string service;
  bool finished = false;
  std::string stateJson;
  bool operator==(const RevertRecord&) const = default;
};

// A sign-in token of the web console (coordinator/console/): only its SHA-256 is kept.
struct ConsoleTokenRecord {
  std::string sha256Hex;  // of the token's text
  std::string operatorName;
  std::string role;  // viewer or operator
  std::uint64_t createdMillis = 0;
  std::uint64_t expiresMillis = 0;
  std::string createdBy;  // the operator (CLI key) who issued it
  bool operator==(const ConsoleTokenRecord&) const = default;
};

// One check result at one look of one step (step 1-based), as the rollout engine emits it.
using CheckRecord = RolloutCheckRecord;

struct StoredWindow {
  std::string host;
  TelemetryWindow window;
};

// A telemetry window as appendWindows stores it: the columns queries select by, and the window
// encoded as a one-window report (the frame its agent sent, packed; windowRow()).
struct WindowRow {
  std::string host;
  std::string service;
  std::string release;
  std::uint64_t startMillis = 0;
  std::uint64_t endMillis = 0;
  std::uint64_t requests = 0;
  std::uint64_t status5xx = 0;
  std::string encoded;
};

// An operator's label of a rollout (`rollgate rollout label`): good or bad, why, by whom, when.
struct RolloutLabelRecord {
  std::string rolloutId;
  std::string label;  // "good" or "bad"
  std::string reason;
  std::string by;
  std::uint64_t atMillis = 0;
  bool operator==(const RolloutLabelRecord&) const = default;
};

// What the kept rollout journals take (the backtest's inputs), and how many rollouts' journals
// went to stay within the cap since the store was created.
struct JournalUsage {
  std::uint64_t bytes = 0;
  std::uint64_t rollouts = 0;
  std::uint64_t droppedRollouts = 0;
  bool operator==(const JournalUsage&) const = default;
};

struct ArtifactInfo {
  std::string service;
  std::string version;
  std::string sha256;  // lower-case hex
  std::uint64_t sizeBytes = 0;
  std::string signature;  // as pushed (the .sig file's bytes); empty if unsigned
  std::uint64_t pushedMillis = 0;
  std::string pushedBy;  // operator name (the ZAP user id of the admin connection)
  bool operator==(const ArtifactInfo&) const = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Bumped by every open of the store: orders commands across coordinator restarts.
  virtual std::uint64_t epoch() const = 0;

  // ---- hosts
  virtual Status saveHost(const HostInfo& host) = 0;
  // (name, lastContactMillis) of several hosts, all or none.
  virtual Status saveLastContacts(
      const std::vector<std::pair<std::string, std::uint64_t>>& contacts) = 0;
  virtual Status deleteHost(const std::string& name) = 0;
  // Hosts' registrations and their event-log records together, all or none where the backend
  // has transactions: a storm of hellos after a start costs one commit per batch, not two each.
  virtual Status saveRegistrations(const std::vector<HostInfo>& hosts,
                                   const std::vector<EventRecord>& events) {
    for (const auto& host : hosts) {
      if (auto status = saveHost(host); !status) return status;
    }
    for (const auto& event : events) {
      if (auto status = recordEvent(event); !status) return status;
    }
    return {};
  }
  virtual Result<std::vector<HostInfo>> loadHosts() = 0;

  // ---- enrollments
  // True when several coordinators may share this store (PostgreSQL): what an operator enrolls or
  // revokes on the leader is then kept here for the others, and a coordinator copies it into its
  // agents_dir when it starts leading. A store of one coordinator (SQLite) keeps no such record:
  // its agents_dir is the record, and the two calls below do nothing.
  virtual bool sharesEnrollments() const { return false; }
  // Inserts or replaces the records of these names, all or none.
  virtual Status saveEnrollments(const std::vector<EnrollmentRecord>& /*records*/) { return {}; }
  virtual Result<std::vector<EnrollmentRecord>> loadEnrollments() {
    return std::vector<EnrollmentRecord>{};
  }

  // ---- event log
  virtual Status recordEvent(const EventRecord& event) = 0;
  // Events about `rolloutId`, oldest first.
  virtual Result<std::vector<EventRecord>> eventsOf(const std::string& rolloutId) = 0;

  // ---- aborts and the fleet-wide freeze
  virtual Status saveAbort(const AbortState& state) = 0;
  virtual Result<std::vector<AbortState>> loadAborts() = 0;
  // Who froze, why and since when while frozen; nothing when not.
  virtual Status setFrozen(const std::optional<FreezeState>& freeze) = 0;
  virtual Result<std::optional<FreezeState>> frozen() = 0;

  // ---- rollouts, their command refs and their checks
  // One more than the highest rollout sequence number ever stored (1 when none).
  virtual Result<std::uint64_t> nextRolloutSeq() = 0;
  // Fails if a rollout with that id exists.
  virtual Status createRollout(const RolloutRecord& rollout) = 0;
  // Replaces status, finished, updatedMillis, stateJson and commandRefs of an existing rollout.
  virtual Status saveRollout(const RolloutRecord& rollout) = 0;
  // Replaces only the command refs (saved before a command is sent).
  virtual Status saveCommandRefs(const std::string& rolloutId,
                                 const std::map<std::uint64_t, CommandRef>& refs) = 0;
  virtual Result<std::optional<RolloutRecord>> loadRollout(const std::string& id) = 0;
  virtual Result<std::vector<RolloutRecord>> unfinishedRollouts() = 0;
  // Ids of the newest `limit` rollouts, newest first.
  virtual Result<std::vector<std::string>> recentRolloutIds(std::size_t limit) = 0;
  virtual Status recordCheck(const CheckRecord& check) = 0;
  // Checks of `rolloutId`, oldest first.
  virtual Result<std::vector<CheckRecord>> checksOf(const std::string& rolloutId) = 0;

  // ---- what the backtest reads (sqlite_store_backtest.cpp)
  // Appends lines to a rollout's journal (rollout/journal.h), all or none.
  virtual Status appendJournal(const std::string& rolloutId,
                               const std::vector<std::string>& lines) = 0;
  // Drops the journals of the oldest finished rollouts until the rest take at most `capBytes`;
  // returns the usage after.
  virtual Result<JournalUsage> pruneJournals(std::uint64_t capBytes) = 0;
  // Replaces the operator's label of a rollout.
  virtual Status saveLabel(const RolloutLabelRecord& label) = 0;
  virtual Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& rolloutId) = 0;
  // Fleet-wide reverts of `service`, oldest first (automatic labels: reverted after promotion).
  virtual Result<std::vector<RevertRecord>> revertsOf(const std::string& service) = 0;

  // ---- fleet-wide reverts
  // One more than the highest revert sequence number ever stored (1 when none).
  virtual Result<std::uint64_t> nextRevertSeq() = 0;
  // Inserts or replaces the revert with that id.
  virtual Status saveRevert(const RevertRecord& revert) = 0;
  virtual Result<std::optional<RevertRecord>> loadRevert(const std::string& id) = 0;
  // Unfinished reverts, oldest first.
  virtual Result<std::vector<RevertRecord>> unfinishedReverts() = 0;

  // ---- the release train
  // Every train's state JSON (train::toJson), by service.
  virtual Result<std::vector<std::string>> loadTrainStates() = 0;
  // Saves a train's state and the given candidates (inserted or replaced), all or none.
  virtual Status saveTrain(const std::string& service, const std::string& stateJson,
                           const std::vector<TrainCandidateRow>& candidates) = 0;
  // The candidates of `service`, in seq order.
  virtual Result<std::vector<TrainCandidateRow>> loadCandidates(const std::string& service) = 0;
  virtual Status recordTrainEvent(const TrainEventRecord& event) = 0;
  // The newest `limit` events of `service`'s train, oldest first.
  virtual Result<std::vector<TrainEventRecord>> trainEvents(const std::string& service,
                                                            std::size_t limit) = 0;
  // ---- console sign-in tokens (sqlite_store_console.cpp)
  virtual Status saveConsoleToken(const ConsoleTokenRecord& token) = 0;
  // The token whose SHA-256 is `sha256Hex`, expired or not; nothing when there is none.
  virtual Result<std::optional<ConsoleTokenRecord>> findConsoleToken(
      const std::string& sha256Hex) = 0;

  // ---- telemetry windows
  // All or none.
  virtual Status appendWindows(const std::vector<WindowRow>& windows) = 0;
  // A connection of its own to the same state for the telemetry ingest thread, which calls only
  // appendWindows on it (from that thread alone), fenced like this one. Null: this backend has
  // none, and windows are written through this store.
  virtual Result<std::unique_ptr<Store>> openIngestConnection() {
    return std::unique_ptr<Store>();
  }
  // The newest `last` windows of host/service (any service if empty), oldest first.
  virtual Result<std::vector<TelemetryWindow>> latestWindows(const std::string& host,
                                                             const std::string& service,
                                                             std::uint32_t last) = 0;
  // Windows of `service` from `hosts` whose end is after `sinceMillis`, oldest first. Selected by
  // host (the index every append keeps up is (host, service, end_ms); there is none by service).
  virtual Result<std::vector<StoredWindow>> windowsSince(const std::string& service,
                                                         const std::vector<std::string>& hosts,
                                                         std::uint64_t sinceMillis) = 0;
  // Deletes windows that ended before `beforeMillis`, in the order they were stored: a window
  // stored after one that is still kept waits for it (windows from an agent's backlog, stored
  // late, go a little after their time). Its cost follows the windows deleted, not the table
  // (there is no index on end_ms); returns how many.
  virtual Result<std::uint64_t> pruneWindows(std::uint64_t beforeMillis) = 0;
  // Event log retention: deletes events older than `beforeMillis`, and the oldest beyond the
  // newest `keepRows`; returns how many.
  virtual Result<std::uint64_t> pruneEvents(std::uint64_t beforeMillis, std::uint64_t keepRows) = 0;

  // ---- artifact metadata (the bytes are files: see ArtifactStore)
  virtual Result<std::optional<ArtifactInfo>> findArtifact(const std::string& service,
                                                           const std::string& version) = 0;
  // The earliest pushed record with this content.
  virtual Result<std::optional<ArtifactInfo>> findArtifactBySha(const std::string& sha256) = 0;
  // Every version of `service` (every artifact when empty), newest push first.
  virtual Result<std::vector<ArtifactInfo>> listArtifacts(const std::string& service) = 0;
  // Fails if (service, version) is already stored.
  virtual Status addArtifact(const ArtifactInfo& artifact) = 0;
  virtual Status setArtifactSignature(const std::string& service, const std::string& version,
                                      const std::string& signature) = 0;
  // A backend that several coordinators share keeps artifacts' bytes too, so that whichever
  // leads can serve them: saves the file at `path` (content `sha256`, already verified), all or
  // none. SQLite's coordinator keeps the bytes in its state directory only (ArtifactStore).
  virtual Status saveArtifactContent(const std::string& sha256, const std::string& path) {
    (void)sha256;
    (void)path;
    return {};
  }
  // Writes the kept bytes of `sha256` to `path`: false when this backend has none.
  virtual Result<bool> restoreArtifactContent(const std::string& sha256, const std::string& path) {
    (void)sha256;
    (void)path;
    return false;
  }
};

}  // namespace rollgate::coordinator
