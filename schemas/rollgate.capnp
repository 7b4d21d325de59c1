# rollgate wire contract. Every message that crosses a socket is defined here and nowhere else.
#
# Sockets (coordinator side, all CURVE servers behind a ZAP allowlist):
#   ROUTER agent endpoint (7400)  <- AgentMessage from each agent's DEALER, -> CoordinatorMessage back
#   PUB    broadcast endpoint (7402) -> Broadcast to every agent's SUB
#   ROUTER admin endpoint (7401)  <- AdminRequest from the CLI's DEALER, -> AdminReply back
#
# Identity: a host or operator is the name its CURVE key has in the coordinator's allowlist
# (the ZAP user id). No field in any body is trusted as an identity; `Hello.claimedHost` is
# recorded only to warn about misconfigured agents.
#
# Evolution: every envelope carries `version`. A receiver drops (and counts) an envelope whose
# version is not `protocolVersion`. New fields are appended with new ordinals; never renumber.

@0xb33f884e30cfb21c;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rollgate::wire");

const protocolVersion :UInt16 = 1;

# ---------------------------------------------------------------------------------------------
# Shared pieces

struct ServiceRelease {
  service @0 :Text;        # service name as declared in the agent's config
  activeRelease @1 :Text;  # version `current` points at; empty when nothing is installed
  releases @2 :List(Text); # versions unpacked on the host, newest first
}

struct CommandRef {
  # Identifies a command for at-most-once application. An agent applies a command only if
  # (epoch, sequence) is newer than the last it applied; older ones are answered `stale`.
  rolloutId @0 :Text;    # rollout the command belongs to; "manual-<n>" for operator commands
  sequence @1 :UInt64;   # per-host, strictly increasing within an epoch
  epoch @2 :UInt64;      # coordinator epoch: bumped every time a coordinator takes the state file
}

# ---------------------------------------------------------------------------------------------
# Agent -> coordinator (agent DEALER -> coordinator ROUTER)

struct AgentMessage {
  version @0 :UInt16;
  body :union {
    hello @1 :Hello;
    heartbeat @2 :Heartbeat;
    telemetry @3 :TelemetryReport;
    commandResult @4 :CommandResult;
    ackAbort @5 :AckAbort;
    requestChunk @6 :RequestChunk;
    ackBroadcast @7 :AckBroadcast;
  }
}

struct Hello {
  # First message after (re)connecting; the coordinator answers with Welcome.
  claimedHost @0 :Text;    # host name from the agent's config (informational only)
  region @1 :Text;
  cluster @2 :Text;
  agentVersion @3 :Text;
  services @4 :List(ServiceRelease);
  bootMillis @5 :UInt64;   # agent start time (Unix ms): tells a restart from a reconnect
  lastApplied @6 :CommandRef; # newest command the agent has applied (for re-delivery)
}

struct Heartbeat {
  sentMillis @0 :UInt64;   # agent clock, Unix ms
  services @1 :List(ServiceRelease);
}

struct StatusCount {
  code @0 :UInt16;         # HTTP status code
  count @1 :UInt64;
}

