// Fuzzes every decoder (agent, coordinator, broadcast, admin request, admin reply) with the same
// input. Whatever a decoder accepts must survive encode -> decode unchanged and re-encode to the
// same bytes; anything else is a bug in the codec (std::abort, so libFuzzer saves the input).
// ASan/UBSan/LeakSanitizer report memory errors, undefined behaviour and leaks.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/codec.h"

namespace {

using rollgate::Bytes;
using rollgate::bytesOf;

template <typename Message, typename Decode>
void checkDecoder(Bytes input, Decode decode, const char* what) {
  auto first = decode(input);
  if (!first.ok()) {
    if (first.error().message.empty()) {
      std::fprintf(stderr, "%s: rejected without a reason\n", what);
      std::abort();
    }
    return;
  }
  const Message& decoded = *first;
  if (!rollgate::validate(decoded).ok()) {
    std::fprintf(stderr, "%s: decoder accepted a message validate() refuses\n", what);
    std::abort();
  }
  const std::string reencoded = rollgate::encode(decoded);
  auto second = decode(bytesOf(reencoded));
  if (!second.ok()) {
    std::fprintf(stderr, "%s: re-encoded message rejected: %s\n", what,
                 second.error().message.c_str());
    std::abort();
  }
  if (!(*second == decoded)) {
    std::fprintf(stderr, "%s: re-encoded message decodes to a different value\n", what);
    std::abort();
  }
  if (rollgate::encode(*second) != reencoded) {
    std::fprintf(stderr, "%s: encoding is not deterministic\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes input(data, size);
  checkDecoder<rollgate::AgentMessage>(input, rollgate::decodeAgentMessage, "agent message");
  checkDecoder<rollgate::CoordinatorMessage>(input, rollgate::decodeCoordinatorMessage,
                                             "coordinator message");
  checkDecoder<rollgate::Broadcast>(input, rollgate::decodeBroadcast, "broadcast");
  checkDecoder<rollgate::AdminRequest>(input, rollgate::decodeAdminRequest, "admin request");
  checkDecoder<rollgate::AdminReply>(input, rollgate::decodeAdminReply, "admin reply");
  return 0;
}
