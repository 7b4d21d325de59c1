// What an agent reports, made to fit the wire instead of being refused for its size, and what the
// coordinator can still read of a result it refused. The limits below are the ones
// common/codec.cpp's validation applies to a command result and to a host's release lists.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/codec.h"
#include "common/messages.h"

namespace rollgate {

inline constexpr std::size_t kMaxResultMessageBytes = 8192;
inline constexpr std::size_t kMaxResultEvents = 64;
inline constexpr std::size_t kMaxResultEventBytes = 1024;
// Per service in hello, heartbeat and ackAbort: the releases a host reports.
inline constexpr std::size_t kMaxReportedReleases = 64;

// A result's message and events are cut with common/text_fit.h's marker, surplus events are
// replaced by one that says how many were left out (the first and the last ones are kept), and a
// service's release list keeps its first kMaxReportedReleases (the agent lists newest first).
// Returns how many fields were cut. After it, validate() passes unless another field is invalid.
std::size_t fitToWire(AgentMessage& message);
std::size_t fitToWire(CommandResult& result);

// When an agent message cannot be decoded (validate() refused it, say), the command result it
// carried, if it was one, read as far as is safe: the command it answers, the service and whether
// it was progress. The coordinator fails that command with the reason instead of letting the
// operator wait for a result that will never be accepted.
struct RefusedResult {
  CommandRef command;
  std::string service;
  bool progress = false;
};
std::optional<RefusedResult> peekRefusedResult(Bytes frame);

}  // namespace rollgate