struct TelemetryWindow {
  # One service's traffic and resources over [startMillis, endMillis) on one release.
  # A window never spans a release switch: the agent cuts it at the switch.
  service @0 :Text;
  release @1 :Text;
  startMillis @2 :UInt64;
  endMillis @3 :UInt64;
  requests @4 :UInt64;
  status1xx @5 :UInt64;
  status2xx @6 :UInt64;
  status3xx @7 :UInt64;
  status4xx @8 :UInt64;
  status5xx @9 :UInt64;
  statusCodes @10 :List(StatusCount);
  latencyBucketUpperMicros @11 :List(UInt64); # histogram bucket upper bounds (last is +inf)
  latencyBucketCounts @12 :List(UInt64);
  latencySampleMicros @13 :List(UInt32);     # bounded uniform sample of raw latencies
  errorLogLines @14 :UInt64;
  unparsedLines @15 :UInt64;
  cpuMillis @16 :UInt64;       # CPU time used by the unit during the window
  memoryBytes @17 :UInt64;     # memory at the end of the window
  restarts @18 :UInt32;        # unit restarts during the window
  unitActive @19 :Bool;
  mainPid @20 :UInt32;
  droppedBefore @21 :UInt64;   # windows dropped from the agent's backlog before this one
  sequence @22 :UInt64;        # the agent's durable backlog number, acknowledged by AckTelemetry
  cpuMicros @23 :UInt64;       # cpuMillis at microsecond resolution (0: only cpuMillis is known)
  # What the application's Sentry SDK sent to the agent's endpoint during the window (all zero and
  # sentryEnabled false for a service without one).
  sentryEnabled @24 :Bool;             # the service has a Sentry endpoint: zeros are real zeros
  sentryErrors @25 :UInt64;            # events of level error or fatal
  sentryUnhandled @26 :UInt64;         # of those, exceptions with mechanism.handled = false
  sentrySessions @27 :UInt64;          # sessions started
  sentrySessionsErrored @28 :UInt64;   # sessions ended with errors (not crashed or abnormal)
  sentrySessionsCrashed @29 :UInt64;
  sentrySessionsAbnormal @30 :UInt64;
  sentryFingerprints @31 :List(SentryFingerprint);  # at most 64, by first appearance
  sentryFingerprintsDropped @32 :UInt64;  # error events whose fingerprint did not fit the table
  sentryNoRelease @33 :UInt64;         # events without a release (counted for the window's release)
  sentryRejected @34 :UInt64;          # requests refused: key, malformed, too large
  sentryRateLimited @35 :UInt64;       # requests answered 429
  sentryRelayDropped @36 :UInt64;      # envelopes not relayed upstream (queue full or failed)
}

struct SentryFingerprint {
  # One kind of exception: its type and the top in-app frame ("module.function"), how many error
  # events had it in the window, and the message of the first.
  type @0 :Text;
  frame @1 :Text;
  count @2 :UInt64;
  unhandled @3 :UInt64;
  sampleMessage @4 :Text;
}

struct TelemetryReport {
  windows @0 :List(TelemetryWindow);
  resent @1 :Bool;         # true: this report starts sending again every window not acknowledged
                           # (after a Welcome or an OverQuota), oldest first
}

struct CommandResult {
  command @0 :CommandRef;
  service @1 :Text;
  outcome @2 :Outcome;
  activeRelease @3 :Text;   # release `current` points at after the command
  message @4 :Text;         # human-readable detail naming what failed and why
  events @5 :List(Text);    # what happened, in order (e.g. "health check failed", "switched back")
  durationMillis @6 :UInt64;
  progress @7 :Bool;        # true: an interim report (bytes fetched...), not the final outcome
  bytesDone @8 :UInt64;
  bytesTotal @9 :UInt64;

  enum Outcome {
    succeeded @0;
    failed @1;          # nothing changed, or switched back to the previous release
    rolledBack @2;      # activated, then switched back automatically (restart or health failed)
    stale @3;           # rejected: older than a command already applied
    cancelled @4;
    interrupted @5;     # the agent died during the command; this is its outcome on return
    inProgress @6;
  }
}

struct AckAbort {
  abortId @0 :UInt64;
  rolledBack @1 :List(ServiceRelease); # services switched back because of the abort
}

struct AckBroadcast {
  broadcastId @0 :UInt64;  # acknowledges a freeze/resume seen on the broadcast channel
}

struct RequestChunk {
  # Artifact download with credit-based flow control: an agent keeps at most `credit` chunk
  # requests outstanding, so a slow host never makes the coordinator queue data for it.
  sha256 @0 :Text;         # hex content address
  offset @1 :UInt64;
  length @2 :UInt32;       # at most the coordinator's chunk size
}

# ---------------------------------------------------------------------------------------------
# Coordinator -> agent (ROUTER -> DEALER)

