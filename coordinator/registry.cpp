#include "coordinator/registry.h"

#include <algorithm>

namespace rollgate::coordinator {

void Registry::load(const std::vector<HostInfo>& hosts) {
  for (const auto& host : hosts) {
    Entry entry;
    entry.info = host;
    entry.info.connected = false;
    entry.info.healthy = false;
    hosts_[host.name] = std::move(entry);
  }
}

const HostInfo& Registry::onHello(const std::string& name, const Hello& hello,
                                  const std::string& routingId, std::uint64_t nowMillis) {
  Entry& entry = hosts_[name];
  entry.info.name = name;
  entry.info.region = hello.region;
  entry.info.cluster = hello.cluster;
  entry.info.agentVersion = hello.agentVersion;
  entry.info.services = hello.services;
  entry.info.claimedHost = hello.claimedHost;
  entry.info.lastContactMillis = nowMillis;
  entry.info.connected = true;
  if (!entry.routingId.empty() && entry.routingId != routingId) {
    entry.replaced.push_back(entry.routingId);
    if (entry.replaced.size() > 8) entry.replaced.erase(entry.replaced.begin());
  }
  std::erase(entry.replaced, routingId);
  entry.routingId = routingId;
  entry.silent = false;
  return entry.info;
}

bool Registry::onContact(const std::string& name, const std::string& routingId,
                         std::uint64_t nowMillis, const std::vector<ServiceRelease>* services) {
  auto it = hosts_.find(name);
  if (it == hosts_.end() || it->second.routingId != routingId) return false;
  it->second.info.lastContactMillis = nowMillis;
  it->second.info.connected = true;
  it->second.silent = false;
  if (services != nullptr) it->second.info.services = *services;
  return true;
}

bool Registry::touch(const std::string& name, std::uint64_t nowMillis) {
  auto it = hosts_.find(name);
  if (it == hosts_.end() || it->second.routingId.empty()) return false;
  bool wasSilent = it->second.silent;
  it->second.info.lastContactMillis = std::max(it->second.info.lastContactMillis, nowMillis);
  it->second.info.connected = true;
  it->second.silent = false;
  return wasSilent;
}

bool Registry::wasReplaced(const std::string& name, const std::string& routingId) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) return false;
  const auto& replaced = it->second.replaced;
  return std::find(replaced.begin(), replaced.end(), routingId) != replaced.end();
}

void Registry::remove(const std::string& name) { hosts_.erase(name); }

bool Registry::recent(const Entry& entry, std::uint64_t nowMillis) const {
  std::uint64_t since = std::max(entry.info.lastContactMillis, entry.excusedUntilMillis);
  return nowMillis < since || nowMillis - since <= hostTimeoutMillis_;
}

HostInfo Registry::view(const Entry& entry, std::uint64_t nowMillis) const {
  HostInfo info = entry.info;
  info.connected = !entry.routingId.empty() && recent(entry, nowMillis);
  info.healthy = info.connected;
  if (quotas_ != nullptr) info.dropped = quotas_->dropsOf(info.name);
  return info;
}

std::vector<HostInfo> Registry::list(std::uint64_t nowMillis) const {
  std::vector<HostInfo> out;
  out.reserve(hosts_.size());
  for (const auto& [name, entry] : hosts_) out.push_back(view(entry, nowMillis));
  return out;
}

std::optional<HostInfo> Registry::find(const std::string& name, std::uint64_t nowMillis) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) return std::nullopt;
  return view(it->second, nowMillis);
}

bool Registry::isHealthy(const std::string& name, std::uint64_t nowMillis) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end() || it->second.routingId.empty()) return false;
  return recent(it->second, nowMillis);
}

bool Registry::declares(const std::string& name, const std::string& service) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) return false;
  const auto& services = it->second.info.services;
  return std::any_of(services.begin(), services.end(),
                     [&](const ServiceRelease& s) { return s.service == service; });
}

std::optional<std::string> Registry::routingIdOf(const std::string& name) const {
  auto it = hosts_.find(name);
  if (it == hosts_.end() || it->second.routingId.empty()) return std::nullopt;
  return it->second.routingId;
}

std::vector<std::string> Registry::expire(std::uint64_t nowMillis) {
  std::vector<std::string> expired;
  for (auto& [name, entry] : hosts_) {
    if (!entry.routingId.empty() && !entry.silent && !recent(entry, nowMillis)) {
      entry.silent = true;
      entry.info.connected = false;
      expired.push_back(name);
    }
  }
  return expired;
}

void Registry::excuseUntil(std::uint64_t nowMillis) {
  for (auto& [name, entry] : hosts_) {
    if (!entry.silent) entry.excusedUntilMillis = std::max(entry.excusedUntilMillis, nowMillis);
  }
}

void Registry::setAddress(const std::string& name, const std::string& address) {
  auto found = hosts_.find(name);
  if (found != hosts_.end() && !address.empty()) found->second.address = address;
}

std::string Registry::addressOf(const std::string& name) const {
  auto found = hosts_.find(name);
  return found == hosts_.end() ? std::string() : found->second.address;
}

}  // namespace rollgate::coordinator
