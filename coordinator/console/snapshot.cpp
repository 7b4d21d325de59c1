#include "coordinator/console/snapshot.h"

namespace rollgate::console {

void ConsoleBoard::publish(std::shared_ptr<const ConsoleSnapshot> snapshot) {
  {
    std::lock_guard lock(mutex_);
    latest_ = std::move(snapshot);
  }
  changed_.notify_all();
}

std::shared_ptr<const ConsoleSnapshot> ConsoleBoard::latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::shared_ptr<const ConsoleSnapshot> ConsoleBoard::waitNewer(
    std::uint64_t version, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return stopped_ || latest_->version > version; });
  return latest_;
}

void ConsoleBoard::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  changed_.notify_all();
}

bool ConsoleBoard::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void ConsoleBoard::want(const std::string& rolloutId, std::uint64_t steadyMillis) {
  std::lock_guard lock(mutex_);
  if (wanted_.size() < 1000 || wanted_.count(rolloutId)) wanted_[rolloutId] = steadyMillis;
}

std::set<std::string> ConsoleBoard::wanted(std::uint64_t steadyMillis, std::uint64_t keepMillis) {
  std::lock_guard lock(mutex_);
  std::set<std::string> out;
  for (auto it = wanted_.begin(); it != wanted_.end();) {
    if (it->second + keepMillis < steadyMillis) {
      it = wanted_.erase(it);
    } else {
      out.insert(it->first);
      ++it;
    }
  }
  return out;
}

}  // namespace rollgate::console
