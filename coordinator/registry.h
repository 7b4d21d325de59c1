// Registry: the fleet as the coordinator knows it: every enrolled host that has said hello, with
// region, cluster, services and releases, last contact and whether it is connected now. A host is
// healthy while it is connected and was heard from within the host timeout; a silent host is
// unhealthy. Pure bookkeeping: no I/O, time comes in as arguments.
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "coordinator/host_quota.h"

namespace rollgate::coordinator {

class Registry {
 public:
  explicit Registry(std::uint64_t hostTimeoutMillis) : hostTimeoutMillis_(hostTimeoutMillis) {}

  // Hosts known from the store; they stay disconnected until they say hello again.
  void load(const std::vector<HostInfo>& hosts);

  // A hello from the host whose key is enrolled as `name` over connection `routingId`; a session
  // on another connection is replaced (remembered for wasReplaced()).
  // Returns the updated record.
  const HostInfo& onHello(const std::string& name, const Hello& hello, const std::string& routingId,
                          std::uint64_t nowMillis);
  // Any other message from `name` over `routingId`. Returns false when that connection has not
  // said hello (the caller asks it to). `services`, when given, replaces the host's services.
  bool onContact(const std::string& name, const std::string& routingId, std::uint64_t nowMillis,
                 const std::vector<ServiceRelease>* services);
  // The IP address `name`'s latest message came from (ZeroMQ's Peer-Address), for Prometheus
  // queries that select a host by address; ignored for a host that has not said hello.
  void setAddress(const std::string& name, const std::string& address);
  // Empty when unknown (no message since the coordinator started, or an ipc:// connection).
  std::string addressOf(const std::string& name) const;
  // Any message authenticated with `name`'s key, on any connection (a replaced session, an
  // artifact transfer, or one dropped over quota): the host is alive. Counts as contact while the
  // host has a session; returns true when that makes a host reported silent healthy again.
  bool touch(const std::string& name, std::uint64_t nowMillis);
  // Whether `routingId` is the connection of a session of `name` that a newer hello replaced (the
  // last few are remembered).
  bool wasReplaced(const std::string& name, const std::string& routingId) const;
  // Listings include each host's drop counters from `quotas` (which must outlive this).
  void showDrops(const HostQuotas* quotas) { quotas_ = quotas; }
  // Forgets a host (revoked).
  void remove(const std::string& name);

  std::vector<HostInfo> list(std::uint64_t nowMillis) const;
  std::optional<HostInfo> find(const std::string& name, std::uint64_t nowMillis) const;
  // find()'s `healthy` and whether the host declared `service`, without copying its record (for
  // every message of a large fleet).
  bool isHealthy(const std::string& name, std::uint64_t nowMillis) const;
  bool declares(const std::string& name, const std::string& service) const;
  // The connection to send commands to, if the host is connected.
  std::optional<std::string> routingIdOf(const std::string& name) const;
  // Hosts whose last contact became older than the timeout since the last call (to log it once).
  // Their connection is kept: a host that was only slow (or partitioned) and speaks again on the
  // same connection is healthy again at once.
  std::vector<std::string> expire(std::uint64_t nowMillis);
  // The coordinator itself did not run until `nowMillis` (a stall of its loop: an overloaded
  // machine, a slow disk, a paused VM): what its hosts sent meanwhile is still queued, so silence
  // is counted from now for every host not already reported silent. Last contact times are kept.
  void excuseUntil(std::uint64_t nowMillis);

 private:
  struct Entry {
    HostInfo info;
    std::string routingId;  // empty until the host says hello on a connection
    bool silent = false;    // reported by expire() and not heard from since
    std::string address;    // from its latest message; not stored
    std::vector<std::string> replaced;  // routing ids of sessions a newer hello replaced
    std::uint64_t excusedUntilMillis = 0;  // silence counts from here at the earliest
  };
  HostInfo view(const Entry& entry, std::uint64_t nowMillis) const;
  // Whether `entry` was heard from (or excused) within the host timeout at `nowMillis`.
  bool recent(const Entry& entry, std::uint64_t nowMillis) const;

  std::uint64_t hostTimeoutMillis_;
  std::map<std::string, Entry> hosts_;
  const HostQuotas* quotas_ = nullptr;
};

}  // namespace rollgate::coordinator
