// Over 600 lines by choice: this file is the whole wire contract of schemas/rollgate.capnp in C++
// (conversion both ways, the decoding frame, and the validation of every message), kept in one
// place so that a schema change is made, reviewed and fuzzed in one file.
#include "common/codec.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/text_fit.h"
#include "common/wire_fit.h"
#include "common/version.h"
#include "schemas/rollgate.capnp.h"

namespace rollgate {
namespace {

namespace w = rollgate::wire;

// ---------------------------------------------------------------------------------------------
// Small conversion helpers

capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

capnp::Data::Reader data(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string str(capnp::Text::Reader r) { return std::string(r.cStr(), r.size()); }

std::string str(capnp::Data::Reader r) {
  return std::string(reinterpret_cast<const char*>(r.begin()), r.size());
}

std::vector<std::string> strings(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto item : list) out.push_back(str(item));
  return out;
}

void setStrings(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, text(values[i]));
}

template <typename T, typename ListBuilder>
void setNumbers(ListBuilder list, const std::vector<T>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, values[i]);
}

template <typename T, typename ListReader>
std::vector<T> numbers(ListReader list) {
  std::vector<T> out;
  out.reserve(list.size());
  for (auto item : list) out.push_back(item);
  return out;
}

std::string toString(kj::Array<capnp::word> words) {
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

void put(w::ServiceRelease::Builder b, const ServiceRelease& v) {
  b.setService(text(v.service));
  b.setActiveRelease(text(v.activeRelease));
  setStrings(b.initReleases(v.releases.size()), v.releases);
}
ServiceRelease get(w::ServiceRelease::Reader r) {
  return ServiceRelease{str(r.getService()), str(r.getActiveRelease()), strings(r.getReleases())};
}

void putServices(capnp::List<w::ServiceRelease>::Builder list,
                 const std::vector<ServiceRelease>& values) {
  for (unsigned i = 0; i < values.size(); ++i) put(list[i], values[i]);
}
std::vector<ServiceRelease> getServices(capnp::List<w::ServiceRelease>::Reader list) {
  std::vector<ServiceRelease> out;
  for (auto item : list) out.push_back(get(item));
  return out;
}

void put(w::CommandRef::Builder b, const CommandRef& v) {
  b.setRolloutId(text(v.rolloutId));
  b.setSequence(v.sequence);
  b.setEpoch(v.epoch);
}
CommandRef get(w::CommandRef::Reader r) {
  return CommandRef{str(r.getRolloutId()), r.getSequence(), r.getEpoch()};
}

void put(w::TelemetryWindow::Builder b, const TelemetryWindow& v) {
  b.setService(text(v.service));
  b.setRelease(text(v.release));
  b.setStartMillis(v.startMillis);
  b.setEndMillis(v.endMillis);
  b.setRequests(v.requests);
  b.setStatus1xx(v.status1xx);
  b.setStatus2xx(v.status2xx);
  b.setStatus3xx(v.status3xx);
  b.setStatus4xx(v.status4xx);
  b.setStatus5xx(v.status5xx);
  auto codes = b.initStatusCodes(v.statusCodes.size());
  for (unsigned i = 0; i < v.statusCodes.size(); ++i) {
    codes[i].setCode(v.statusCodes[i].code);
    codes[i].setCount(v.statusCodes[i].count);
  }
  setNumbers(b.initLatencyBucketUpperMicros(v.latencyBucketUpperMicros.size()),
             v.latencyBucketUpperMicros);
  setNumbers(b.initLatencyBucketCounts(v.latencyBucketCounts.size()), v.latencyBucketCounts);
  setNumbers(b.initLatencySampleMicros(v.latencySampleMicros.size()), v.latencySampleMicros);
  b.setErrorLogLines(v.errorLogLines);
  b.setUnparsedLines(v.unparsedLines);
  b.setCpuMillis(v.cpuMillis);
  b.setCpuMicros(v.cpuMicros);
  b.setMemoryBytes(v.memoryBytes);
  b.setRestarts(v.restarts);
  b.setUnitActive(v.unitActive);
  b.setMainPid(v.mainPid);
  b.setDroppedBefore(v.droppedBefore);
  b.setSequence(v.sequence);
  const SentryWindow& s = v.sentry;
  b.setSentryEnabled(s.enabled);
  b.setSentryErrors(s.errors);
  b.setSentryUnhandled(s.unhandled);
  b.setSentrySessions(s.sessions);
  b.setSentrySessionsErrored(s.sessionsErrored);
  b.setSentrySessionsCrashed(s.sessionsCrashed);
  b.setSentrySessionsAbnormal(s.sessionsAbnormal);
  auto prints = b.initSentryFingerprints(s.fingerprints.size());
  for (unsigned i = 0; i < s.fingerprints.size(); ++i) {
    const SentryFingerprint& f = s.fingerprints[i];
    prints[i].setType(text(f.type));
    prints[i].setFrame(text(f.frame));
    prints[i].setCount(f.count);
    prints[i].setUnhandled(f.unhandled);
    prints[i].setSampleMessage(text(f.sampleMessage));
  }
  b.setSentryFingerprintsDropped(s.fingerprintsDropped);
  b.setSentryNoRelease(s.noRelease);
  b.setSentryRejected(s.rejected);
  b.setSentryRateLimited(s.rateLimited);
  b.setSentryRelayDropped(s.relayDropped);
}
TelemetryWindow get(w::TelemetryWindow::Reader r) {
  TelemetryWindow v;
  v.service = str(r.getService());
  v.release = str(r.getRelease());
  v.startMillis = r.getStartMillis();
  v.endMillis = r.getEndMillis();
  v.requests = r.getRequests();
  v.status1xx = r.getStatus1xx();
  v.status2xx = r.getStatus2xx();
  v.status3xx = r.getStatus3xx();
  v.status4xx = r.getStatus4xx();
  v.status5xx = r.getStatus5xx();
  v.statusCodes.reserve(r.getStatusCodes().size());
  for (auto c : r.getStatusCodes()) v.statusCodes.push_back(StatusCount{c.getCode(), c.getCount()});
  v.latencyBucketUpperMicros = numbers<std::uint64_t>(r.getLatencyBucketUpperMicros());
  v.latencyBucketCounts = numbers<std::uint64_t>(r.getLatencyBucketCounts());
  v.latencySampleMicros = numbers<std::uint32_t>(r.getLatencySampleMicros());
  v.errorLogLines = r.getErrorLogLines();
  v.unparsedLines = r.getUnparsedLines();
  v.cpuMillis = r.getCpuMillis();
  v.cpuMicros = r.getCpuMicros();
  v.memoryBytes = r.getMemoryBytes();
  v.restarts = r.getRestarts();
  v.unitActive = r.getUnitActive();
  v.mainPid = r.getMainPid();
  v.droppedBefore = r.getDroppedBefore();
  v.sequence = r.getSequence();
  SentryWindow& s = v.sentry;
  s.enabled = r.getSentryEnabled();
  s.errors = r.getSentryErrors();
  s.unhandled = r.getSentryUnhandled();
  s.sessions = r.getSentrySessions();
  s.sessionsErrored = r.getSentrySessionsErrored();
  s.sessionsCrashed = r.getSentrySessionsCrashed();
  s.sessionsAbnormal = r.getSentrySessionsAbnormal();
  for (auto f : r.getSentryFingerprints()) {
    s.fingerprints.push_back(SentryFingerprint{str(f.getType()), str(f.getFrame()), f.getCount(),
                                               f.getUnhandled(), str(f.getSampleMessage())});
  }
  s.fingerprintsDropped = r.getSentryFingerprintsDropped();
  s.noRelease = r.getSentryNoRelease();
  s.rejected = r.getSentryRejected();
  s.rateLimited = r.getSentryRateLimited();
  s.relayDropped = r.getSentryRelayDropped();
  return v;
}

w::CommandResult::Outcome toWire(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded: return w::CommandResult::Outcome::SUCCEEDED;
    case Outcome::kFailed: return w::CommandResult::Outcome::FAILED;
    case Outcome::kRolledBack: return w::CommandResult::Outcome::ROLLED_BACK;
    case Outcome::kStale: return w::CommandResult::Outcome::STALE;
    case Outcome::kCancelled: return w::CommandResult::Outcome::CANCELLED;
    case Outcome::kInterrupted: return w::CommandResult::Outcome::INTERRUPTED;
    case Outcome::kInProgress: return w::CommandResult::Outcome::IN_PROGRESS;
  }
  return w::CommandResult::Outcome::FAILED;
}
Outcome fromWire(w::CommandResult::Outcome o) {
  switch (o) {
    case w::CommandResult::Outcome::SUCCEEDED: return Outcome::kSucceeded;
    case w::CommandResult::Outcome::FAILED: return Outcome::kFailed;
    case w::CommandResult::Outcome::ROLLED_BACK: return Outcome::kRolledBack;
    case w::CommandResult::Outcome::STALE: return Outcome::kStale;
    case w::CommandResult::Outcome::CANCELLED: return Outcome::kCancelled;
    case w::CommandResult::Outcome::INTERRUPTED: return Outcome::kInterrupted;
    case w::CommandResult::Outcome::IN_PROGRESS: return Outcome::kInProgress;
  }
  throw std::invalid_argument("outcome: unknown enumerant " +
                              std::to_string(static_cast<unsigned>(o)));
}