struct CoordinatorMessage {
  version @0 :UInt16;
  body :union {
    welcome @1 :Welcome;
    command @2 :Command;
    chunk @3 :ArtifactChunk;
    abort @4 :Abort;
    ackTelemetry @5 :AckTelemetry;
    overQuota @6 :OverQuota;
    sessionClosed @7 :Text;   # a newer hello with this host's key took over the session; the
                              # text says why. Nothing more from this connection is handled.
  }
}

struct OverQuota {
  # The host's telemetry exceeded its quota: windows from the first one dropped were not stored
  # (nor will any later one be until the agent re-sends, TelemetryReport.resent). The agent keeps
  # them in its backlog, waits retryAfterMillis, then sends again from the oldest unacknowledged.
  droppedWindows @0 :UInt64;    # windows of this host dropped so far over quota
  retryAfterMillis @1 :UInt32;
  storedThrough @2 :UInt64;     # highest window sequence taken (acknowledged once stored)
  storeBehind @3 :Bool;         # true: turned away because the coordinator's store is behind
                                # (every host is, until it catches up), not over this host's quota
}

struct AckTelemetry {
  # Sent after the windows are committed to the coordinator's store: the agent may forget every
  # window numbered up to throughSequence. Until then it keeps them, across restarts.
  throughSequence @0 :UInt64;
}

struct Welcome {
  host @0 :Text;           # the name the coordinator knows this agent by (its key's name)
  epoch @1 :UInt64;
  heartbeatMillis @2 :UInt32;
  windowMillis @3 :UInt32;
  frozen @4 :Bool;
}

struct Command {
  ref @0 :CommandRef;
  service @1 :Text;
  body :union {
    install @2 :InstallRelease;
    activate @3 :ActivateRelease;
    rollback @4 :RollBackRelease;
    cancel @5 :CancelCommand;
    restartBaseline @6 :Void;   # restart the service's unit without changing release
  }
}

struct InstallRelease {
  version @0 :Text;
  sha256 @1 :Text;          # hex; verified before unpacking
  sizeBytes @2 :UInt64;
  source @3 :Text;          # "coordinator" (chunks over this socket), "file://...", "https://..."
  signature @4 :Data;       # detached Ed25519 signature over the SHA-256, empty if unsigned
  activate @5 :Bool;        # switch `current` and restart once installed
  revert @6 :Bool;          # an operator's revert (`rollgate revert`): may activate a version
                            # older than the active one; any other install of an older one is
                            # refused
  trafficWeight @7 :Int16 = -1;  # load balancer weight (0..256) the host holds once active,
                                 # for trafficWeightSeconds; -1: leave the weight alone
  trafficWeightSeconds @8 :UInt32;  # the stage's warm-up and analysis; then full weight again
}

struct ActivateRelease {
  version @0 :Text;
}

struct RollBackRelease {
  toVersion @0 :Text;       # empty: the release before the active one
  explicit @1 :Bool;        # operator or rollout rollback: allowed to go to an older version
}

struct CancelCommand {
  target @0 :CommandRef;    # the in-flight command to cancel
}

struct ArtifactChunk {
  sha256 @0 :Text;
  offset @1 :UInt64;
  totalBytes @2 :UInt64;
  data @3 :Data;
  error @4 :Text;           # non-empty: the artifact is unknown or unreadable
}

struct Abort {
  # Also sent on the broadcast channel. Durable on the coordinator; re-sent until acknowledged.
  abortId @0 :UInt64;
  rolloutIds @1 :List(Text); # empty: every rollout
  reason @2 :Text;
  rollBack @3 :List(ServiceRelease); # per service, the release to switch back to
}

# ---------------------------------------------------------------------------------------------
# Coordinator -> every agent (PUB -> SUB). Lossy: never the only path for anything.

struct Broadcast {
  version @0 :UInt16;
  broadcastId @1 :UInt64;
  body :union {
    abort @2 :Abort;
    freeze @3 :Text;    # reason
    resume @4 :Void;
  }
}

# ---------------------------------------------------------------------------------------------
# CLI -> coordinator (CLI DEALER -> admin ROUTER) and back

