// Plain C++ mirrors of the wire messages in schemas/rollgate.capnp. Wire types stop at the codec
// (common/codec.h): everything else in rollgate takes and returns these structs, so logic is
// testable without sockets. Field meanings and units are documented in the schema.
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rollgate {

inline constexpr std::uint16_t kProtocolVersion = 1;

struct ServiceRelease {
  std::string service;
  std::string activeRelease;
  std::vector<std::string> releases;
  bool operator==(const ServiceRelease&) const = default;
};

struct CommandRef {
  std::string rolloutId;
  std::uint64_t sequence = 0;
  std::uint64_t epoch = 0;
  bool operator==(const CommandRef&) const = default;
};

// ---- agent -> coordinator

struct Hello {
  std::string claimedHost;
  std::string region;
  std::string cluster;
  std::string agentVersion;
  std::vector<ServiceRelease> services;
  std::uint64_t bootMillis = 0;
  CommandRef lastApplied;
  bool operator==(const Hello&) const = default;
};

struct Heartbeat {
  std::uint64_t sentMillis = 0;
  std::vector<ServiceRelease> services;
  bool operator==(const Heartbeat&) const = default;
};

struct StatusCount {
  std::uint16_t code = 0;
  std::uint64_t count = 0;
  bool operator==(const StatusCount&) const = default;
};

// One kind of exception the application's Sentry SDK reported: type and top in-app frame.
struct SentryFingerprint {
  std::string type;           // "KeyError"
  std::string frame;          // "app.orders.load" (module.function); empty: no in-app frame
  std::uint64_t count = 0;    // error events with this fingerprint
  std::uint64_t unhandled = 0;
  std::string sampleMessage;  // the first event's message, at most 256 bytes
  bool operator==(const SentryFingerprint&) const = default;
};

// What a service's Sentry endpoint counted in one window (agent/sentry/).
struct SentryWindow {
  bool enabled = false;  // the service has a Sentry endpoint: zero counts are real zeros
  std::uint64_t errors = 0;     // events of level error or fatal
  std::uint64_t unhandled = 0;  // of those, exceptions with mechanism.handled = false
  std::uint64_t sessions = 0;   // sessions started
  std::uint64_t sessionsErrored = 0;
  std::uint64_t sessionsCrashed = 0;
  std::uint64_t sessionsAbnormal = 0;
  std::vector<SentryFingerprint> fingerprints;  // at most kMaxSentryFingerprints
  std::uint64_t fingerprintsDropped = 0;  // error events whose fingerprint did not fit
  std::uint64_t noRelease = 0;     // events without a release
  std::uint64_t rejected = 0;      // requests refused (key, malformed, too large)
  std::uint64_t rateLimited = 0;   // requests answered 429
  std::uint64_t relayDropped = 0;  // envelopes not relayed upstream
  bool operator==(const SentryWindow&) const = default;
};
inline constexpr std::size_t kMaxSentryFingerprints = 64;
inline constexpr std::size_t kMaxSentryTextBytes = 256;  // type, frame and message, each

struct TelemetryWindow {
  std::string service;
  std::string release;
  std::uint64_t startMillis = 0;
  std::uint64_t endMillis = 0;
  std::uint64_t requests = 0;
  std::uint64_t status1xx = 0;
  std::uint64_t status2xx = 0;
  std::uint64_t status3xx = 0;
  std::uint64_t status4xx = 0;
  std::uint64_t status5xx = 0;
  std::vector<StatusCount> statusCodes;  // sorted by code, no zero counts
  std::vector<std::uint64_t> latencyBucketUpperMicros;
  std::vector<std::uint64_t> latencyBucketCounts;  // same length as the bounds
  std::vector<std::uint32_t> latencySampleMicros;
  std::uint64_t errorLogLines = 0;
  std::uint64_t unparsedLines = 0;
  std::uint64_t cpuMillis = 0;  // cpuMicros / 1000, for readers that predate cpuMicros
  std::uint64_t memoryBytes = 0;
  std::uint32_t restarts = 0;
  bool unitActive = false;
  std::uint32_t mainPid = 0;
  std::uint64_t droppedBefore = 0;
  std::uint64_t sequence = 0;  // the agent's backlog number; 0: none
  // CPU time at microsecond resolution; 0 from agents that send only cpuMillis (use cpuMillis).
  std::uint64_t cpuMicros = 0;
  SentryWindow sentry;
  bool operator==(const TelemetryWindow&) const = default;
};

struct TelemetryReport {
  std::vector<TelemetryWindow> windows;
  bool resent = false;  // starts a re-send of every unacknowledged window
  bool operator==(const TelemetryReport&) const = default;
};

enum class Outcome : std::uint8_t {
  kSucceeded,
  kFailed,
  kRolledBack,
  kStale,
  kCancelled,
  kInterrupted,
  kInProgress,
};
const char* outcomeName(Outcome outcome);

struct CommandResult {
  CommandRef command;
  std::string service;
  Outcome outcome = Outcome::kFailed;
  std::string activeRelease;
  std::string message;
  std::vector<std::string> events;
  std::uint64_t durationMillis = 0;
  bool progress = false;
  std::uint64_t bytesDone = 0;
  std::uint64_t bytesTotal = 0;
  bool operator==(const CommandResult&) const = default;
};

struct AckAbort {
  std::uint64_t abortId = 0;
  std::vector<ServiceRelease> rolledBack;
  bool operator==(const AckAbort&) const = default;
};

struct AckBroadcast {
  std::uint64_t broadcastId = 0;
  bool operator==(const AckBroadcast&) const = default;
};

struct RequestChunk {
  std::string sha256;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  bool operator==(const RequestChunk&) const = default;
};

using AgentMessage = std::variant<Hello, Heartbeat, TelemetryReport, CommandResult, AckAbort,
                                  RequestChunk, AckBroadcast>;

// ---- coordinator -> agent

struct Welcome {
  std::string host;
  std::uint64_t epoch = 0;
  std::uint32_t heartbeatMillis = 0;
  std::uint32_t windowMillis = 0;
  bool frozen = false;
  bool operator==(const Welcome&) const = default;
};

// HAProxy's largest server weight.
inline constexpr std::int32_t kMaxTrafficWeight = 256;

struct InstallRelease {
  std::string version;
  std::string sha256;
  std::uint64_t sizeBytes = 0;
  std::string source;
  std::string signature;  // raw bytes
  bool activate = true;
  bool revert = false;  // an operator's revert: may activate a version older than the active one
  // Load balancer weight while the stage analyses (the plan's `weight`); -1: unchanged. The agent
  // holds it for trafficWeightSeconds after activating, then goes back to the configured weight.
  std::int32_t trafficWeight = -1;
  std::uint32_t trafficWeightSeconds = 0;
  bool operator==(const InstallRelease&) const = default;
};

struct ActivateRelease {
  std::string version;
  bool operator==(const ActivateRelease&) const = default;
};

struct RollBackRelease {
  std::string toVersion;
  bool isExplicit = true;
  bool operator==(const RollBackRelease&) const = default;
};

struct CancelCommand {
  CommandRef target;
  bool operator==(const CancelCommand&) const = default;
};

struct RestartBaseline {
  bool operator==(const RestartBaseline&) const = default;
};

struct Command {
  CommandRef ref;
  std::string service;
  std::variant<InstallRelease, ActivateRelease, RollBackRelease, CancelCommand, RestartBaseline>
      body;
  bool operator==(const Command&) const = default;
};

struct ArtifactChunk {
  std::string sha256;
  std::uint64_t offset = 0;
  std::uint64_t totalBytes = 0;
  std::string data;  // raw bytes
  std::string error;
  bool operator==(const ArtifactChunk&) const = default;
};

struct Abort {
  std::uint64_t abortId = 0;
  std::vector<std::string> rolloutIds;
  std::string reason;
  std::vector<ServiceRelease> rollBack;
  bool operator==(const Abort&) const = default;
};

// The coordinator stored every window of this host numbered up to throughSequence.
struct AckTelemetry {
  std::uint64_t throughSequence = 0;
  bool operator==(const AckTelemetry&) const = default;
};

// The host's telemetry went over its quota: see the schema's OverQuota.
struct OverQuota {
  std::uint64_t droppedWindows = 0;
  std::uint32_t retryAfterMillis = 0;
  std::uint64_t storedThrough = 0;
  bool storeBehind = false;  // the coordinator's store is behind, not this host over its quota
  bool operator==(const OverQuota&) const = default;
};

// A newer hello with this host's key took over the session; `reason` says so.
struct SessionClosed {
  std::string reason;
  bool operator==(const SessionClosed&) const = default;
};

using CoordinatorMessage = std::variant<Welcome, Command, ArtifactChunk, Abort, AckTelemetry,
                                        OverQuota, SessionClosed>;

// ---- coordinator -> every agent (broadcast)

struct Freeze {
  std::string reason;
  bool operator==(const Freeze&) const = default;
};
struct Resume {
  bool operator==(const Resume&) const = default;
};

struct Broadcast {
  std::uint64_t broadcastId = 0;
  std::variant<Abort, Freeze, Resume> body;
  bool operator==(const Broadcast&) const = default;
};

// ---- CLI <-> coordinator (admin)

struct ListHosts {
  bool operator==(const ListHosts&) const = default;
};
struct EnrollHost {
  std::string name;
  std::string publicKey;
  bool operator==(const EnrollHost&) const = default;
};
struct RevokeHost {
  std::string name;
  bool operator==(const RevokeHost&) const = default;
};
struct QueryTelemetry {
  std::string host;
  std::string service;
  std::uint32_t last = 0;
  bool operator==(const QueryTelemetry&) const = default;
};
struct PushArtifact {
  std::string service;
  std::string version;
  std::string sha256;
  std::uint64_t totalBytes = 0;
  std::uint64_t offset = 0;
  std::string data;
  bool final = false;
  std::string signature;
  bool operator==(const PushArtifact&) const = default;
};
struct ManualCommand {
  enum class Kind : std::uint8_t { kInstall, kRollback };
  std::string host;
  std::string service;
  Kind kind = Kind::kInstall;
  std::string version;
  bool operator==(const ManualCommand&) const = default;
};
struct ListReleases {
  std::string host;
  bool operator==(const ListReleases&) const = default;
};
struct StartRollout {
  std::string service;
  std::string version;
  std::string planToml;
  std::string gatesToml;
  std::string canaryHost;
  bool dryRun = false;
  bool operator==(const StartRollout&) const = default;
};
struct RolloutAction {
  enum class Action : std::uint8_t { kPause, kResume, kPromote, kRollback };
  std::string rolloutId;
  Action action = Action::kPause;
  bool operator==(const RolloutAction&) const = default;
};
struct ListRollouts {
  bool operator==(const ListRollouts&) const = default;
};
struct DescribeRollout {
  std::string rolloutId;
  bool operator==(const DescribeRollout&) const = default;
};
struct AbortRequest {
  std::string rolloutId;
  bool all = false;
  std::string reason;
  bool operator==(const AbortRequest&) const = default;
};
struct FreezeRequest {
  bool frozen = true;
  std::string reason;
  bool holdRunning = false;  // with frozen: also pause the rollouts already running
  bool operator==(const FreezeRequest&) const = default;
};
struct WatchRollout {
  std::string rolloutId;
  bool operator==(const WatchRollout&) const = default;
};

// `rollgate revert`: every host of `service` back to an older release (docs/revert.md).
struct RevertRequest {
  std::string service;
  std::string toVersion;           // empty: the release before the newest active one
  std::uint32_t batchHosts = 0;    // hosts switched at once (0 and batchPercent 0: all at once)
  std::uint32_t batchPercent = 0;  // the same as a percentage of the service's hosts
  bool staged = false;
  std::string reason;
  std::string planToml;   // with staged
  std::string gatesToml;  // with staged
  bool operator==(const RevertRequest&) const = default;
};
struct DescribeRevert {
  std::string revertId;
  bool operator==(const DescribeRevert&) const = default;
};

// The release train's requests (docs/train.md): `action` names what, `argsJson` its arguments.
struct TrainRequest {
  std::string action;
  std::string service;
  std::string argsJson;
  bool operator==(const TrainRequest&) const = default;
};

// `rollgate console token`: a sign-in token for the web console (docs/console.md).
struct ConsoleTokenRequest {
  std::string operatorName;
  std::string role;  // viewer or operator
  std::uint64_t ttlSeconds = 0;
  bool operator==(const ConsoleTokenRequest&) const = default;
};

// `rollgate backtest` (docs/backtest.md): replays kept rollouts (or `windowsJsonl`, the text of a
// --windows file) with other gates and plan; the reply is the report as JSON (BacktestView).
struct BacktestRequest {
  std::string gatesToml;  // empty: each rollout's own gates
  std::string gatesName;  // the file's name, for errors
  std::string planToml;   // empty: each rollout's own plan
  std::string planName;
  std::string service;  // empty: every service
  std::uint64_t sinceMillis = 0;
  std::uint64_t untilMillis = 0;  // 0: now
  std::string windowsJsonl;       // non-empty: replay this history instead of the store's
  std::string windowsName;
  bool compare = false;
  bool operator==(const BacktestRequest&) const = default;
};
// `rollgate rollout label ID good|bad --reason TEXT`.
struct LabelRollout {
  std::string rolloutId;
  std::string label;  // good or bad
  std::string reason;
  bool operator==(const LabelRollout&) const = default;
};

struct AdminRequest {
  std::uint64_t requestId = 0;
  std::variant<ListHosts, EnrollHost, RevokeHost, QueryTelemetry, PushArtifact, ManualCommand,
               ListReleases, StartRollout, RolloutAction, ListRollouts, DescribeRollout,
               AbortRequest, FreezeRequest, WatchRollout, RevertRequest, DescribeRevert,
               TrainRequest, ConsoleTokenRequest, BacktestRequest, LabelRollout>
      body;
  bool operator==(const AdminRequest&) const = default;
};

// What the coordinator refused from one host since it started (schema: HostDrops).
struct HostDrops {
  std::uint64_t telemetryWindows = 0;
  std::uint64_t telemetryBytes = 0;
  std::uint64_t messages = 0;
  std::uint64_t chunkReplies = 0;
  std::uint64_t unsolicitedResults = 0;
  std::uint64_t sessionsReplaced = 0;
  bool operator==(const HostDrops&) const = default;
};

struct HostInfo {
  std::string name;
  std::string region;
  std::string cluster;
  std::string agentVersion;
  std::vector<ServiceRelease> services;
  std::uint64_t lastContactMillis = 0;
  bool healthy = false;
  bool connected = false;
  std::string claimedHost;
  HostDrops dropped;
  bool operator==(const HostInfo&) const = default;
};

struct AdminError {
  std::string message;
  bool operator==(const AdminError&) const = default;
};
struct AdminOk {
  std::string message;
  bool operator==(const AdminOk&) const = default;
};
// The fleet-wide freeze: who set it, why (as given; may be empty) and since when.
struct FreezeState {
  std::string by;
  std::string reason;
  std::uint64_t sinceMillis = 0;
  bool operator==(const FreezeState&) const = default;
};
struct HostList {
  std::vector<HostInfo> hosts;
  std::optional<FreezeState> freeze;  // set while rollouts are frozen (host listings only)
  bool operator==(const HostList&) const = default;
};
struct WindowList {
  std::vector<TelemetryWindow> windows;
  bool operator==(const WindowList&) const = default;
};
struct JsonDocument {
  std::string text;
  bool operator==(const JsonDocument&) const = default;
};

// The coordinator that holds the leader lease when several share PostgreSQL.
struct LeaderInfo {
  std::string id;
  std::string adminEndpoint;
  std::uint64_t epoch = 0;
  std::uint64_t sinceMillis = 0;
  std::string consoleUrl;  // its web console for operators; "" when it serves none
  bool operator==(const LeaderInfo&) const = default;
};

struct AdminReply {
  std::uint64_t requestId = 0;
  bool final = true;
  std::variant<AdminError, AdminOk, HostList, WindowList, CommandResult, JsonDocument> body;
  std::optional<LeaderInfo> leader;  // set by coordinators sharing PostgreSQL
  bool standby = false;  // this coordinator does not lead: the request was not handled
  bool operator==(const AdminReply&) const = default;
};

}  // namespace rollgate