void put(w::CommandResult::Builder b, const CommandResult& v) {
  put(b.initCommand(), v.command);
  b.setService(text(v.service));
  b.setOutcome(toWire(v.outcome));
  b.setActiveRelease(text(v.activeRelease));
  b.setMessage(text(v.message));
  setStrings(b.initEvents(v.events.size()), v.events);
  b.setDurationMillis(v.durationMillis);
  b.setProgress(v.progress);
  b.setBytesDone(v.bytesDone);
  b.setBytesTotal(v.bytesTotal);
}
CommandResult get(w::CommandResult::Reader r) {
  CommandResult v;
  v.command = get(r.getCommand());
  v.service = str(r.getService());
  v.outcome = fromWire(r.getOutcome());
  v.activeRelease = str(r.getActiveRelease());
  v.message = str(r.getMessage());
  v.events = strings(r.getEvents());
  v.durationMillis = r.getDurationMillis();
  v.progress = r.getProgress();
  v.bytesDone = r.getBytesDone();
  v.bytesTotal = r.getBytesTotal();
  return v;
}

void put(w::Abort::Builder b, const Abort& v) {
  b.setAbortId(v.abortId);
  setStrings(b.initRolloutIds(v.rolloutIds.size()), v.rolloutIds);
  b.setReason(text(v.reason));
  putServices(b.initRollBack(v.rollBack.size()), v.rollBack);
}
Abort get(w::Abort::Reader r) {
  return Abort{r.getAbortId(), strings(r.getRolloutIds()), str(r.getReason()),
               getServices(r.getRollBack())};
}

void put(w::HostInfo::Builder b, const HostInfo& v) {
  b.setName(text(v.name));
  b.setRegion(text(v.region));
  b.setCluster(text(v.cluster));
  b.setAgentVersion(text(v.agentVersion));
  putServices(b.initServices(v.services.size()), v.services);
  b.setLastContactMillis(v.lastContactMillis);
  b.setHealthy(v.healthy);
  b.setConnected(v.connected);
  b.setClaimedHost(text(v.claimedHost));
  auto d = b.initDropped();
  d.setTelemetryWindows(v.dropped.telemetryWindows);
  d.setTelemetryBytes(v.dropped.telemetryBytes);
  d.setMessages(v.dropped.messages);
  d.setChunkReplies(v.dropped.chunkReplies);
  d.setUnsolicitedResults(v.dropped.unsolicitedResults);
  d.setSessionsReplaced(v.dropped.sessionsReplaced);
}
HostInfo get(w::HostInfo::Reader r) {
  HostInfo v;
  v.name = str(r.getName());
  v.region = str(r.getRegion());
  v.cluster = str(r.getCluster());
  v.agentVersion = str(r.getAgentVersion());
  v.services = getServices(r.getServices());
  v.lastContactMillis = r.getLastContactMillis();
  v.healthy = r.getHealthy();
  v.connected = r.getConnected();
  v.claimedHost = str(r.getClaimedHost());
  auto d = r.getDropped();
  v.dropped = HostDrops{d.getTelemetryWindows(), d.getTelemetryBytes(), d.getMessages(),
                        d.getChunkReplies(),     d.getUnsolicitedResults(), d.getSessionsReplaced()};
  return v;
}

// ---------------------------------------------------------------------------------------------
// Decoding frame: aligned copy, limits, version check

// `frame` as Cap'n Proto words. Cap'n Proto reads whole words: a frame at an address that is not a
// multiple of 8 is copied into `copy` first (a received ZeroMQ frame usually is one already, and
// is read where it lies). Requires: frame.size() is a multiple of 8.
kj::ArrayPtr<const capnp::word> wordsOf(Bytes frame, kj::Array<capnp::word>& copy) {
  const std::size_t words = frame.size() / sizeof(capnp::word);
  if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word) == 0) {
    return kj::arrayPtr(reinterpret_cast<const capnp::word*>(frame.data()), words);
  }
  copy = kj::heapArray<capnp::word>(words);
  std::memcpy(copy.begin(), frame.data(), frame.size());
  return copy.asPtr();
}

