// The bytes of a received ZeroMQ frame as the codec's Bytes view (valid while the frame lives):
// what the coordinator's loop, its standby and the agent decode.
#pragma once

#include <cstdint>
#include <zmq.hpp>

#include "common/codec.h"

namespace rollgate {

inline Bytes bytesOf(const zmq::message_t& frame) {
  return Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size());
}

}  // namespace rollgate
