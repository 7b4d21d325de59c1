// ConsoleServer: the web console's HTTPS server (cpp-httplib with OpenSSL), on threads of its own.
// It reads what pages show from the ConsoleBoard (snapshots the coordinator's loop publishes) and
// hands sign-ins and actions to the loop through the LoopQueue, waiting on a future for the
// answer, so no HTTP thread ever touches the loop's state and the loop never waits for a client.
//
// Routes (docs/console.md): the page and its assets (embedded at build time, assets.h); JSON under
// /api/: login, logout, session, fleet (paged, filtered), rollouts (filtered), rollouts/<id>,
// backtests, backtests/<id>, action; server-sent events under /api/stream.
// Security: every /api/ route but login answers 401 without a live session; an action needs the
// operator role (403 otherwise) and the session's CSRF token in X-CSRF-Token (403 otherwise);
// cookies are HttpOnly, Secure (HTTPS), SameSite=Strict; responses carry a strict
// Content-Security-Policy. Limits: `threads` connections at once (server-sent event streams are
// refused with 503 beyond threads - 8, so requests always have threads), request bodies of
// max_request_bytes, read and write timeouts of timeout_seconds.
// Failure policy: a sign-in or action the loop does not answer within kLoopWaitMillis is
// answered 503 (a sign-in) or 202 "accepted" (an action: it goes on, and the page shows it).
// Thread-safety: start() and stop() from one thread; the server's threads call only the board,
// the queue, the session table and the backend through loop tasks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/console/console_config.h"
#include "coordinator/console/loop_queue.h"
#include "coordinator/console/sessions.h"
#include "coordinator/console/snapshot.h"

namespace httplib {
class Server;
}

namespace rollgate::console {

// A sign-in token as the store keeps it.
struct TokenGrant {
  std::string operatorName;
  std::string role;
  std::uint64_t expiresMillis = 0;
};

// What the console asks of the coordinator. Called on the loop's thread only (from tasks the
// server posts to the LoopQueue).
class ConsoleBackend {
 public:
  virtual ~ConsoleBackend() = default;
  // The token whose SHA-256 is `sha256Hex`; nothing when there is none.
  virtual Result<std::optional<TokenGrant>> findToken(const std::string& sha256Hex) = 0;
  // Does `request` as `operatorName` (recorded in the event log with that name) and calls `done`
  // with the final reply, now or from a later turn of the loop.
  virtual void act(const std::string& operatorName, const AdminRequest& request,
                   std::function<void(const AdminReply&)> done) = 0;
};

class ConsoleServer {
 public:
  static constexpr std::uint64_t kLoopWaitMillis = 10'000;

  // Binds and starts serving. `certPath` and `keyPath` are ignored with config.plainHttp.
  static Result<std::unique_ptr<ConsoleServer>> start(const ConsoleConfig& config,
                                                      const std::string& certPath,
                                                      const std::string& keyPath,
                                                      ConsoleBoard& board, LoopQueue& queue,
                                                      ConsoleBackend& backend, const Clock& clock,
                                                      Logger logger);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Stops accepting, ends the event streams and joins the server's threads.
  void stop();
  int port() const { return port_; }
  std::string url() const;

 private:
  ConsoleServer(const ConsoleConfig& config, ConsoleBoard& board, LoopQueue& queue,
                ConsoleBackend& backend, const Clock& clock, Logger logger);
  void routes();

  ConsoleConfig config_;
  ConsoleBoard& board_;
  LoopQueue& queue_;
  ConsoleBackend& backend_;
  const Clock& clock_;
  Logger logger_;
  SessionTable sessions_;
  // A rollout page's body, written once per version of what it shows however many pages ask for
  // it after the same change (20 pages watching one rollout: one body). Guarded by bodiesMutex_.
  struct CachedBody {
    std::uint64_t version = 0;
    std::shared_ptr<const std::string> body;
  };
  std::mutex bodiesMutex_;
  std::map<std::string, CachedBody> bodies_;
  std::shared_ptr<const std::string> rolloutBody(const ConsoleSnapshot& snap, const std::string& id);
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<int> streams_{0};
  int port_ = 0;
  std::string host_;
};

// A standby's console ([console] enabled on a coordinator that shares PostgreSQL while another
// leads): it binds the console's own address. A page (GET or HEAD outside /api/) is redirected
// (307) to the same path on the leader's console when the leader publishes one ([console]
// public_url, or its listen address). Anything else is answered 503 with Retry-After, naming
// this coordinator and the leader it last read (id, admin endpoint, epoch, console URL): /api/ in
// JSON ({"error", "standby": true, "coordinator", "leader"}), the rest as a short HTML page. So
// an operator's bookmark to this machine leads to the console that works instead of failing to
// connect. Stopped before this coordinator leads, for its own console to bind the address.
// Thread-safety: setLeader() from any thread; start() and stop() from one.
class StandbyConsole {
 public:
  static Result<std::unique_ptr<StandbyConsole>> start(const ConsoleConfig& config,
                                                       const std::string& certPath,
                                                       const std::string& keyPath,
                                                       std::string coordinatorId);
  ~StandbyConsole();
  StandbyConsole(const StandbyConsole&) = delete;
  StandbyConsole& operator=(const StandbyConsole&) = delete;

  void setLeader(const std::optional<LeaderInfo>& leader);
  void stop();
  const std::string& url() const { return url_; }

 private:
  StandbyConsole() = default;

  std::string coordinatorId_;
  std::string host_;
  int port_ = 0;
  std::string url_;
  std::mutex mutex_;
  std::optional<LeaderInfo> leader_;  // guarded by mutex_
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace rollgate::console
