#include "agent/install_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "agent/lb/haproxy_gate.h"
#include "agent/systemd/systemd_client.h"

namespace rollgate::agent {

InstallWorker::InstallWorker(const AgentConfig& config, CoordinatorSourceOptions chunkSource,
                             zmq::context_t& context, Logger logger)
    : config_(config),
      logger_(std::move(logger)),
      coordinatorSource_(std::make_unique<CoordinatorSource>(context, std::move(chunkSource))) {
  eventFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

InstallWorker::~InstallWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    cancelRunning_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (eventFd_ >= 0) ::close(eventFd_);
}

std::unique_ptr<systemd::ServiceManager> InstallWorker::makeServiceManager(
    const ServiceConfig& service) {
  if (config_.systemd == "none" || !service.restartCommand.empty()) {
    return std::make_unique<systemd::CommandServiceManager>(service.restartCommand, env_);
  }
  systemd::SystemdClientOptions options;
  options.bus = config_.systemd == "user" ? systemd::BusKind::kUser : systemd::BusKind::kSystem;
  options.clock = &env_;
  auto client = systemd::SystemdClient::connect(options);
  if (!client) {
    logger_->warn("service {}: {}; restarts will fail until systemd is reachable", service.name,
                  client.error().message);
    return nullptr;
  }
  return std::move(*client);
}

std::unique_ptr<lb::TrafficGate> InstallWorker::makeTrafficGate(const ServiceConfig& service) {
  if (service.haproxy.empty()) return nullptr;
  auto address = lb::parseRuntimeAddress(service.haproxy);
  if (!address) return nullptr;  // the config loader refused it already
  lb::HaproxyGateOptions options;
  options.address = *address;
  options.backend = service.haproxyBackend;
  options.server = service.haproxyServer;
  options.markerPath = config_.stateDir + "/haproxy-" + service.name + ".drained";
  options.weightMarkerPath = config_.stateDir + "/haproxy-" + service.name + ".weight";
  options.commandTimeoutMillis = static_cast<std::uint32_t>(service.haproxyTimeoutSeconds * 1000);
  options.drainTimeoutMillis = static_cast<std::uint32_t>(service.haproxyDrainSeconds * 1000);
  options.upTimeoutMillis = static_cast<std::uint32_t>(service.haproxyUpSeconds * 1000);
  return std::make_unique<lb::HaproxyGate>(options, env_);
}

Status InstallWorker::start() {
  ledger_ = std::make_unique<install::CommandLedger>(config_.stateDir + "/commands.json", env_);
  if (auto status = ledger_->load(); !status) return status;
  std::vector<install::ArtifactSource*> sources{coordinatorSource_.get(), &fileSource_,
                                                &httpSource_};
  for (const auto& service : config_.services) {
    auto manager = makeServiceManager(service);
    if (!manager) {
      // Still install and switch; the restart step reports the missing manager.
      manager = std::make_unique<systemd::CommandServiceManager>(
          std::vector<std::string>{"/bin/false"}, env_);
    }
    install::InstallerConfig installerConfig;
    installerConfig.service = service.name;
    installerConfig.installRoot = service.installRoot;
    installerConfig.stateDir = config_.stateDir + "/install-" + service.name;
    installerConfig.unit = service.unit;
    installerConfig.healthUrl = service.healthUrl;
    installerConfig.healthTimeoutMillis = static_cast<std::uint32_t>(service.healthTimeoutSeconds * 1000);
    installerConfig.trustedKeyPaths = service.trustedKeys;
    installerConfig.keepReleases = static_cast<std::size_t>(service.keepReleases);
    installerConfig.restartCommand = service.restartCommand;
    auto& limits = installerConfig.unpackLimits;
    auto bound = [](std::int64_t configured, std::uint64_t& value) {
      if (configured >= 0) value = static_cast<std::uint64_t>(configured);
    };
    bound(service.maxUnpackedBytes, limits.maxUnpackedBytes);
    bound(service.maxUnpackRatio, limits.maxUnpackRatio);
    bound(service.maxEntries, limits.maxEntries);
    bound(service.maxPathBytes, limits.maxPathBytes);
    auto installer = std::make_unique<install::Installer>(installerConfig, *manager, *ledger_,
                                                          sources, env_, logger_);
    if (auto gate = makeTrafficGate(service)) {
      logger_->info("service {}: restarts drain {}", service.name, gate->describe());
      installer->setTrafficGate(gate.get());
      gates_[service.name] = std::move(gate);
    }
    if (auto status = installer->open(); !status) {
      return makeError("service " + service.name + ": " + status.error().message);
    }
    auto recovered = installer->recover();
    if (!recovered) {
      logger_->error("service {}: {}", service.name, recovered.error().message);
    } else if (recovered->has_value()) {
      logger_->warn("service {}: command {} of rollout {} was interrupted by a restart: {}",
                    service.name, (*recovered)->command.sequence, (*recovered)->command.rolloutId,
                    (*recovered)->message);
      post(**recovered);
    }
    managers_[service.name] = std::move(manager);
    installers_[service.name] = std::move(installer);
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void InstallWorker::submit(const Command& command) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(command);
  }
  wake_.notify_all();
}

bool InstallWorker::cancel(const CommandRef& target) {
  std::lock_guard lock(mutex_);
  if (running_ && *running_ == target) {
    cancelRunning_ = true;
    return true;
  }
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ref == target) {
      CommandResult result;
      result.command = it->ref;
      result.service = it->service;
      result.outcome = Outcome::kCancelled;
      result.message = "cancelled before it started";
      queue_.erase(it);
      results_.push_back(std::move(result));
      std::uint64_t one = 1;
      (void)::write(eventFd_, &one, sizeof(one));
      return true;
    }
  }
  return false;
}

