#include "agent/sentry/sentry_tally.h"

namespace rollgate::agent::sentry {

void SentryTally::add(const ParsedEnvelope& envelope) {
  for (const SentryEvent& event : envelope.events) {
    if (event.release.empty()) window_.noRelease += 1;
    if (!event.error) continue;
    window_.errors += 1;
    if (event.unhandled) window_.unhandled += 1;
    if (!event.exception) continue;
    SentryFingerprint* found = nullptr;
    for (auto& print : window_.fingerprints) {
      if (print.type == event.type && print.frame == event.frame) found = &print;
    }
    if (found == nullptr) {
      if (window_.fingerprints.size() >= kMaxSentryFingerprints) {
        window_.fingerprintsDropped += 1;
        continue;
      }
      found = &window_.fingerprints.emplace_back(
          SentryFingerprint{event.type, event.frame, 0, 0, event.message});
    }
    found->count += 1;
    if (event.unhandled) found->unhandled += 1;
  }
  window_.sessions += envelope.sessions.started;
  window_.sessionsErrored += envelope.sessions.errored;
  window_.sessionsCrashed += envelope.sessions.crashed;
  window_.sessionsAbnormal += envelope.sessions.abnormal;
  if (envelope.oversizedItems > 0 || envelope.excessSessions > 0) window_.rejected += 1;
}

SentryWindow SentryTally::take() {
  SentryWindow out = std::move(window_);
  window_ = SentryWindow{.enabled = true};
  return out;
}

}  // namespace rollgate::agent::sentry