template <typename Root, typename Convert>
auto decodeFrame(Bytes frame, std::size_t maxBytes, const char* what, Convert convert)
    -> Result<decltype(convert(std::declval<typename Root::Reader>()))> {
  using Out = decltype(convert(std::declval<typename Root::Reader>()));
  if (frame.empty()) return makeError(std::string(what) + ": empty frame");
  if (frame.size() > maxBytes) {
    return makeError(std::string(what) + ": frame of " + std::to_string(frame.size()) +
                     " bytes exceeds the limit of " + std::to_string(maxBytes));
  }
  if (frame.size() % sizeof(capnp::word) != 0) {
    return makeError(std::string(what) + ": frame of " + std::to_string(frame.size()) +
                     " bytes is not a whole number of 8-byte words (truncated?)");
  }
  std::size_t words = frame.size() / sizeof(capnp::word);
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> aligned = wordsOf(frame, copy);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words * 4 + 1024;
  options.nestingLimit = kMaxNestingDepth;
  try {
    capnp::FlatArrayMessageReader reader(aligned, options);
    auto root = reader.getRoot<Root>();
    if (root.getVersion() != kProtocolVersion) {
      return makeError(std::string(what) + ": protocol version " +
                       std::to_string(root.getVersion()) + " is not supported (expected " +
                       std::to_string(kProtocolVersion) + ")");
    }
    Out out = convert(root);
    if (auto status = validate(out); !status) {
      return makeError(std::string(what) + ": " + status.error().message);
    }
    return out;
  } catch (const kj::Exception& e) {
    return makeError(std::string(what) + ": malformed: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return makeError(std::string(what) + ": malformed: " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

Status fieldError(const std::string& field, const std::string& problem) {
  return makeError("field '" + field + "': " + problem);
}

std::string quoted(const std::string& value) {
  std::string shown = value.size() > 80 ? value.substr(0, 80) + "..." : value;
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return "\"" + shown + "\"";
}

// A field's name put together only when it is reported: the checks below take it as a string or
// as this, and telemetry windows (the most frequent message) are checked with this.
struct FieldName {
  const std::string& prefix;
  const char* suffix;
};
std::string nameOf(const std::string& field) { return field; }
std::string nameOf(const FieldName& field) { return field.prefix + field.suffix; }

template <typename Field>
Status checkName(const Field& field, const std::string& value, bool allowEmpty = false) {
  if (allowEmpty && value.empty()) return {};
  if (!isValidName(value)) return fieldError(nameOf(field), "invalid name " + quoted(value));
  return {};
}

template <typename Field>
Status checkVersion(const Field& field, const std::string& value, bool allowEmpty) {
  if (allowEmpty && value.empty()) return {};
  if (auto status = validateVersion(value); !status) {
    return fieldError(nameOf(field), status.error().message);
  }
  return {};
}

template <typename Field>
Status checkText(const Field& field, const std::string& value, std::size_t maxBytes) {
  if (value.size() > maxBytes) {
    return fieldError(nameOf(field), std::to_string(value.size()) + " bytes exceeds " +
                                         std::to_string(maxBytes));
  }
  return {};
}

template <typename Field>
Status checkCount(const Field& field, std::size_t count, std::size_t max) {
  if (count > max) {
    return fieldError(nameOf(field),
                      std::to_string(count) + " entries exceeds " + std::to_string(max));
  }
  return {};
}

#define ROLLGATE_RETURN_IF_ERROR(expr)   \
  do {                                   \
    if (auto status_ = (expr); !status_) \
      return status_;                    \
  } while (0)

Status check(const ServiceRelease& v, const std::string& field) {
  ROLLGATE_RETURN_IF_ERROR(checkName(field + ".service", v.service));
  ROLLGATE_RETURN_IF_ERROR(checkVersion(field + ".activeRelease", v.activeRelease, true));
  ROLLGATE_RETURN_IF_ERROR(checkCount(field + ".releases", v.releases.size(), kMaxReportedReleases));
  for (std::size_t i = 0; i < v.releases.size(); ++i) {
    ROLLGATE_RETURN_IF_ERROR(checkVersion(field + ".releases[" + std::to_string(i) + "]", v.releases[i],
                                false));
  }
  return {};
}

Status checkServices(const std::vector<ServiceRelease>& list, const std::string& field) {
  ROLLGATE_RETURN_IF_ERROR(checkCount(field, list.size(), 64));
  for (std::size_t i = 0; i < list.size(); ++i) {
    ROLLGATE_RETURN_IF_ERROR(check(list[i], field + "[" + std::to_string(i) + "]"));
  }
  return {};
}

Status check(const CommandRef& v, const std::string& field) {
  return checkText(field + ".rolloutId", v.rolloutId, 128);
}

Status check(const TelemetryWindow& v, const std::string& f) {
  ROLLGATE_RETURN_IF_ERROR(checkName(FieldName{f, ".service"}, v.service));
  ROLLGATE_RETURN_IF_ERROR(checkVersion(FieldName{f, ".release"}, v.release, true));
  if (v.endMillis < v.startMillis) {
    return fieldError(f + ".endMillis", std::to_string(v.endMillis) + " is before startMillis " +
                                             std::to_string(v.startMillis));
  }
  ROLLGATE_RETURN_IF_ERROR(checkCount(FieldName{f, ".statusCodes"}, v.statusCodes.size(), 500));
  for (const auto& c : v.statusCodes) {
    if (c.code < 100 || c.code > 599) {
      return fieldError(f + ".statusCodes", "status code " + std::to_string(c.code) +
                                                " outside 100-599");
    }
  }
  ROLLGATE_RETURN_IF_ERROR(checkCount(FieldName{f, ".latencyBucketUpperMicros"}, v.latencyBucketUpperMicros.size(), 128));
  if (v.latencyBucketCounts.size() != v.latencyBucketUpperMicros.size()) {
    return fieldError(f + ".latencyBucketCounts",
                      std::to_string(v.latencyBucketCounts.size()) +
                          " counts for " + std::to_string(v.latencyBucketUpperMicros.size()) +
                          " buckets");
  }
  ROLLGATE_RETURN_IF_ERROR(checkCount(FieldName{f, ".latencySampleMicros"}, v.latencySampleMicros.size(), 8192));
  // Summed with a bound check at every step: a hostile window must not wrap the sum around.
  std::uint64_t classes = 0;
  for (std::uint64_t count : {v.status1xx, v.status2xx, v.status3xx, v.status4xx, v.status5xx}) {
    if (count > v.requests - classes) {
      return fieldError(f + ".requests", std::to_string(v.requests) +
                                             " is less than the sum of the status classes");
    }
    classes += count;
  }
  ROLLGATE_RETURN_IF_ERROR(checkCount(FieldName{f, ".sentryFingerprints"}, v.sentry.fingerprints.size(),
                                      kMaxSentryFingerprints));
  for (const auto& print : v.sentry.fingerprints) {
    ROLLGATE_RETURN_IF_ERROR(checkText(FieldName{f, ".sentryFingerprints.type"}, print.type, kMaxSentryTextBytes));
    ROLLGATE_RETURN_IF_ERROR(checkText(FieldName{f, ".sentryFingerprints.frame"}, print.frame, kMaxSentryTextBytes));
    ROLLGATE_RETURN_IF_ERROR(checkText(FieldName{f, ".sentryFingerprints.sampleMessage"}, print.sampleMessage,
                                       kMaxSentryTextBytes));
    if (print.unhandled > print.count || print.count > v.sentry.errors) {
      return fieldError(f + ".sentryFingerprints", "fingerprint \"" + print.type + "\" counts " +
                                                       std::to_string(print.count) +
                                                       " events of " + std::to_string(v.sentry.errors) +
                                                       " errors, " + std::to_string(print.unhandled) +
                                                       " unhandled");
    }
  }
  return {};
}

Status check(const CommandResult& v, const std::string& f) {
  ROLLGATE_RETURN_IF_ERROR(check(v.command, f + ".command"));
  ROLLGATE_RETURN_IF_ERROR(checkName(f + ".service", v.service, true));
  ROLLGATE_RETURN_IF_ERROR(checkVersion(f + ".activeRelease", v.activeRelease, true));
  ROLLGATE_RETURN_IF_ERROR(checkText(f + ".message", v.message, kMaxResultMessageBytes));
  ROLLGATE_RETURN_IF_ERROR(checkCount(f + ".events", v.events.size(), kMaxResultEvents));
  for (const auto& e : v.events) {
    ROLLGATE_RETURN_IF_ERROR(checkText(f + ".events", e, kMaxResultEventBytes));
  }
  return {};
}

Status check(const Abort& v, const std::string& f) {
  ROLLGATE_RETURN_IF_ERROR(checkCount(f + ".rolloutIds", v.rolloutIds.size(), 1024));
  for (const auto& id : v.rolloutIds) ROLLGATE_RETURN_IF_ERROR(checkText(f + ".rolloutIds", id, 128));
  ROLLGATE_RETURN_IF_ERROR(checkText(f + ".reason", v.reason, 1024));
  return checkServices(v.rollBack, f + ".rollBack");
}

Status check(const Hello& v) {
  ROLLGATE_RETURN_IF_ERROR(checkText("hello.claimedHost", v.claimedHost, 64));
  ROLLGATE_RETURN_IF_ERROR(checkName("hello.region", v.region));
  ROLLGATE_RETURN_IF_ERROR(checkName("hello.cluster", v.cluster));
  ROLLGATE_RETURN_IF_ERROR(checkText("hello.agentVersion", v.agentVersion, 64));
  ROLLGATE_RETURN_IF_ERROR(checkServices(v.services, "hello.services"));
  return check(v.lastApplied, "hello.lastApplied");
}
Status check(const Heartbeat& v) { return checkServices(v.services, "heartbeat.services"); }
Status check(const TelemetryReport& v) {
  ROLLGATE_RETURN_IF_ERROR(checkCount("telemetry.windows", v.windows.size(), 1024));
  for (std::size_t i = 0; i < v.windows.size(); ++i) {
    ROLLGATE_RETURN_IF_ERROR(check(v.windows[i], "telemetry.windows[" + std::to_string(i) + "]"));
  }
  return {};
}
Status check(const CommandResult& v) { return check(v, "commandResult"); }
Status check(const AckAbort& v) { return checkServices(v.rolledBack, "ackAbort.rolledBack"); }
Status check(const AckBroadcast&) { return {}; }
Status check(const RequestChunk& v) {
  if (!isValidSha256(v.sha256)) return fieldError("requestChunk.sha256", "not a SHA-256 " + quoted(v.sha256));
  if (v.length == 0 || v.length > kArtifactChunkBytes) {
    return fieldError("requestChunk.length", std::to_string(v.length) + " outside 1-" +
                                                 std::to_string(kArtifactChunkBytes));
  }
  return {};
}

Status check(const Welcome& v) { return checkText("welcome.host", v.host, 64); }
Status check(const AckTelemetry&) { return {}; }
Status check(const OverQuota&) { return {}; }
Status check(const SessionClosed& v) { return checkText("sessionClosed", v.reason, 1024); }
Status check(const Command& v) {
  ROLLGATE_RETURN_IF_ERROR(check(v.ref, "command.ref"));
  ROLLGATE_RETURN_IF_ERROR(checkName("command.service", v.service));
  if (const auto* install = std::get_if<InstallRelease>(&v.body)) {
    ROLLGATE_RETURN_IF_ERROR(checkVersion("command.install.version", install->version, false));
    if (!isValidSha256(install->sha256)) {
      return fieldError("command.install.sha256", "not a SHA-256 " + quoted(install->sha256));
    }
    ROLLGATE_RETURN_IF_ERROR(checkText("command.install.source", install->source, 4096));
    ROLLGATE_RETURN_IF_ERROR(checkText("command.install.signature", install->signature, 1024));
    if (install->trafficWeight < -1 || install->trafficWeight > kMaxTrafficWeight) {
      return fieldError("command.install.trafficWeight",
                        "expected -1 (unchanged) or 0.." + std::to_string(kMaxTrafficWeight) +
                            ", got " + std::to_string(install->trafficWeight));
    }
  } else if (const auto* activate = std::get_if<ActivateRelease>(&v.body)) {
    ROLLGATE_RETURN_IF_ERROR(checkVersion("command.activate.version", activate->version, false));
  } else if (const auto* rollback = std::get_if<RollBackRelease>(&v.body)) {
    ROLLGATE_RETURN_IF_ERROR(checkVersion("command.rollback.toVersion", rollback->toVersion, true));
  } else if (const auto* cancel = std::get_if<CancelCommand>(&v.body)) {
    ROLLGATE_RETURN_IF_ERROR(check(cancel->target, "command.cancel.target"));
  }
  return {};
}
Status check(const ArtifactChunk& v) {
  if (!isValidSha256(v.sha256)) return fieldError("chunk.sha256", "not a SHA-256 " + quoted(v.sha256));
  if (v.data.size() > kArtifactChunkBytes) {
    return fieldError("chunk.data", std::to_string(v.data.size()) + " bytes exceeds " +
                                        std::to_string(kArtifactChunkBytes));
  }
  if (v.error.empty() && (v.offset > v.totalBytes || v.data.size() > v.totalBytes - v.offset)) {
    return fieldError("chunk.offset", "chunk ends at " + std::to_string(v.offset + v.data.size()) +
                                          " past totalBytes " + std::to_string(v.totalBytes));
  }
  return checkText("chunk.error", v.error, 1024);
}
Status check(const Abort& v) { return check(v, "abort"); }
Status check(const Freeze& v) { return checkText("freeze", v.reason, 1024); }
Status check(const Resume&) { return {}; }

Status check(const ListHosts&) { return {}; }
Status check(const EnrollHost& v) {
  ROLLGATE_RETURN_IF_ERROR(checkName("enrollHost.name", v.name));
  if (v.publicKey.size() != 40) {
    return fieldError("enrollHost.publicKey", "expected 40 Z85 characters, got " +
                                                  std::to_string(v.publicKey.size()));
  }
  return {};
}
Status check(const RevokeHost& v) { return checkName("revokeHost", v.name); }
Status check(const QueryTelemetry& v) {
  ROLLGATE_RETURN_IF_ERROR(checkName("queryTelemetry.host", v.host));
  return checkName("queryTelemetry.service", v.service, true);
}
Status check(const PushArtifact& v) {
  ROLLGATE_RETURN_IF_ERROR(checkName("pushArtifact.service", v.service));
  ROLLGATE_RETURN_IF_ERROR(checkVersion("pushArtifact.version", v.version, false));
  if (!isValidSha256(v.sha256)) return fieldError("pushArtifact.sha256", "not a SHA-256 " + quoted(v.sha256));
  if (v.data.size() > kArtifactChunkBytes) {
    return fieldError("pushArtifact.data", std::to_string(v.data.size()) + " bytes exceeds " +
                                               std::to_string(kArtifactChunkBytes));
  }
  return checkText("pushArtifact.signature", v.signature, 1024);
}
Status check(const ManualCommand& v) {
  ROLLGATE_RETURN_IF_ERROR(checkName("manualCommand.host", v.host));
  ROLLGATE_RETURN_IF_ERROR(checkName("manualCommand.service", v.service));
  return checkVersion("manualCommand.version", v.version, v.kind == ManualCommand::Kind::kRollback);
}
Status check(const ListReleases& v) { return checkName("listReleases", v.host); }
Status check(const StartRollout& v) {
  ROLLGATE_RETURN_IF_ERROR(checkName("startRollout.service", v.service));
  ROLLGATE_RETURN_IF_ERROR(checkVersion("startRollout.version", v.version, false));
  ROLLGATE_RETURN_IF_ERROR(checkText("startRollout.planToml", v.planToml, 256 << 10));
  ROLLGATE_RETURN_IF_ERROR(checkText("startRollout.gatesToml", v.gatesToml, 256 << 10));
  return checkName("startRollout.canaryHost", v.canaryHost, true);
}
Status check(const RolloutAction& v) { return checkText("rolloutAction.rolloutId", v.rolloutId, 128); }
Status check(const ListRollouts&) { return {}; }
Status check(const DescribeRollout& v) { return checkText("describeRollout", v.rolloutId, 128); }
Status check(const AbortRequest& v) {
  if (!v.all && v.rolloutId.empty()) return fieldError("abort.rolloutId", "empty without 'all'");
  ROLLGATE_RETURN_IF_ERROR(checkText("abort.rolloutId", v.rolloutId, 128));
  return checkText("abort.reason", v.reason, 1024);
}
Status check(const FreezeRequest& v) { return checkText("freeze.reason", v.reason, 1024); }
Status check(const WatchRollout& v) { return checkText("watchRollout", v.rolloutId, 128); }
Status check(const RevertRequest& v) {
  ROLLGATE_RETURN_IF_ERROR(checkName("revert.service", v.service));
  ROLLGATE_RETURN_IF_ERROR(checkVersion("revert.toVersion", v.toVersion, true));
  if (v.batchHosts > 0 && v.batchPercent > 0) {
    return fieldError("revert.batchPercent", "set together with batchHosts");
  }
  if (v.batchPercent > 100) {
    return fieldError("revert.batchPercent", std::to_string(v.batchPercent) + " is above 100");
  }
  ROLLGATE_RETURN_IF_ERROR(checkText("revert.planToml", v.planToml, 256 << 10));
  ROLLGATE_RETURN_IF_ERROR(checkText("revert.gatesToml", v.gatesToml, 256 << 10));
  return checkText("revert.reason", v.reason, 1024);
}
Status check(const DescribeRevert& v) { return checkText("describeRevert", v.revertId, 128); }
Status check(const TrainRequest& v) {
  ROLLGATE_RETURN_IF_ERROR(checkText("train.action", v.action, 64));
  if (!v.service.empty()) ROLLGATE_RETURN_IF_ERROR(checkName("train.service", v.service));
  return checkText("train.argsJson", v.argsJson, 1 << 20);
}
Status check(const ConsoleTokenRequest& v) {
  ROLLGATE_RETURN_IF_ERROR(checkText("consoleToken.operatorName", v.operatorName, 128));
  return checkText("consoleToken.role", v.role, 32);
}
Status check(const BacktestRequest& v) {
  ROLLGATE_RETURN_IF_ERROR(checkText("backtest.gatesToml", v.gatesToml, 256 << 10));
  ROLLGATE_RETURN_IF_ERROR(checkText("backtest.gatesName", v.gatesName, 4096));
  ROLLGATE_RETURN_IF_ERROR(checkText("backtest.planToml", v.planToml, 256 << 10));
  ROLLGATE_RETURN_IF_ERROR(checkText("backtest.planName", v.planName, 4096));
  if (!v.service.empty()) ROLLGATE_RETURN_IF_ERROR(checkName("backtest.service", v.service));
  ROLLGATE_RETURN_IF_ERROR(checkText("backtest.windowsJsonl", v.windowsJsonl, kMaxBacktestWindowsBytes));
  return checkText("backtest.windowsName", v.windowsName, 4096);
}
Status check(const LabelRollout& v) {
  ROLLGATE_RETURN_IF_ERROR(checkText("labelRollout.rolloutId", v.rolloutId, 128));
  if (v.label != "good" && v.label != "bad") {
    return fieldError("labelRollout.label", "\"" + v.label + "\" is not good or bad");
  }
  return checkText("labelRollout.reason", v.reason, 1024);
}

Status check(const AdminError& v) { return checkText("error", v.message, 64 << 10); }
Status check(const AdminOk& v) { return checkText("ok", v.message, 64 << 10); }
Status check(const HostList& v) {
  ROLLGATE_RETURN_IF_ERROR(checkCount("hosts", v.hosts.size(), 100000));
  for (const auto& h : v.hosts) {
    ROLLGATE_RETURN_IF_ERROR(checkName("hosts.name", h.name));
    ROLLGATE_RETURN_IF_ERROR(checkServices(h.services, "hosts.services"));
  }
  if (v.freeze) {
    ROLLGATE_RETURN_IF_ERROR(checkText("freeze.by", v.freeze->by, 64));
    ROLLGATE_RETURN_IF_ERROR(checkText("freeze.reason", v.freeze->reason, 1024));
  }
  return {};
}
Status check(const WindowList& v) {
  for (std::size_t i = 0; i < v.windows.size(); ++i) {
    ROLLGATE_RETURN_IF_ERROR(check(v.windows[i], "windows[" + std::to_string(i) + "]"));
  }
  return {};
}
Status check(const JsonDocument& v) { return checkText("json", v.text, 8 << 20); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public: names

bool isValidName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool isValidVersion(const std::string& version) { return validateVersion(version).ok(); }

bool isValidSha256(const std::string& hex) {
  return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

const char* outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kFailed: return "failed";
    case Outcome::kRolledBack: return "rolled_back";
    case Outcome::kStale: return "stale";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kInterrupted: return "interrupted";
    case Outcome::kInProgress: return "in_progress";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Public: validation

Status validate(const AgentMessage& message) {
  return std::visit([](const auto& body) { return check(body); }, message);
}
Status validate(const CoordinatorMessage& message) {
  return std::visit([](const auto& body) { return check(body); }, message);
}
Status validate(const Broadcast& message) {
  return std::visit([](const auto& body) { return check(body); }, message.body);
}
Status validate(const AdminRequest& message) {
  return std::visit([](const auto& body) { return check(body); }, message.body);
}
Status validate(const AdminReply& message) {
  return std::visit([](const auto& body) -> Status {
    if constexpr (std::is_same_v<std::decay_t<decltype(body)>, CommandResult>) {
      return check(body, "commandResult");
    } else {
      return check(body);
    }
  }, message.body);
}

// ---------------------------------------------------------------------------------------------
// Public: agent messages

std::string encode(const AgentMessage& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<w::AgentMessage>();
  root.setVersion(kProtocolVersion);
  auto body = root.initBody();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Hello>) {
          auto b = body.initHello();
          b.setClaimedHost(text(v.claimedHost));
          b.setRegion(text(v.region));
          b.setCluster(text(v.cluster));
          b.setAgentVersion(text(v.agentVersion));
          putServices(b.initServices(v.services.size()), v.services);
          b.setBootMillis(v.bootMillis);
          put(b.initLastApplied(), v.lastApplied);
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          auto b = body.initHeartbeat();
          b.setSentMillis(v.sentMillis);
          putServices(b.initServices(v.services.size()), v.services);
        } else if constexpr (std::is_same_v<T, TelemetryReport>) {
          auto report = body.initTelemetry();
          report.setResent(v.resent);
          auto list = report.initWindows(v.windows.size());
          for (unsigned i = 0; i < v.windows.size(); ++i) put(list[i], v.windows[i]);
        } else if constexpr (std::is_same_v<T, CommandResult>) {
          put(body.initCommandResult(), v);
        } else if constexpr (std::is_same_v<T, AckAbort>) {
          auto b = body.initAckAbort();
          b.setAbortId(v.abortId);
          putServices(b.initRolledBack(v.rolledBack.size()), v.rolledBack);
        } else if constexpr (std::is_same_v<T, RequestChunk>) {
          auto b = body.initRequestChunk();
          b.setSha256(text(v.sha256));
          b.setOffset(v.offset);
          b.setLength(v.length);
        } else if constexpr (std::is_same_v<T, AckBroadcast>) {
          body.initAckBroadcast().setBroadcastId(v.broadcastId);
        }
      },
      message);
  return toString(capnp::messageToFlatArray(builder));
}

Result<AgentMessage> decodeAgentMessage(Bytes frame) {
  return decodeFrame<w::AgentMessage>(
      frame, kMaxAgentMessageBytes, "agent message",
      [](w::AgentMessage::Reader root) -> AgentMessage {
        auto body = root.getBody();
        switch (body.which()) {
          case w::AgentMessage::Body::HELLO: {
            auto r = body.getHello();
            Hello v;
            v.claimedHost = str(r.getClaimedHost());
            v.region = str(r.getRegion());
            v.cluster = str(r.getCluster());
            v.agentVersion = str(r.getAgentVersion());
            v.services = getServices(r.getServices());
            v.bootMillis = r.getBootMillis();
            v.lastApplied = get(r.getLastApplied());
            return v;
          }
          case w::AgentMessage::Body::HEARTBEAT: {
            auto r = body.getHeartbeat();
            return Heartbeat{r.getSentMillis(), getServices(r.getServices())};
          }
          case w::AgentMessage::Body::TELEMETRY: {
            TelemetryReport v;
            for (auto window : body.getTelemetry().getWindows()) v.windows.push_back(get(window));
            v.resent = body.getTelemetry().getResent();
            return v;
          }
          case w::AgentMessage::Body::COMMAND_RESULT:
            return get(body.getCommandResult());
          case w::AgentMessage::Body::ACK_ABORT: {
            auto r = body.getAckAbort();
            return AckAbort{r.getAbortId(), getServices(r.getRolledBack())};
          }
          case w::AgentMessage::Body::REQUEST_CHUNK: {
            auto r = body.getRequestChunk();
            return RequestChunk{str(r.getSha256()), r.getOffset(), r.getLength()};
          }
          case w::AgentMessage::Body::ACK_BROADCAST:
            return AckBroadcast{body.getAckBroadcast().getBroadcastId()};
        }
        throw std::invalid_argument("body: unknown union member " +
                                    std::to_string(static_cast<unsigned>(body.which())));
      });
}

std::optional<RefusedResult> peekRefusedResult(Bytes frame) {
  if (frame.empty() || frame.size() > kMaxAgentMessageBytes ||
      frame.size() % sizeof(capnp::word) != 0) {
    return std::nullopt;
  }
  std::size_t words = frame.size() / sizeof(capnp::word);
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> aligned = wordsOf(frame, copy);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words * 4 + 1024;
  options.nestingLimit = kMaxNestingDepth;
  try {
    capnp::FlatArrayMessageReader reader(aligned, options);
    auto root = reader.getRoot<w::AgentMessage>();
    if (root.getVersion() != kProtocolVersion) return std::nullopt;
    auto body = root.getBody();
    if (body.which() != w::AgentMessage::Body::COMMAND_RESULT) return std::nullopt;
    auto r = body.getCommandResult();
    RefusedResult out;
    out.command = get(r.getCommand());
    out.service = str(r.getService());
    out.progress = r.getProgress();
    if (!check(out.command, "commandResult.command")) return std::nullopt;
    if (!out.service.empty() && !isValidName(out.service)) return std::nullopt;
    return out;
  } catch (const kj::Exception&) {
    return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::size_t fitToWire(CommandResult& result) {
  std::size_t cut = 0;
  if (result.message.size() > kMaxResultMessageBytes) {
    result.message = truncateUtf8(result.message, kMaxResultMessageBytes);
    ++cut;
  }
  if (result.events.size() > kMaxResultEvents) {
    // The first events say what was attempted, the last ones how it ended: keep both ends.
    const std::size_t head = (kMaxResultEvents - 1) / 2;
    const std::size_t tail = kMaxResultEvents - 1 - head;
    const std::size_t dropped = result.events.size() - head - tail;
    std::vector<std::string> kept(result.events.begin(), result.events.begin() + head);
    kept.push_back("\xE2\x80\xA6 [" + std::to_string(dropped) + " events truncated]");
    kept.insert(kept.end(), result.events.end() - tail, result.events.end());
    result.events = std::move(kept);
    ++cut;
  }
  for (auto& event : result.events) {
    if (event.size() > kMaxResultEventBytes) {
      event = truncateUtf8(event, kMaxResultEventBytes);
      ++cut;
    }
  }
  return cut;
}

namespace {
std::size_t fitServices(std::vector<ServiceRelease>& services) {
  std::size_t cut = 0;
  for (auto& service : services) {
    if (service.releases.size() > kMaxReportedReleases) {
      service.releases.resize(kMaxReportedReleases);
      ++cut;
    }
  }
  return cut;
}
}  // namespace

std::size_t fitToWire(AgentMessage& message) {
  return std::visit(
      [](auto& body) -> std::size_t {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, CommandResult>) {
          return fitToWire(body);
        } else if constexpr (std::is_same_v<T, Hello> || std::is_same_v<T, Heartbeat>) {
          return fitServices(body.services);
        } else if constexpr (std::is_same_v<T, AckAbort>) {
          return fitServices(body.rolledBack);
        } else {
          return 0;
        }
      },
      message);
}

// ---------------------------------------------------------------------------------------------
// Public: coordinator -> agent

std::string encode(const CoordinatorMessage& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<w::CoordinatorMessage>();
  root.setVersion(kProtocolVersion);
  auto body = root.initBody();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Welcome>) {
          auto b = body.initWelcome();
          b.setHost(text(v.host));
          b.setEpoch(v.epoch);
          b.setHeartbeatMillis(v.heartbeatMillis);
          b.setWindowMillis(v.windowMillis);
          b.setFrozen(v.frozen);
        } else if constexpr (std::is_same_v<T, Command>) {
          auto b = body.initCommand();
          put(b.initRef(), v.ref);
          b.setService(text(v.service));
          auto cb = b.initBody();
          std::visit(
              [&](const auto& c) {
                using C = std::decay_t<decltype(c)>;
                if constexpr (std::is_same_v<C, InstallRelease>) {
                  auto i = cb.initInstall();
                  i.setVersion(text(c.version));
                  i.setSha256(text(c.sha256));
                  i.setSizeBytes(c.sizeBytes);
                  i.setSource(text(c.source));
                  i.setSignature(data(c.signature));
                  i.setActivate(c.activate);
                  i.setRevert(c.revert);
                  i.setTrafficWeight(static_cast<std::int16_t>(c.trafficWeight));
                  i.setTrafficWeightSeconds(c.trafficWeightSeconds);
                } else if constexpr (std::is_same_v<C, ActivateRelease>) {
                  cb.initActivate().setVersion(text(c.version));
                } else if constexpr (std::is_same_v<C, RollBackRelease>) {
                  auto r = cb.initRollback();
                  r.setToVersion(text(c.toVersion));
                  r.setExplicit(c.isExplicit);
                } else if constexpr (std::is_same_v<C, CancelCommand>) {
                  put(cb.initCancel().initTarget(), c.target);
                } else if constexpr (std::is_same_v<C, RestartBaseline>) {
                  cb.setRestartBaseline();
                }
              },
              v.body);
        } else if constexpr (std::is_same_v<T, ArtifactChunk>) {
          auto b = body.initChunk();
          b.setSha256(text(v.sha256));
          b.setOffset(v.offset);
          b.setTotalBytes(v.totalBytes);
          b.setData(data(v.data));
          b.setError(text(v.error));
        } else if constexpr (std::is_same_v<T, Abort>) {
          put(body.initAbort(), v);
        } else if constexpr (std::is_same_v<T, AckTelemetry>) {
          body.initAckTelemetry().setThroughSequence(v.throughSequence);
        } else if constexpr (std::is_same_v<T, OverQuota>) {
          auto b = body.initOverQuota();
          b.setDroppedWindows(v.droppedWindows);
          b.setRetryAfterMillis(v.retryAfterMillis);
          b.setStoredThrough(v.storedThrough);
          b.setStoreBehind(v.storeBehind);
        } else if constexpr (std::is_same_v<T, SessionClosed>) {
          body.setSessionClosed(text(v.reason));
        }
      },
      message);
  return toString(capnp::messageToFlatArray(builder));
}

