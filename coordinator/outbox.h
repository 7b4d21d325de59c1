// Outbox: how the coordinator's parts (command dispatch, aborts, the admin API) reach peers. The
// sockets belong to the Coordinator, which implements this; tests implement it to see what would
// be sent. Every send is best effort and never blocks: what must arrive is re-sent by its owner
// (pending commands on hello, aborts until acknowledged).
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <string>

#include "common/messages.h"

namespace rollgate::coordinator {

// Where an admin reply goes: the operator's connection and the request it answers. Replies to
// long requests (install, abort) are sent later, to the same place.
struct ReplyTo {
  std::string routingId;
  std::uint64_t requestId = 0;
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // One message to one agent connection.
  virtual void toAgent(const std::string& routingId, const CoordinatorMessage& message) = 0;
  // One message to every agent at once (lossy: the fast path only).
  virtual void broadcast(Broadcast message) = 0;
  // One reply (interim when !reply.final) to an operator.
  virtual void toAdmin(const ReplyTo& to, AdminReply reply) = 0;
};

}  // namespace rollgate::coordinator
