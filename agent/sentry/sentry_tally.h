// SentryTally: one service's counts from its Sentry SDK since the last window was cut, in the
// shape a telemetry window carries them (SentryWindow). The fingerprint table is bounded at
// kMaxSentryFingerprints entries (each at most 3 x kMaxSentryTextBytes of text, about 50 KiB in
// all); error events of a fingerprint that no longer fits are counted in fingerprintsDropped.
// Pure logic. Thread-safety: none (SentryEndpoint guards it).
#pragma once

#include "agent/sentry/envelope.h"
#include "common/messages.h"

namespace rollgate::agent::sentry {

class SentryTally {
 public:
  void add(const ParsedEnvelope& envelope);
  void addRejected() { window_.rejected += 1; }
  void addRateLimited() { window_.rateLimited += 1; }
  void addRelayDropped(std::uint64_t envelopes) { window_.relayDropped += envelopes; }
  // The counts so far (enabled = true), and a fresh start.
  SentryWindow take();
  const SentryWindow& peek() const { return window_; }

 private:
  SentryWindow window_{.enabled = true};
};

}  // namespace rollgate::agent::sentry