Result<CoordinatorMessage> decodeCoordinatorMessage(Bytes frame) {
  return decodeFrame<w::CoordinatorMessage>(
      frame, kMaxCoordinatorMessageBytes, "coordinator message",
      [](w::CoordinatorMessage::Reader root) -> CoordinatorMessage {
        auto body = root.getBody();
        switch (body.which()) {
          case w::CoordinatorMessage::Body::WELCOME: {
            auto r = body.getWelcome();
            return Welcome{str(r.getHost()), r.getEpoch(), r.getHeartbeatMillis(),
                           r.getWindowMillis(), r.getFrozen()};
          }
          case w::CoordinatorMessage::Body::COMMAND: {
            auto r = body.getCommand();
            Command v;
            v.ref = get(r.getRef());
            v.service = str(r.getService());
            auto cb = r.getBody();
            switch (cb.which()) {
              case w::Command::Body::INSTALL: {
                auto i = cb.getInstall();
                v.body = InstallRelease{str(i.getVersion()), str(i.getSha256()),
                                        i.getSizeBytes(), str(i.getSource()),
                                        str(i.getSignature()), i.getActivate(), i.getRevert(),
                                        i.getTrafficWeight(), i.getTrafficWeightSeconds()};
                break;
              }
              case w::Command::Body::ACTIVATE:
                v.body = ActivateRelease{str(cb.getActivate().getVersion())};
                break;
              case w::Command::Body::ROLLBACK:
                v.body = RollBackRelease{str(cb.getRollback().getToVersion()),
                                         cb.getRollback().getExplicit()};
                break;
              case w::Command::Body::CANCEL:
                v.body = CancelCommand{get(cb.getCancel().getTarget())};
                break;
              case w::Command::Body::RESTART_BASELINE:
                v.body = RestartBaseline{};
                break;
              default:
                throw std::invalid_argument("command.body: unknown union member");
            }
            return v;
          }
          case w::CoordinatorMessage::Body::CHUNK: {
            auto r = body.getChunk();
            return ArtifactChunk{str(r.getSha256()), r.getOffset(), r.getTotalBytes(),
                                 str(r.getData()), str(r.getError())};
          }
          case w::CoordinatorMessage::Body::ABORT:
            return get(body.getAbort());
          case w::CoordinatorMessage::Body::ACK_TELEMETRY:
            return AckTelemetry{body.getAckTelemetry().getThroughSequence()};
          case w::CoordinatorMessage::Body::OVER_QUOTA: {
            auto r = body.getOverQuota();
            return OverQuota{r.getDroppedWindows(), r.getRetryAfterMillis(), r.getStoredThrough(),
                             r.getStoreBehind()};
          }
          case w::CoordinatorMessage::Body::SESSION_CLOSED:
            return SessionClosed{str(body.getSessionClosed())};
        }
        throw std::invalid_argument("body: unknown union member " +
                                    std::to_string(static_cast<unsigned>(body.which())));
      });
}

