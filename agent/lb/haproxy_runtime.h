// HaproxyRuntime: a client of HAProxy's runtime API (the stats socket with `level admin`), over a
// unix socket or TCP. One connection per command in non-interactive mode: connect, send the line,
// read until HAProxy closes. Every step is bounded by the timeout; every error names the socket
// and the command.
// Thread-safety: immutable after construction; calls from several threads open separate
// connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/lb/haproxy_state.h"
#include "common/result.h"

namespace rollgate::lb {

// Where the runtime API listens: an absolute path (unix socket), "unix:PATH", "HOST:PORT" or
// "tcp://HOST:PORT". Returns an error naming the value when it is none of these.
struct RuntimeAddress {
  bool isUnix = true;
  std::string path;  // unix
  std::string host;  // tcp
  std::string port;  // tcp
  std::string text;  // as configured, for messages
};
Result<RuntimeAddress> parseRuntimeAddress(const std::string& text);

class HaproxyRuntime {
 public:
  HaproxyRuntime(RuntimeAddress address, std::uint32_t timeoutMillis = 3'000);

  // Sends one command, returns HAProxy's whole answer.
  Result<std::string> execute(const std::string& command) const;

  // `set server B/S state ready|drain|maint`; an error carries HAProxy's answer
  // ("No such server.", "Permission denied", ...).
  Status setState(const std::string& backend, const std::string& server,
                  const std::string& state) const;
  // `set server B/S weight W`: W is "N" (0..256) or "N%" of the configured weight.
  Status setWeight(const std::string& backend, const std::string& server,
                   const std::string& weight) const;
  Result<ServerStat> stat(const std::string& backend, const std::string& server) const;
  // Every server of `backend` (`show stat`).
  Result<std::vector<NamedServerStat>> backendStats(const std::string& backend) const;
  Result<ServerState> state(const std::string& backend, const std::string& server) const;

  const RuntimeAddress& address() const { return address_; }

 private:
  Status expectEmpty(const std::string& command) const;

  RuntimeAddress address_;
  std::uint32_t timeoutMillis_;
};

}  // namespace rollgate::lb
