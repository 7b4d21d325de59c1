// TrafficGate: takes one service of this host out of its load balancer around a restart, so that
// a restart drops no request. The installer calls drain() before every restart and restore()
// after it, whatever the restart's outcome; recover() puts back what an agent that died between
// the two left drained. HaproxyGate (haproxy_gate.h) is the implementation.
// Thread-safety: used by one thread (the agent's install worker).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::lb {

class TrafficGate {
 public:
  virtual ~TrafficGate() = default;
  // Stops new requests and waits (bounded) for those in flight. An error means the service must
  // not be restarted (it would drop requests); nothing is left drained then. Appends what it did
  // to `events` (shown to operators with the command's result).
  virtual Status drain(std::vector<std::string>& events) = 0;
  // Sends traffic again and waits (bounded) until the balancer's own check sees the service up.
  // Call after every successful drain(). An error means the server may still be drained; it is
  // remembered durably and retried by recover().
  virtual Status restore(std::vector<std::string>& events) = 0;
  // Restores a server left drained by an earlier run (the durable marker), and picks up a weight
  // an earlier run held (released at once when its time is up). OK when there was none.
  virtual Status recover(std::vector<std::string>& events) = 0;

  // Gives the server `weight` (a share of traffic during a stage's analysis) until
  // `untilMillis` (wall clock), durably remembered. restore() and releaseWeight() end it.
  virtual Status holdWeight(std::int32_t weight, std::uint64_t untilMillis,
                            std::vector<std::string>& events) = 0;
  // Back to the configured weight. On failure the hold stays and is retried a little later.
  virtual Status releaseWeight(std::vector<std::string>& events) = 0;
  // When the held weight is due to be released (wall clock); nullopt when none is held.
  virtual std::optional<std::uint64_t> weightDueMillis() const = 0;
  // "haproxy /run/haproxy.sock web/web-1", for logs.
  virtual std::string describe() const = 0;
};

}  // namespace rollgate::lb
