// InstallWorker: runs install, activate, rollback and restart commands on one worker thread, so
// downloads, unpacks, restarts and health checks never block the agent's event loop. One
// Installer per declared service; one CommandLedger for the host (at-most-once application).
// Results and progress come back through a queue whose eventfd the loop polls.
//
// Thread-safety: submit(), cancel(), takeResults() and describe() are called from the agent's
// loop thread; everything else runs on the worker thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "agent/agent_config.h"
#include "agent/coordinator_source.h"
#include "agent/install/installer.h"
#include "agent/lb/traffic_gate.h"
#include "agent/systemd/service_manager.h"
#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "common/sys/env.h"

namespace rollgate::agent {

class InstallWorker {
 public:
  InstallWorker(const AgentConfig& config, CoordinatorSourceOptions chunkSource,
                zmq::context_t& context, Logger logger);
  ~InstallWorker();
  InstallWorker(const InstallWorker&) = delete;
  InstallWorker& operator=(const InstallWorker&) = delete;

  // Opens installers and the ledger, recovers from a crash (the interrupted commands' results are
  // queued as results), then starts the thread.
  Status start();

  // Queues a command (the loop has checked its service is declared). Answered through results.
  void submit(const Command& command);
  // Asks the in-flight or queued command `target` to stop. Returns false if it is unknown.
  bool cancel(const CommandRef& target);
  // Cancels the running and queued commands of these rollouts (every rollout when empty),
  // except rollbacks.
  // Returns how many commands were asked to stop.
  std::size_t cancelRollouts(const std::vector<std::string>& rolloutIds);
  // Results and progress reports ready to send, oldest first.
  std::vector<CommandResult> takeResults();
  // Becomes readable when results are waiting (an eventfd, for zmq_poll).
  int fd() const { return eventFd_; }

  CommandRef lastApplied() const;
  bool declares(const std::string& service) const { return installers_.count(service) > 0; }
  bool busy() const { return busy_.load(); }

 private:
  void run();
  void post(CommandResult result);
  std::unique_ptr<systemd::ServiceManager> makeServiceManager(const ServiceConfig& service);
  std::unique_ptr<lb::TrafficGate> makeTrafficGate(const ServiceConfig& service);
  // Worker thread only: the earliest time a held load balancer weight ends, and its release.
  std::optional<std::uint64_t> nextWeightDueMillis() const;
  void releaseDueWeights();

  AgentConfig config_;
  Logger logger_;
  sys::PosixEnv env_;  // durable writes and waits of the ledger, installers and restarts
  std::unique_ptr<CoordinatorSource> coordinatorSource_;
  install::FileSource fileSource_;
  install::HttpSource httpSource_;
  std::unique_ptr<install::CommandLedger> ledger_;
  std::map<std::string, std::unique_ptr<systemd::ServiceManager>> managers_;
  std::map<std::string, std::unique_ptr<lb::TrafficGate>> gates_;  // services behind HAProxy
  std::map<std::string, std::unique_ptr<install::Installer>> installers_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> queue_;
  std::deque<CommandResult> results_;
  std::optional<CommandRef> running_;
  bool runningIsRollback_ = false;
  std::atomic<bool> cancelRunning_{false};
  std::atomic<bool> busy_{false};
  bool stop_ = false;
  int eventFd_ = -1;
  std::thread thread_;
};

}  // namespace rollgate::agent
