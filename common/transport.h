// ZeroMQ transport pieces shared by both daemons and the CLI: CURVE socket setup, the ZAP
// allowlist handler and peer identity. Every server socket is a CURVE server whose ZAP domain
// names the allowlist that admits its peers ("agents" or "admins"); the handler thread must be
// started before any bind. An unknown key, the NULL mechanism or garbage gets no answer at all.
//
// Thread-safety: Allowlist is safe to use from any thread (the ZAP thread reads it while the
// daemon's loop enrolls and revokes). ZapHandler owns one thread; other functions are
// per-socket and follow ZeroMQ's one-thread-per-socket rule.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/logging.h"
#include "common/result.h"

namespace rollgate {

inline constexpr const char* kAgentsDomain = "agents";
inline constexpr const char* kAdminsDomain = "admins";

// Name -> public key (Z85). Names follow isValidName (common/codec.h).
class Allowlist {
 public:
  // Loads every `<name>.pub` in `dir`; files with bad names or keys are skipped and reported in
  // `problems` (one line each, naming the file).
  // A missing directory is an empty allowlist.
  static std::map<std::string, std::string> readDirectory(const std::string& dir,
                                                          std::vector<std::string>* problems);

  void set(const std::string& name, const std::string& publicKey);
  bool remove(const std::string& name);
  // Replaces the whole content (used by periodic re-reads of the directory).
  void replace(std::map<std::string, std::string> entries);
  std::optional<std::string> nameForKey(const std::string& publicKey) const;
  std::optional<std::string> keyForName(const std::string& name) const;
  // True when `name` is allowlisted with exactly `publicKey` (checked on every message, so a
  // revoked or replaced key is refused even on a connection that is already open).
  bool admits(const std::string& name, const std::string& publicKey) const;
  std::map<std::string, std::string> entries() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> byName_;
  std::map<std::string, std::string> byKey_;
};

// Answers ZAP requests on inproc://zeromq.zap.01 for one context. Domains map to allowlists;
// a request for another domain, another mechanism or an unknown key is refused (400).
// Accepted peers get the ZAP user id = their allowlist name and the metadata property
// "X-Key" = their Z85 public key.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, Logger logger);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Requires: called before start().
  void addDomain(const std::string& domain, std::shared_ptr<Allowlist> allowlist);
  // Binds the ZAP endpoint (synchronously, so binds after this are covered) and starts the thread.
  Status start();

  std::uint64_t accepted() const { return accepted_.load(); }
  std::uint64_t refused() const { return refused_.load(); }

 private:
  void run();

  zmq::context_t& context_;
  Logger logger_;
  std::map<std::string, std::shared_ptr<Allowlist>> domains_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
};

// Makes `socket` a CURVE server in `domain` with a size limit per message. Call before bind.
void configureCurveServer(zmq::socket_t& socket, const std::string& secretKey,
                          const std::string& domain, std::size_t maxMessageBytes);

// Makes `socket` a CURVE client. Call before connect.
void configureCurveClient(zmq::socket_t& socket, const std::string& secretKey,
                          const std::string& publicKey, const std::string& serverPublicKey,
                          std::size_t maxMessageBytes);

// Who sent a frame that arrived on a CURVE server socket: the allowlist name and key the ZAP
// handler attached. Empty name if the metadata is missing (never expected on our sockets).
struct PeerIdentity {
  std::string name;
  std::string publicKey;
  std::string address;  // the peer's IP address (ZeroMQ's Peer-Address; empty over ipc://)
};
PeerIdentity peerIdentity(zmq::message_t& frame);

}  // namespace rollgate
