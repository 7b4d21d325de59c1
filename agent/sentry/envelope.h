// Sentry's ingestion formats, read the way Sentry's own ingest reads them: an envelope
// (newline-delimited: a JSON header, then items, each a JSON item header with `type` and an
// optional `length`, and its payload), the older `/store/` body (one JSON event), gzip or zlib
// request bodies, and the `X-Sentry-Auth` header. Only what rollgate counts is kept: error events
// with their exception fingerprint, and session starts and ends. Unknown item types are skipped.
// Pure logic: no I/O, no clock. Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::agent::sentry {

// Sentry's documented ingest limits; the agent enforces at most these (agent_config.h may lower
// the body limits to bound the agent's memory).
inline constexpr std::size_t kSentryMaxEventBytes = 1 << 20;                 // 1 MiB per event
inline constexpr std::size_t kSentryMaxCompressedBytes = 20u << 20;          // 20 MiB per body
inline constexpr std::size_t kSentryMaxDecompressedBytes = 100u << 20;       // 100 MiB
inline constexpr std::size_t kSentryMaxSessionsPerEnvelope = 100;

// One event, reduced to what the gates need.
struct SentryEvent {
  std::string level = "error";  // Sentry's default when the event names none
  std::string release;          // empty: the event has none
  bool error = false;           // level error or fatal
  bool exception = false;       // has exception.values
  bool unhandled = false;       // some exception has mechanism.handled == false
  std::string type;             // the outermost (last) exception's type
  std::string frame;            // its top in-app frame: "module.function" (or filename.function)
  std::string message;          // its value, or the event's message
};

// Session starts and ends: from `session` items (one session's update) and `sessions` items
// (aggregates per minute from server SDKs in request mode, where every bucket is a finished
// session: started = exited + errored + crashed + abnormal).
struct SessionCounts {
  std::uint64_t started = 0;
  std::uint64_t errored = 0;   // ended with errors, neither crashed nor abnormal
  std::uint64_t crashed = 0;
  std::uint64_t abnormal = 0;
  bool operator==(const SessionCounts&) const = default;
};

struct ParsedEnvelope {
  std::string dsnKey;  // the public key of the envelope header's `dsn`, if any
  std::vector<SentryEvent> events;
  SessionCounts sessions;
  std::uint64_t skippedItems = 0;    // unknown types, transactions, attachments, client reports
  std::uint64_t oversizedItems = 0;  // events over kSentryMaxEventBytes, not counted
  std::uint64_t excessSessions = 0;  // session updates beyond kSentryMaxSessionsPerEnvelope
};

// Parses an envelope body (already decompressed). Fails, naming the line or item and what was
// wrong, on a header that is not a JSON object, an item header without a type, a length that runs
// past the end, or an event that is not a JSON object.
Result<ParsedEnvelope> parseEnvelope(std::string_view body);

// Parses a `/store/` body: one JSON event.
Result<ParsedEnvelope> parseStoreBody(std::string_view body);

enum class InflateStatus : std::uint8_t { kOk, kMalformed, kTooLarge };

// Decompresses a gzip or zlib ("deflate") body into `out`, stopping with kTooLarge as soon as the
// output would exceed maxBytes (a gzip bomb costs at most maxBytes of memory).
InflateStatus inflateBody(std::string_view compressed, std::size_t maxBytes, std::string& out,
                          std::string& error);

// The `sentry_key` of an `X-Sentry-Auth` header ("Sentry sentry_key=abc, sentry_version=7"), if
// any.
std::optional<std::string> keyFromAuthHeader(std::string_view header);

// The public key of a DSN ("https://<key>@host/1" or "https://<key>:<secret>@host/1"), if any.
std::optional<std::string> keyFromDsn(std::string_view dsn);

// Where a DSN sends: "https://key@sentry.example.com:9000/path/42" gives base
// "https://sentry.example.com:9000/path", project "42", key "key".
struct DsnTarget {
  std::string base;
  std::string project;
  std::string key;
  std::string envelopeUrl() const { return base + "/api/" + project + "/envelope/"; }
  std::string storeUrl() const { return base + "/api/" + project + "/store/"; }
};
// Fails naming the DSN and what is missing.
Result<DsnTarget> parseDsn(std::string_view dsn);

}  // namespace rollgate::agent::sentry
