// AdminClient: the CLI's connection to the coordinator's admin endpoint (DEALER, CURVE client
// with an operator key). One request at a time; replies that are not `final` are streamed to a
// callback. Thread-safety: one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/messages.h"
#include "common/result.h"

namespace CLI {
class App;
}

namespace rollgate::cli {

// Global CLI options that locate the coordinator and the operator's key. Defaults work on the
// coordinator host for root: the flags, then $ROLLGATE_ADMIN / $ROLLGATE_KEY /
// $ROLLGATE_COORDINATOR_KEY, then these values.
struct AdminOptions {
  std::string endpoint = "tcp://127.0.0.1:7401";
  std::string keyFile = "/etc/rollgate/admin.key";           // operator secret key (Z85)
  std::string coordinatorKeyFile = "/etc/rollgate/coordinator.pub";
  double timeoutSeconds = 10.0;
  bool timeoutGiven = false;  // --timeout was on the command line: it overrides a command's own wait
};

void addAdminOptions(CLI::App& app, AdminOptions& options);

class AdminClient {
 public:
  static Result<std::unique_ptr<AdminClient>> connect(const AdminOptions& options);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Sends one request and returns its final reply. Interim (non-final) replies go to onProgress.
  // Fails with a message naming the endpoint when no reply arrives within the timeout.
  Result<AdminReply> call(AdminRequest request,
                          const std::function<void(const AdminReply&)>& onProgress = {});
  // As call(), with a caller-chosen timeout (for long operations such as installs).
  Result<AdminReply> call(AdminRequest request, std::chrono::milliseconds timeout,
                          const std::function<void(const AdminReply&)>& onProgress = {});

 private:
  struct Impl;
  explicit AdminClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Enrolls an agent's public key (Z85) under `name` in the coordinator's agent allowlist.
Status enrollHost(const AdminOptions& options, const std::string& name,
                  const std::string& publicKeyZ85);

}  // namespace rollgate::cli
