// Fuzzes the Sentry decoders with arbitrary bodies. The first byte picks envelope, store body or
// gzip-then-envelope; whatever parses is counted, and the counts must stay consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/sentry/envelope.h"
#include "agent/sentry/sentry_tally.h"

using namespace rollgate::agent::sentry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string inflated, error;
  if (data[0] % 3 == 2) {
    if (inflateBody(body, 1 << 16, inflated, error) != InflateStatus::kOk) {
      if (!inflated.empty() || error.empty()) std::abort();
      return 0;
    }
    if (inflated.size() > (1 << 16)) std::abort();
    body = inflated;
  }
  auto parsed = data[0] % 3 == 1 ? parseStoreBody(body) : parseEnvelope(body);
  if (!parsed.ok()) {
    if (parsed.error().message.empty()) std::abort();
    return 0;
  }
  SentryTally tally;
  tally.add(*parsed);
  const rollgate::SentryWindow w = tally.take();
  if (w.unhandled > w.errors || w.fingerprints.size() > rollgate::kMaxSentryFingerprints) std::abort();
  std::uint64_t printed = 0;
  for (const auto& f : w.fingerprints) {
    // What the wire accepts (codec.cpp): each text at most kMaxSentryTextBytes.
    if (f.type.size() > rollgate::kMaxSentryTextBytes ||
        f.frame.size() > rollgate::kMaxSentryTextBytes ||
        f.sampleMessage.size() > rollgate::kMaxSentryTextBytes) {
      std::abort();
    }
    printed += f.count;
  }
  if (printed + w.fingerprintsDropped > w.errors) std::abort();
  return 0;
}
