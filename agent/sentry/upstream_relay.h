// UpstreamRelay: sends relayed Sentry bodies to the team's own Sentry with libcurl's multi
// interface (libcurl loaded at run time, agent/curl), at most kMaxRelayTransfers at a time, never blocking: the owner polls it together
// with its other descriptors (poll()) and calls perform() after. A transfer that fails or is not
// answered 2xx within kRelayTimeoutSeconds is counted as dropped; nothing is retried (the
// application's SDK keeps its own copy only until the agent answered).
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/curl/curl_library.h"
#include "agent/sentry/envelope.h"
#include "agent/sentry/relay_queue.h"

namespace rollgate::agent::sentry {

inline constexpr int kMaxRelayTransfers = 4;
inline constexpr long kRelayTimeoutSeconds = 30;

class UpstreamRelay {
 public:
  // Called once per finished transfer: the service and whether the upstream took it (2xx).
  using Done = std::function<void(const std::string& service, bool ok, long httpStatus,
                                  const std::string& error)>;
  // `curl` (libcurl, loaded) must outlive the relay.
  UpstreamRelay(const curl::CurlLibrary& curl, Done done);
  ~UpstreamRelay();

  bool canStart() const { return static_cast<int>(transfers_.size()) < kMaxRelayTransfers; }
  // Requires: canStart().
  void send(RelayItem item, const DsnTarget& target);
  // Waits up to timeoutMillis for the transfers' sockets or any of `fds` (the listeners' epoll
  // descriptors) to be ready, or for wakeup().
  void poll(const std::vector<int>& fds, int timeoutMillis);
  void wakeup();
  // Moves transfers on and reports the finished ones.
  void perform();
  std::size_t inFlight() const { return transfers_.size(); }

 private:
  struct Transfer;
  const curl::CurlLibrary& curl_;
  CURLM* multi_;
  Done done_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

}  // namespace rollgate::agent::sentry