// ---------------------------------------------------------------------------------------------
// Public: broadcast

std::string encode(const Broadcast& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<w::Broadcast>();
  root.setVersion(kProtocolVersion);
  root.setBroadcastId(message.broadcastId);
  auto body = root.initBody();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Abort>) {
          put(body.initAbort(), v);
        } else if constexpr (std::is_same_v<T, Freeze>) {
          body.setFreeze(text(v.reason));
        } else if constexpr (std::is_same_v<T, Resume>) {
          body.setResume();
        }
      },
      message.body);
  return toString(capnp::messageToFlatArray(builder));
}

Result<Broadcast> decodeBroadcast(Bytes frame) {
  return decodeFrame<w::Broadcast>(
      frame, kMaxBroadcastBytes, "broadcast", [](w::Broadcast::Reader root) -> Broadcast {
        Broadcast v;
        v.broadcastId = root.getBroadcastId();
        auto body = root.getBody();
        switch (body.which()) {
          case w::Broadcast::Body::ABORT:
            v.body = get(body.getAbort());
            return v;
          case w::Broadcast::Body::FREEZE:
            v.body = Freeze{str(body.getFreeze())};
            return v;
          case w::Broadcast::Body::RESUME:
            v.body = Resume{};
            return v;
        }
        throw std::invalid_argument("body: unknown union member");
      });
}

