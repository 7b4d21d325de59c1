// ConsoleFeed: the coordinator's side of the web console (coordinator/console/). On the loop's
// thread it publishes snapshots of what the pages show (hosts, rollouts and their read models,
// the freeze, aborts with their acknowledgements, the kept backtest runs) to the console's board whenever they change,
// checked every [console] publish_millis; and it runs the work the console's HTTP threads hand
// it (sign-ins checked against the store, operators' actions through the AdminApi, as the
// signed-in operator, each recorded in the event log with the operator's name).
// Owns the console's HTTPS server; the server is stopped (its threads joined) before anything
// it reads from goes away.
// Failure policy: a snapshot part that cannot be read from the store (a rollout's read model)
// keeps its previous value and is logged (once per minute at most); an action's event-log entry
// that cannot be saved is logged as an error (the action itself is done, as for the CLI).
// Thread-safety: one thread (the coordinator's loop), except what the server's threads reach
// through the board and the queue.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/logging.h"
#include "common/result.h"
#include "coordinator/abort_coordinator.h"
#include "coordinator/admin_api.h"
#include "coordinator/backtests.h"
#include "coordinator/console/console_server.h"
#include "coordinator/coordinator_config.h"
#include "coordinator/registry.h"
#include "coordinator/rollouts.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

// The routing id the console's replies carry through the Outbox (no ZeroMQ peer has it: ROUTER
// ids start with a zero byte).
inline const std::string kConsoleRoutingId = "\x01rollgate-console";

// `rollgate console token`: a new sign-in token for `request.operatorName` with its role, valid
// for request.ttlSeconds (1 s to 366 days). Only its SHA-256 is stored. Returns the token's text
// (shown once) and what was stored; the error names the field and the value.
Result<std::pair<std::string, ConsoleTokenRecord>> issueConsoleToken(
    Store& store, const ConsoleTokenRequest& request, const std::string& issuedBy,
    std::uint64_t nowMillis);

struct ConsoleFeedParts {
  const CoordinatorConfig& config;
  Store& store;
  Registry& registry;
  Rollouts& rollouts;
  AbortCoordinator& aborts;
  AdminApi& admin;
  const Backtests* backtests;  // null: no backtest pages have runs
  const Clock& clock;
  Logger logger;
};

// The console's certificate and key files: [console] cert and key, or a self-signed pair in the
// state directory, generated at first use (and logged). Empty with plain_http.
Result<std::pair<std::string, std::string>> consoleCertificate(const CoordinatorConfig& config,
                                                               std::uint64_t nowMillis,
                                                               const Logger& logger);

class ConsoleFeed final : public console::ConsoleBackend {
 public:
  // Generates the self-signed pair if needed, binds and starts the server.
  static Result<std::unique_ptr<ConsoleFeed>> start(ConsoleFeedParts parts);
  ~ConsoleFeed() override;

  // The queue's eventfd, to poll beside the sockets.
  int fd() const { return queue_.fd(); }
  // Runs the work the HTTP threads handed over.
  void drain() { queue_.drain(); }
  // Publishes a new snapshot if publish_millis have passed and something changed.
  void publish();
  // A reply through the Outbox for the console: handed to the action waiting for it. False when
  // `to` is not the console's.
  bool deliver(const ReplyTo& to, const AdminReply& reply);
  std::string url() const { return server_ ? server_->url() : ""; }

  // ConsoleBackend (called from drain()).
  Result<std::optional<console::TokenGrant>> findToken(const std::string& sha256Hex) override;
  void act(const std::string& operatorName, const AdminRequest& request,
           std::function<void(const AdminReply&)> done) override;

 private:
  explicit ConsoleFeed(ConsoleFeedParts parts) : parts_(std::move(parts)) {}
  std::shared_ptr<const RolloutView> readModel(const std::string& id);

  ConsoleFeedParts parts_;
  console::ConsoleBoard board_;
  console::LoopQueue queue_;
  std::shared_ptr<const console::ConsoleSnapshot> last_ = std::make_shared<console::ConsoleSnapshot>();
  std::map<std::string, RolloutSummaryView> finished_;  // summaries of finished rollouts
  std::map<std::string, std::vector<stats::CheckSpec>> specs_;
  // Finished rollouts' labels (they read later rollouts of the service), refreshed every
  // kLabelRefreshMillis of steady time while a page shows the rollout.
  struct CachedLabel {
    RolloutLabel label;
    std::uint64_t readSteadyMillis = 0;
  };
  std::map<std::string, CachedLabel> labels_;
  std::uint64_t backtestsSeen_ = 0;
  std::map<std::uint64_t, std::function<void(const AdminReply&)>> waiting_;  // by request id
  std::uint64_t nextRequestId_ = 0;
  std::uint64_t nextPublishMillis_ = 0;
  std::uint64_t nextContactMillis_ = 0;
  std::uint64_t publishes_ = 0;
  std::uint64_t nextErrorLogMillis_ = 0;
  std::unique_ptr<console::ConsoleServer> server_;  // last: stopped first
};

}  // namespace rollgate::coordinator
