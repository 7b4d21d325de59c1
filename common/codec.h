// Codecs: the only place wire types (Cap'n Proto, schemas/rollgate.capnp) meet the plain structs
// of common/messages.h. Decoding copies the frame into an aligned buffer (ZeroMQ frames are not
// 8-byte aligned), reads with small traversal and nesting limits, converts, then validates; any
// failure is an Error whose message names the field and the value, never an exception or a crash.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/messages.h"
#include "common/result.h"

namespace rollgate {

// Size limits, applied both as ZMQ_MAXMSGSIZE on the sockets and again by the decoders.
inline constexpr std::size_t kMaxAgentMessageBytes = 4 << 20;        // telemetry, results
inline constexpr std::size_t kMaxCoordinatorMessageBytes = 2 << 20;  // artifact chunks
inline constexpr std::size_t kMaxBroadcastBytes = 64 << 10;
inline constexpr std::size_t kMaxAdminRequestBytes = 2 << 20;        // artifact upload pieces
inline constexpr std::size_t kMaxAdminReplyBytes = 16 << 20;
// The text of a `rollgate backtest --windows FILE` that one admin request carries (what fits
// under kMaxAdminRequestBytes); a bigger history is replayed offline (docs/backtest.md).
inline constexpr std::size_t kMaxBacktestWindowsBytes = (2 << 20) - (64 << 10);
inline constexpr std::size_t kArtifactChunkBytes = 1 << 20;
// Cap'n Proto reader limits: traversal in 8-byte words (bounds amplification by pointer tricks),
// nesting depth of structs/lists.
inline constexpr int kMaxNestingDepth = 16;

using Bytes = std::span<const std::uint8_t>;
// The bytes of a frame held as a string (valid while the string lives); for a received ZeroMQ
// frame see common/frame_bytes.h.
inline Bytes bytesOf(std::string_view frame) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
}

std::string encode(const AgentMessage& message);
std::string encode(const CoordinatorMessage& message);
std::string encode(const Broadcast& message);
std::string encode(const AdminRequest& message);
std::string encode(const AdminReply& message);

Result<AgentMessage> decodeAgentMessage(Bytes frame);
Result<CoordinatorMessage> decodeCoordinatorMessage(Bytes frame);
Result<Broadcast> decodeBroadcast(Bytes frame);
Result<AdminRequest> decodeAdminRequest(Bytes frame);
Result<AdminReply> decodeAdminReply(Bytes frame);

// A frame in Cap'n Proto's packed encoding (each word's zero bytes left out: a telemetry window's
// 496 bytes take about a third), behind an 8-byte header: the marker "RGpk", then the flat size
// as a little-endian 32-bit number. Read as a flat frame's first word (its segment count less
// one), the marker is over 512, which Cap'n Proto refuses, so a packed frame is never taken for
// a flat one. Requires: `flat` is a whole number of 8-byte words.
std::string packFrame(Bytes flat);
// packFrame into `out` (its buffer reused).
void packFrameInto(Bytes flat, std::string& out);
bool isPackedFrame(Bytes frame);
// The flat frame back; an error naming what is wrong when `packed` is not a packed frame, is
// truncated, or unpacks to more than `maxBytes`.
Result<std::string> unpackFrame(Bytes packed, std::size_t maxBytes);

// Validation of decoded messages (also usable on structs built in memory). Errors name the field.
Status validate(const AgentMessage& message);
Status validate(const CoordinatorMessage& message);
Status validate(const Broadcast& message);
Status validate(const AdminRequest& message);
Status validate(const AdminReply& message);

// Name rules shared by validators and config: hosts, services, regions and clusters are 1-64
// characters of [A-Za-z0-9._-] starting with a letter or digit; versions follow common/version.h
// (validateVersion, docs/versions.md); SHA-256 digests 64 lowercase hex characters.
bool isValidName(const std::string& name);
bool isValidVersion(const std::string& version);
bool isValidSha256(const std::string& hex);

}  // namespace rollgate