// ---------------------------------------------------------------------------------------------
// Public: admin

std::string encode(const AdminRequest& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<w::AdminRequest>();
  root.setVersion(kProtocolVersion);
  root.setRequestId(message.requestId);
  auto body = root.initBody();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ListHosts>) {
          body.setListHosts();
        } else if constexpr (std::is_same_v<T, EnrollHost>) {
          auto b = body.initEnrollHost();
          b.setName(text(v.name));
          b.setPublicKey(text(v.publicKey));
        } else if constexpr (std::is_same_v<T, RevokeHost>) {
          body.setRevokeHost(text(v.name));
        } else if constexpr (std::is_same_v<T, QueryTelemetry>) {
          auto b = body.initQueryTelemetry();
          b.setHost(text(v.host));
          b.setService(text(v.service));
          b.setLast(v.last);
        } else if constexpr (std::is_same_v<T, PushArtifact>) {
          auto b = body.initPushArtifact();
          b.setService(text(v.service));
          b.setVersion(text(v.version));
          b.setSha256(text(v.sha256));
          b.setTotalBytes(v.totalBytes);
          b.setOffset(v.offset);
          b.setData(data(v.data));
          b.setFinal(v.final);
          b.setSignature(data(v.signature));
        } else if constexpr (std::is_same_v<T, ManualCommand>) {
          auto b = body.initManualCommand();
          b.setHost(text(v.host));
          b.setService(text(v.service));
          if (v.kind == ManualCommand::Kind::kInstall) {
            b.initBody().setInstall(text(v.version));
          } else {
            b.initBody().setRollback(text(v.version));
          }
        } else if constexpr (std::is_same_v<T, ListReleases>) {
          body.setListReleases(text(v.host));
        } else if constexpr (std::is_same_v<T, StartRollout>) {
          auto b = body.initStartRollout();
          b.setService(text(v.service));
          b.setVersion(text(v.version));
          b.setPlanToml(text(v.planToml));
          b.setGatesToml(text(v.gatesToml));
          b.setCanaryHost(text(v.canaryHost));
          b.setDryRun(v.dryRun);
        } else if constexpr (std::is_same_v<T, RolloutAction>) {
          auto b = body.initRolloutAction();
          b.setRolloutId(text(v.rolloutId));
          b.setAction(static_cast<w::RolloutAction::Action>(v.action));
        } else if constexpr (std::is_same_v<T, ListRollouts>) {
          body.setListRollouts();
        } else if constexpr (std::is_same_v<T, DescribeRollout>) {
          body.setDescribeRollout(text(v.rolloutId));
        } else if constexpr (std::is_same_v<T, AbortRequest>) {
          auto b = body.initAbort();
          b.setRolloutId(text(v.rolloutId));
          b.setAll(v.all);
          b.setReason(text(v.reason));
        } else if constexpr (std::is_same_v<T, FreezeRequest>) {
          auto b = body.initFreeze();
          b.setFrozen(v.frozen);
          b.setReason(text(v.reason));
          b.setHoldRunning(v.holdRunning);
        } else if constexpr (std::is_same_v<T, WatchRollout>) {
          body.setWatchRollout(text(v.rolloutId));
        } else if constexpr (std::is_same_v<T, RevertRequest>) {
          auto b = body.initRevert();
          b.setService(text(v.service));
          b.setToVersion(text(v.toVersion));
          b.setBatchHosts(v.batchHosts);
          b.setBatchPercent(v.batchPercent);
          b.setStaged(v.staged);
          b.setReason(text(v.reason));
          b.setPlanToml(text(v.planToml));
          b.setGatesToml(text(v.gatesToml));
        } else if constexpr (std::is_same_v<T, DescribeRevert>) {
          body.setDescribeRevert(text(v.revertId));
        } else if constexpr (std::is_same_v<T, TrainRequest>) {
          auto b = body.initTrain();
          b.setAction(text(v.action));
          b.setService(text(v.service));
          b.setArgsJson(text(v.argsJson));
        } else if constexpr (std::is_same_v<T, ConsoleTokenRequest>) {
          auto b = body.initConsoleToken();
          b.setOperatorName(text(v.operatorName));
          b.setRole(text(v.role));
          b.setTtlSeconds(v.ttlSeconds);
        } else if constexpr (std::is_same_v<T, BacktestRequest>) {
          auto b = body.initBacktest();
          b.setGatesToml(text(v.gatesToml));
          b.setGatesName(text(v.gatesName));
          b.setPlanToml(text(v.planToml));
          b.setPlanName(text(v.planName));
          b.setService(text(v.service));
          b.setSinceMillis(v.sinceMillis);
          b.setUntilMillis(v.untilMillis);
          b.setWindowsJsonl(text(v.windowsJsonl));
          b.setWindowsName(text(v.windowsName));
          b.setCompare(v.compare);
        } else if constexpr (std::is_same_v<T, LabelRollout>) {
          auto b = body.initLabelRollout();
          b.setRolloutId(text(v.rolloutId));
          b.setLabel(text(v.label));
          b.setReason(text(v.reason));
        }
      },
      message.body);
  return toString(capnp::messageToFlatArray(builder));
}

