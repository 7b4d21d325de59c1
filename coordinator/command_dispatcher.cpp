#include "coordinator/command_dispatcher.h"

namespace rollgate::coordinator {
namespace {

std::string pendingKey(const std::string& host, const CommandRef& ref) {
  return host + "/" + std::to_string(ref.epoch) + "/" + std::to_string(ref.sequence);
}

}  // namespace

CommandDispatcher::CommandDispatcher(Registry& registry, Store& store, Outbox& outbox,
                                     const Clock& clock, Logger logger)
    : registry_(registry),
      store_(store),
      outbox_(outbox),
      clock_(clock),
      logger_(std::move(logger)) {}

CommandRef CommandDispatcher::reserve(const std::string& host, const std::string& rolloutId) {
  CommandRef ref;
  ref.rolloutId = rolloutId;
  ref.epoch = store_.epoch();
  ref.sequence = ++nextSequence_[host];
  return ref;
}

Result<CommandRef> CommandDispatcher::send(const std::string& host, Command command,
                                           ResultCallback onResult, ResultCallback onProgress,
                                           std::optional<CommandRef> presetRef) {
  if (!registry_.find(host, clock_.nowMillis())) return makeError("no host named " + host);
  if (presetRef) {
    command.ref = *presetRef;
  } else {
    command.ref = reserve(host, command.ref.rolloutId);
  }
  if (auto routingId = registry_.routingIdOf(host)) {
    outbox_.toAgent(*routingId, command);
  } else {
    logger_->warn("host {} is not connected: command {} #{} is sent when it says hello", host,
                  command.ref.rolloutId, command.ref.sequence);
  }
  CommandRef ref = command.ref;
  pending_[pendingKey(host, ref)] =
      Pending{host, std::move(command), std::move(onResult), std::move(onProgress)};
  return ref;
}

void CommandDispatcher::onHello(const std::string& host, const std::string& routingId) {
  for (const auto& [key, pending] : pending_) {
    if (pending.host == host) outbox_.toAgent(routingId, pending.command);
  }
}

bool CommandDispatcher::isPending(const std::string& host, const CommandRef& ref) const {
  return pending_.count(pendingKey(host, ref)) > 0;
}

bool CommandDispatcher::onResult(const std::string& host, const CommandResult& result) {
  auto it = pending_.find(pendingKey(host, result.command));
  if (it == pending_.end()) return false;
  if (result.progress) {
    if (it->second.onProgress) it->second.onProgress(result);
    return true;
  }
  logger_->info("host {}: command {} #{} for service {}: {} ({}); active release {}", host,
                result.command.rolloutId, result.command.sequence, result.service,
                outcomeName(result.outcome), result.message,
                result.activeRelease.empty() ? "none" : result.activeRelease);
  EventRecord event{clock_.nowMillis(), "command_result", host, result.command.rolloutId,
                    std::string(outcomeName(result.outcome)) + ": " + result.message};
  if (auto status = store_.recordEvent(event); !status) {
    logger_->error("host {}: command {} #{}: cannot record its result in the event log: {}", host,
                   result.command.rolloutId, result.command.sequence, status.error().message);
  }
  Pending pending = std::move(it->second);
  pending_.erase(it);
  if (pending.onResult) pending.onResult(result);
  return true;
}

}  // namespace rollgate::coordinator