struct AdminRequest {
  version @0 :UInt16;
  requestId @1 :UInt64;
  body :union {
    listHosts @2 :Void;
    enrollHost @3 :EnrollHost;
    revokeHost @4 :Text;          # host name
    queryTelemetry @5 :QueryTelemetry;
    pushArtifact @6 :PushArtifact;
    manualCommand @7 :ManualCommand;
    listReleases @8 :Text;        # host name
    startRollout @9 :StartRollout;
    rolloutAction @10 :RolloutAction;
    listRollouts @11 :Void;
    describeRollout @12 :Text;    # rollout id: status, stages, checks, events
    abort @13 :AbortRequest;
    freeze @14 :FreezeRequest;
    watchRollout @15 :Text;       # rollout id: the reply stream continues until it ends
    revert @16 :RevertRequest;    # reply: json (the revert's report, or with staged the
                                  # rollout's summary: docs/revert.md)
    describeRevert @17 :Text;     # revert id ("v<n>"); reply: json (its report)
    train @18 :TrainRequest;      # release candidates and the release train; reply: json
    consoleToken @19 :ConsoleTokenRequest;  # reply: ok (the token, shown once)
    backtest @20 :BacktestRequest;  # reply: json (the report: docs/backtest.md)
    labelRollout @21 :LabelRollout;
  }
}

struct TrainRequest {
  # The release train (docs/train.md). `action`: submit, tests, list (release candidates);
  # enable, disable, status, history, pause, resume, lock, unlock (the train). Its arguments
  # (commit, version, tests, reason, config, plan and gates texts...) are a JSON object.
  action @0 :Text;
  service @1 :Text;
  argsJson @2 :Text;
}

struct ConsoleTokenRequest {
  # A sign-in token for the web console (docs/console.md); the coordinator keeps its SHA-256.
  operatorName @0 :Text;   # who signs in with it (shown in the event log)
  role @1 :Text;           # viewer (read) or operator (act)
  ttlSeconds @2 :UInt64;   # how long it is valid
}

struct BacktestRequest {
  # Replays kept rollouts, or the history in windowsJsonl, with other gates and plan
  # (docs/backtest.md). Never sends a command and never changes stored state.
  gatesToml @0 :Text;     # empty: each rollout's own gates
  gatesName @1 :Text;
  planToml @2 :Text;      # empty: each rollout's own plan
  planName @3 :Text;
  service @4 :Text;       # empty: every service
  sinceMillis @5 :UInt64;
  untilMillis @6 :UInt64; # 0: now
  windowsJsonl @7 :Text;  # JSON lines (docs/backtest.md); empty: the coordinator's kept rollouts
  windowsName @8 :Text;
  compare @9 :Bool;
}

struct LabelRollout {
  rolloutId @0 :Text;
  label @1 :Text;         # good or bad
  reason @2 :Text;
}

struct RevertRequest {
  # Switches every host of `service` back to an older release (docs/revert.md).
  service @0 :Text;
  toVersion @1 :Text;      # empty: the release before the newest one active on the service's hosts
  batchHosts @2 :UInt32;   # hosts switched at once; 0 with batchPercent 0: every host at once
  batchPercent @3 :UInt32; # hosts switched at once, as a percentage of the service's hosts (1..100)
  staged @4 :Bool;         # a gated revert: a rollout of the older release (plan and gates below)
  reason @5 :Text;
  planToml @6 :Text;       # with staged: the rollout plan (empty: the default plan)
  gatesToml @7 :Text;      # with staged: the gates (empty: the default gates)
}

struct EnrollHost {
  name @0 :Text;          # [A-Za-z0-9][A-Za-z0-9._-]{0,62}
  publicKey @1 :Text;     # Z85, 40 characters
}

struct QueryTelemetry {
  host @0 :Text;
  service @1 :Text;
  last @2 :UInt32;
}