Result<AdminRequest> decodeAdminRequest(Bytes frame) {
  return decodeFrame<w::AdminRequest>(
      frame, kMaxAdminRequestBytes, "admin request",
      [](w::AdminRequest::Reader root) -> AdminRequest {
        AdminRequest v;
        v.requestId = root.getRequestId();
        auto body = root.getBody();
        switch (body.which()) {
          case w::AdminRequest::Body::LIST_HOSTS:
            v.body = ListHosts{};
            break;
          case w::AdminRequest::Body::ENROLL_HOST:
            v.body = EnrollHost{str(body.getEnrollHost().getName()),
                                str(body.getEnrollHost().getPublicKey())};
            break;
          case w::AdminRequest::Body::REVOKE_HOST:
            v.body = RevokeHost{str(body.getRevokeHost())};
            break;
          case w::AdminRequest::Body::QUERY_TELEMETRY: {
            auto r = body.getQueryTelemetry();
            v.body = QueryTelemetry{str(r.getHost()), str(r.getService()), r.getLast()};
            break;
          }
          case w::AdminRequest::Body::PUSH_ARTIFACT: {
            auto r = body.getPushArtifact();
            v.body = PushArtifact{str(r.getService()), str(r.getVersion()), str(r.getSha256()),
                                  r.getTotalBytes(),   r.getOffset(),       str(r.getData()),
                                  r.getFinal(),        str(r.getSignature())};
            break;
          }
          case w::AdminRequest::Body::MANUAL_COMMAND: {
            auto r = body.getManualCommand();
            ManualCommand m;
            m.host = str(r.getHost());
            m.service = str(r.getService());
            if (r.getBody().which() == w::ManualCommand::Body::INSTALL) {
              m.kind = ManualCommand::Kind::kInstall;
              m.version = str(r.getBody().getInstall());
            } else {
              m.kind = ManualCommand::Kind::kRollback;
              m.version = str(r.getBody().getRollback());
            }
            v.body = m;
            break;
          }
          case w::AdminRequest::Body::LIST_RELEASES:
            v.body = ListReleases{str(body.getListReleases())};
            break;
          case w::AdminRequest::Body::START_ROLLOUT: {
            auto r = body.getStartRollout();
            v.body =
                StartRollout{str(r.getService()),   str(r.getVersion()),    str(r.getPlanToml()),
                             str(r.getGatesToml()), str(r.getCanaryHost()), r.getDryRun()};
            break;
          }
          case w::AdminRequest::Body::ROLLOUT_ACTION: {
            auto r = body.getRolloutAction();
            auto action = static_cast<unsigned>(r.getAction());
            if (action > static_cast<unsigned>(RolloutAction::Action::kRollback)) {
              throw std::invalid_argument("rolloutAction.action: unknown enumerant " +
                                          std::to_string(action));
            }
            v.body = RolloutAction{str(r.getRolloutId()),
                                   static_cast<RolloutAction::Action>(action)};
            break;
          }
          case w::AdminRequest::Body::LIST_ROLLOUTS:
            v.body = ListRollouts{};
            break;
          case w::AdminRequest::Body::DESCRIBE_ROLLOUT:
            v.body = DescribeRollout{str(body.getDescribeRollout())};
            break;
          case w::AdminRequest::Body::ABORT: {
            auto r = body.getAbort();
            v.body = AbortRequest{str(r.getRolloutId()), r.getAll(), str(r.getReason())};
            break;
          }
          case w::AdminRequest::Body::FREEZE:
            v.body = FreezeRequest{body.getFreeze().getFrozen(), str(body.getFreeze().getReason()),
                                   body.getFreeze().getHoldRunning()};
            break;
          case w::AdminRequest::Body::WATCH_ROLLOUT:
            v.body = WatchRollout{str(body.getWatchRollout())};
            break;
          case w::AdminRequest::Body::REVERT: {
            auto r = body.getRevert();
            v.body = RevertRequest{str(r.getService()),  str(r.getToVersion()), r.getBatchHosts(),
                                   r.getBatchPercent(),  r.getStaged(),        str(r.getReason()),
                                   str(r.getPlanToml()), str(r.getGatesToml())};
            break;
          }
          case w::AdminRequest::Body::DESCRIBE_REVERT:
            v.body = DescribeRevert{str(body.getDescribeRevert())};
            break;
          case w::AdminRequest::Body::TRAIN: {
            auto t = body.getTrain();
            v.body = TrainRequest{str(t.getAction()), str(t.getService()), str(t.getArgsJson())};
            break;
          }
          case w::AdminRequest::Body::CONSOLE_TOKEN: {
            auto r = body.getConsoleToken();
            v.body = ConsoleTokenRequest{str(r.getOperatorName()), str(r.getRole()),
                                         r.getTtlSeconds()};
            break;
          }
          case w::AdminRequest::Body::BACKTEST: {
            auto b = body.getBacktest();
            v.body = BacktestRequest{str(b.getGatesToml()),    str(b.getGatesName()),
                                     str(b.getPlanToml()),     str(b.getPlanName()),
                                     str(b.getService()),      b.getSinceMillis(),
                                     b.getUntilMillis(),       str(b.getWindowsJsonl()),
                                     str(b.getWindowsName()),  b.getCompare()};
            break;
          }
          case w::AdminRequest::Body::LABEL_ROLLOUT: {
            auto b = body.getLabelRollout();
            v.body = LabelRollout{str(b.getRolloutId()), str(b.getLabel()), str(b.getReason())};
            break;
          }
          default:
            throw std::invalid_argument("body: unknown union member");
        }
        return v;
      });
}

