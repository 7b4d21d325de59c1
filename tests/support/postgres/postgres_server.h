// PostgresServer: Debian's PostgreSQL 15 started for one test: initdb into a temporary directory as
// the `postgres` user (password authentication, user "rollgate"), pg_ctl on a free loopback port,
// stopped and removed by the destructor. TcpProxy: a loopback TCP relay in front of it that a test
// can cut (connections stay open, nothing passes either way: a network partition as the client
// sees it) and mend, to cut one coordinator off from the database.
// Thread-safety: PostgresServer, one test thread; TcpProxy's methods from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "tests/support/fleet/process.h"

namespace rollgate::testing {

class PostgresServer {
 public:
  // Empty when PostgreSQL can run here, else what is missing.
  static std::string missingPrerequisite();
  static Result<std::unique_ptr<PostgresServer>> start();
  ~PostgresServer();

  int port() const { return port_; }
  static constexpr const char* kPassword = "rollgate-test-secret";
  // postgresql://rollgate:PASSWORD@127.0.0.1:PORT/DATABASE (port: another port, e.g. a proxy's)
  std::string url(int port = 0, const std::string& database = "rollgate") const;
  // Creates a database (each test can have its own).
  Status createDatabase(const std::string& name);
  Status stop();
  Status restart();
  std::string logPath() const { return dir_.file("postgres.log"); }

 private:
  PostgresServer() = default;
  Status pgctl(const std::vector<std::string>& args);
  TempDir dir_{"rollgate-pg"};
  int port_ = 0;
  bool running_ = false;
};

class TcpProxy {
 public:
  // Listens on a free loopback port and relays every connection to 127.0.0.1:`targetPort`.
  explicit TcpProxy(int targetPort);
  ~TcpProxy();
  int port() const { return port_; }
  // Cut: accepted connections stay open but nothing is relayed; new ones are accepted and held.
  void cut() { cut_.store(true); }
  void mend() { cut_.store(false); }

 private:
  void run();
  int targetPort_;
  int port_ = 0;
  int listenFd_ = -1;
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rollgate::testing