struct PushArtifact {
  # Uploaded in pieces: offset 0 starts, `final` commits after the SHA-256 matches.
  service @0 :Text;
  version @1 :Text;
  sha256 @2 :Text;
  totalBytes @3 :UInt64;
  offset @4 :UInt64;
  data @5 :Data;
  final @6 :Bool;
  signature @7 :Data;
}

struct ManualCommand {
  host @0 :Text;
  service @1 :Text;
  body :union {
    install @2 :Text;      # version (must have been pushed)
    rollback @3 :Text;     # version to go to, empty: previous
  }
}

struct StartRollout {
  service @0 :Text;
  version @1 :Text;
  planToml @2 :Text;      # empty: the default plan
  gatesToml @3 :Text;     # empty: the default gates
  canaryHost @4 :Text;    # empty: chosen by the coordinator
  dryRun @5 :Bool;        # only check it could start (freeze, running rollout, plan, gates,
                          # hosts; not the artifact) and start nothing: reply ok or error
}

struct RolloutAction {
  rolloutId @0 :Text;
  action @1 :Action;
  enum Action {
    pause @0;
    resume @1;
    promote @2;
    rollback @3;
  }
}

struct AbortRequest {
  rolloutId @0 :Text;      # empty with `all`
  all @1 :Bool;
  reason @2 :Text;
}

struct FreezeRequest {
  frozen @0 :Bool;
  reason @1 :Text;
  holdRunning @2 :Bool;    # with frozen: also pause the rollouts already running
}

struct FreezeState {
  by @0 :Text;             # the operator who froze
  reason @1 :Text;         # as given; may be empty
  sinceMillis @2 :UInt64;  # Unix time in ms
}

struct HostInfo {
  name @0 :Text;
  region @1 :Text;
  cluster @2 :Text;
  agentVersion @3 :Text;
  services @4 :List(ServiceRelease);
  lastContactMillis @5 :UInt64;
  healthy @6 :Bool;
  connected @7 :Bool;
  claimedHost @8 :Text;
  dropped @9 :HostDrops;   # what the coordinator refused from this host since it started
}

struct HostDrops {
  # Counted per host key, never stored one by one (README, "Limits").
  telemetryWindows @0 :UInt64;    # windows over the windows-per-second or bytes-per-second quota
  telemetryBytes @1 :UInt64;      # their bytes
  messages @2 :UInt64;            # messages over the host's message quota (dropped undecoded)
  chunkReplies @3 :UInt64;        # chunk requests over the pending-chunk credit, or replies to a
                                  # connection whose reply queue was full
  unsolicitedResults @4 :UInt64;  # command results for no pending command (replays, duplicates)
  sessionsReplaced @5 :UInt64;    # sessions taken over by a newer hello with the same key
}

struct AdminReply {
  version @0 :UInt16;
  requestId @1 :UInt64;
  final @2 :Bool;           # false: more replies follow for this request (progress, watch)
  body :union {
    error @3 :Text;         # the request failed; the text names what and why
    ok @4 :Text;            # done; the text says what was done
    hosts @5 :List(HostInfo);
    windows @6 :List(TelemetryWindow);
    commandResult @7 :CommandResult;
    json @8 :Text;          # structured documents for rollout status, explain and history
  }
  freeze @9 :FreezeState;   # with `hosts` while rollouts are frozen fleet-wide; unset otherwise
  leader @10 :LeaderInfo;   # coordinators sharing PostgreSQL: who leads (unset with SQLite)
  standby @11 :Bool;        # true: this coordinator does not lead and did not handle the request;
                            # `leader` names the one that does, when it is known
}

struct LeaderInfo {
  # The coordinator that holds the leader lease (README, "High availability").
  id @0 :Text;              # its [store] coordinator_id
  adminEndpoint @1 :Text;   # where operators reach it (its advertised admin endpoint)
  epoch @2 :UInt64;         # the lease's epoch: every command it sends carries it
  sinceMillis @3 :UInt64;   # Unix time in ms when it took the lease
  consoleUrl @4 :Text;      # its web console for operators ("" when it serves none)
}