std::string encode(const AdminReply& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<w::AdminReply>();
  root.setVersion(kProtocolVersion);
  root.setRequestId(message.requestId);
  root.setFinal(message.final);
  auto body = root.initBody();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, AdminError>) {
          body.setError(text(v.message));
        } else if constexpr (std::is_same_v<T, AdminOk>) {
          body.setOk(text(v.message));
        } else if constexpr (std::is_same_v<T, HostList>) {
          auto list = body.initHosts(v.hosts.size());
          for (unsigned i = 0; i < v.hosts.size(); ++i) put(list[i], v.hosts[i]);
          if (v.freeze) {
            auto freeze = root.initFreeze();
            freeze.setBy(text(v.freeze->by));
            freeze.setReason(text(v.freeze->reason));
            freeze.setSinceMillis(v.freeze->sinceMillis);
          }
        } else if constexpr (std::is_same_v<T, WindowList>) {
          auto list = body.initWindows(v.windows.size());
          for (unsigned i = 0; i < v.windows.size(); ++i) put(list[i], v.windows[i]);
        } else if constexpr (std::is_same_v<T, CommandResult>) {
          put(body.initCommandResult(), v);
        } else if constexpr (std::is_same_v<T, JsonDocument>) {
          body.setJson(text(v.text));
        }
      },
      message.body);
  if (message.leader) {
    auto leader = root.initLeader();
    leader.setId(text(message.leader->id));
    leader.setAdminEndpoint(text(message.leader->adminEndpoint));
    leader.setEpoch(message.leader->epoch);
    leader.setSinceMillis(message.leader->sinceMillis);
    leader.setConsoleUrl(text(message.leader->consoleUrl));
  }
  root.setStandby(message.standby);
  return toString(capnp::messageToFlatArray(builder));
}

Result<AdminReply> decodeAdminReply(Bytes frame) {
  return decodeFrame<w::AdminReply>(
      frame, kMaxAdminReplyBytes, "admin reply", [](w::AdminReply::Reader root) -> AdminReply {
        AdminReply v;
        v.requestId = root.getRequestId();
        v.final = root.getFinal();
        auto body = root.getBody();
        switch (body.which()) {
          case w::AdminReply::Body::ERROR:
            v.body = AdminError{str(body.getError())};
            break;
          case w::AdminReply::Body::OK:
            v.body = AdminOk{str(body.getOk())};
            break;
          case w::AdminReply::Body::HOSTS: {
            HostList list;
            for (auto h : body.getHosts()) list.hosts.push_back(get(h));
            if (root.hasFreeze()) {
              auto freeze = root.getFreeze();
              list.freeze = FreezeState{str(freeze.getBy()), str(freeze.getReason()),
                                        freeze.getSinceMillis()};
            }
            v.body = std::move(list);
            break;
          }
          case w::AdminReply::Body::WINDOWS: {
            WindowList list;
            for (auto window : body.getWindows()) list.windows.push_back(get(window));
            v.body = std::move(list);
            break;
          }
          case w::AdminReply::Body::COMMAND_RESULT:
            v.body = get(body.getCommandResult());
            break;
          case w::AdminReply::Body::JSON:
            v.body = JsonDocument{str(body.getJson())};
            break;
          default:
            throw std::invalid_argument("body: unknown union member");
        }
        if (root.hasLeader()) {
          auto leader = root.getLeader();
          v.leader =
              LeaderInfo{str(leader.getId()), str(leader.getAdminEndpoint()), leader.getEpoch(),
                         leader.getSinceMillis(), str(leader.getConsoleUrl())};
        }
        v.standby = root.getStandby();
        return v;
      });
}

// ---------------------------------------------------------------------------------------------
// Packed frames

namespace {
constexpr char kPackedMarker[4] = {'R', 'G', 'p', 'k'};
constexpr std::size_t kPackedHeaderBytes = 8;
}  // namespace

void packFrameInto(Bytes flat, std::string& out) {
  // Packing writes at most one tag byte and one count byte beyond each run of words.
  out.resize(kPackedHeaderBytes + flat.size() + flat.size() / 8 + 16);
  std::memcpy(out.data(), kPackedMarker, sizeof kPackedMarker);
  const auto size = static_cast<std::uint32_t>(flat.size());
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  kj::ArrayOutputStream sink(kj::arrayPtr(reinterpret_cast<kj::byte*>(out.data()) +
                                              kPackedHeaderBytes,
                                          out.size() - kPackedHeaderBytes));
  {
    capnp::_::PackedOutputStream packed(sink);
    packed.write(flat.data(), flat.size());
  }
  out.resize(kPackedHeaderBytes + sink.getArray().size());
}

std::string packFrame(Bytes flat) {
  std::string out;
  packFrameInto(flat, out);
  return out;
}

bool isPackedFrame(Bytes frame) {
  return frame.size() >= kPackedHeaderBytes &&
         std::memcmp(frame.data(), kPackedMarker, sizeof kPackedMarker) == 0;
}

Result<std::string> unpackFrame(Bytes packed, std::size_t maxBytes) {
  if (!isPackedFrame(packed)) return makeError("not a packed frame (no RGpk header)");
  std::size_t size = 0;
  for (int i = 0; i < 4; ++i) size |= static_cast<std::size_t>(packed[4 + i]) << (8 * i);
  if (size > maxBytes || size % sizeof(capnp::word) != 0 || size == 0) {
    return makeError("packed frame claims " + std::to_string(size) +
                     " bytes unpacked (a whole number of 8-byte words up to " +
                     std::to_string(maxBytes) + " expected)");
  }
  std::string out(size, '\0');
  try {
    kj::ArrayInputStream source(kj::arrayPtr(packed.data() + kPackedHeaderBytes,
                                             packed.size() - kPackedHeaderBytes));
    capnp::_::PackedInputStream unpacked(source);
    unpacked.read(out.data(), size);
    if (source.tryGetReadBuffer().size() != 0) {
      return makeError("packed frame has bytes beyond its " + std::to_string(size) +
                       " unpacked bytes");
    }
  } catch (const kj::Exception& e) {
    return makeError("packed frame of " + std::to_string(packed.size()) +
                     " bytes does not unpack to the " + std::to_string(size) +
                     " its header says: " + e.getDescription().cStr());
  }
  return out;
}

}  // namespace rollgate