std::size_t InstallWorker::cancelRollouts(const std::vector<std::string>& rolloutIds) {
  // An abort stops what moves hosts forward; the rollbacks that undo a rollout must still run
  // (they may well arrive before the abort itself).
  auto matches = [&](const CommandRef& ref) {
    return rolloutIds.empty() ||
           std::find(rolloutIds.begin(), rolloutIds.end(), ref.rolloutId) != rolloutIds.end();
  };
  std::size_t cancelled = 0;
  std::lock_guard lock(mutex_);
  if (running_ && !runningIsRollback_ && matches(*running_)) {
    cancelRunning_ = true;
    ++cancelled;
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (!matches(it->ref) || std::holds_alternative<RollBackRelease>(it->body)) {
      ++it;
      continue;
    }
    CommandResult result;
    result.command = it->ref;
    result.service = it->service;
    result.outcome = Outcome::kCancelled;
    result.message = "cancelled by an abort before it started";
    results_.push_back(std::move(result));
    it = queue_.erase(it);
    ++cancelled;
  }
  if (cancelled > 0) {
    std::uint64_t one = 1;
    (void)::write(eventFd_, &one, sizeof(one));
  }
  return cancelled;
}

std::vector<CommandResult> InstallWorker::takeResults() {
  std::uint64_t counter = 0;
  (void)::read(eventFd_, &counter, sizeof(counter));
  std::lock_guard lock(mutex_);
  std::vector<CommandResult> out(std::make_move_iterator(results_.begin()),
                                 std::make_move_iterator(results_.end()));
  results_.clear();
  return out;
}

CommandRef InstallWorker::lastApplied() const { return ledger_ ? ledger_->lastApplied() : CommandRef{}; }

void InstallWorker::post(CommandResult result) {
  {
    std::lock_guard lock(mutex_);
    // Progress reports may be coalesced: keep only the newest progress of a command.
    if (result.progress && !results_.empty() && results_.back().progress &&
        results_.back().command == result.command) {
      results_.back() = std::move(result);
    } else {
      results_.push_back(std::move(result));
    }
  }
  std::uint64_t one = 1;
  (void)::write(eventFd_, &one, sizeof(one));
}

std::optional<std::uint64_t> InstallWorker::nextWeightDueMillis() const {
  std::optional<std::uint64_t> next;
  for (const auto& [name, gate] : gates_) {
    auto due = gate->weightDueMillis();
    if (due && (!next || *due < *next)) next = due;
  }
  return next;
}

void InstallWorker::releaseDueWeights() {
  const std::uint64_t now = env_.nowMillis();
  for (const auto& [name, gate] : gates_) {
    auto due = gate->weightDueMillis();
    if (!due || *due > now) continue;
    std::vector<std::string> events;
    if (auto s = gate->releaseWeight(events); !s) {
      logger_->error("service {}: {}", name, s.error().message);
    }
    for (const auto& event : events) logger_->info("service {}: {}", name, event);
  }
}

void InstallWorker::run() {
  while (true) {
    Command command;
    {
      std::unique_lock lock(mutex_);
      // Idle: wait for a command, or for a held load balancer weight to fall due.
      while (!stop_ && queue_.empty()) {
        auto due = nextWeightDueMillis();
        if (!due) {
          wake_.wait(lock);
          continue;
        }
        std::uint64_t now = env_.nowMillis();
        if (*due > now) {
          wake_.wait_for(lock, std::chrono::milliseconds(*due - now));
          continue;
        }
        lock.unlock();
        releaseDueWeights();
        lock.lock();
      }
      if (stop_) return;
      command = std::move(queue_.front());
      queue_.pop_front();
      running_ = command.ref;
      runningIsRollback_ = std::holds_alternative<RollBackRelease>(command.body);
      cancelRunning_ = false;
    }
    busy_ = true;
    auto it = installers_.find(command.service);
    CommandResult result;
    if (it == installers_.end()) {
      result.command = command.ref;
      result.service = command.service;
      result.outcome = Outcome::kFailed;
      result.message = "service " + command.service + " is not declared on this host";
    } else {
      result = it->second->execute(
          command, [this](const CommandResult& progress) { post(progress); }, cancelRunning_);
    }
    {
      std::lock_guard lock(mutex_);
      running_.reset();
    }
    busy_ = false;
    post(std::move(result));
  }
}

}  // namespace rollgate::agent
