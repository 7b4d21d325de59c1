// SentryEndpoint: the agent's Sentry ingestion endpoint. For each service that configures one, an
// HTTP listener (libmicrohttpd, loopback by default) takes what the application's own Sentry SDK
// sends when its DSN points at the agent: `POST /api/<project>/envelope/` and the older
// `/api/<project>/store/` (one JSON event), gzip or deflate bodies, the key in `X-Sentry-Auth`,
// the query string (`sentry_key=`) or the envelope header's `dsn`. It counts what the gates need
// (SentryTally) until the telemetry collector takes the counts into the service's next window and,
// with an upstream DSN, relays every accepted body unchanged to the team's own Sentry through a
// bounded queue (RelayQueue) that drops the oldest, never blocking the application.
//
// Answers: 200 accepted; 400 malformed (bad gzip, bad envelope); 401 no key; 403 wrong key or
// project; 404 another path; 405 not POST; 413 body or decompressed body over its limit; 415 an
// unknown Content-Encoding; 429 with Retry-After over the service's rate; 503 with Retry-After when
// the bodies being received together would exceed the memory budget. Every refusal is counted in
// the window (rejected or rateLimited).
//
// Memory bound (all services together): bodies being received <= bodyBudgetBytes, one
// decompressed body <= the largest maxDecompressedBytes (one thread decompresses one at a time),
// each relay queue <= relayQueueBytes, connections <= kMaxConnections with libmicrohttpd's 32 KiB
// pool each, and each tally's fingerprint table (sentry_tally.h). With the defaults: 2 MiB + 2 MiB
// + 2 MiB per relaying service + 1 MiB + ~50 KiB per service.
//
// Threads: one of its own, for every listener and the relay (curl multi and the listeners' epoll
// descriptors in one poll). take() and counters() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"

namespace rollgate::agent::sentry {

struct SentryServiceConfig {
  std::string service;
  std::string bind = "127.0.0.1";  // IPv4 address to listen on
  std::uint16_t port = 0;          // 0: any free port (tests); see SentryEndpoint::port
  std::string key;                 // the public key of the DSN the application uses
  std::string project;             // the DSN's project id; empty: any
  std::string upstreamDsn;         // the team's own Sentry; empty: no relay
  double maxRequestsPerSecond = 50;  // over this, 429 with Retry-After; 0: no limit
  std::size_t maxBodyBytes = 1u << 20;          // a request body as sent (compressed)
  std::size_t maxDecompressedBytes = 2u << 20;  // after gzip or deflate
  std::size_t relayQueueEnvelopes = 256;
  std::size_t relayQueueBytes = 2u << 20;
};

struct SentryEndpointOptions {
  std::size_t bodyBudgetBytes = 2u << 20;  // request bodies held at once, all services
  std::function<std::uint64_t()> nowMillis;  // monotonic; default: steady_clock
};

inline constexpr unsigned kMaxSentryConnections = 32;  // per listener

// Totals since start, for tests and logs.
struct SentryCounters {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t rateLimited = 0;
  std::uint64_t relayed = 0;       // answered 2xx by the upstream
  std::uint64_t relayDropped = 0;  // dropped from the queue or failed upstream
  std::size_t bodyBytesHeld = 0;   // now
  std::size_t relayQueueBytes = 0; // now, all services
};

class SentryEndpoint {
 public:
  // Starts listening for every service; fails naming the service and the address or DSN.
  static Result<std::unique_ptr<SentryEndpoint>> start(std::vector<SentryServiceConfig> services,
                                                       Logger logger,
                                                       SentryEndpointOptions options = {});
  ~SentryEndpoint();
  SentryEndpoint(const SentryEndpoint&) = delete;
  SentryEndpoint& operator=(const SentryEndpoint&) = delete;

  // The counts since the last take() for `service`; nothing if it has no endpoint.
  std::optional<SentryWindow> take(const std::string& service);
  // The port `service` listens on (0 if it has no endpoint).
  std::uint16_t port(const std::string& service) const;
  SentryCounters counters(const std::string& service) const;

  struct Impl;

 private:
  explicit SentryEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollgate::agent::sentry
