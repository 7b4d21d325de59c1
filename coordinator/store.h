// Store: the coordinator's durable state in SQLite (WAL) under its state directory. Only one
// coordinator may own a state directory: open() takes an exclusive lock on `coordinator.lock`
// and fails, naming the holder's pid, if another process has it. Every open bumps the epoch,
// which orders commands across coordinator restarts.
// Thread-safety: one thread (the coordinator's loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "common/sqlite.h"
#include "coordinator/aborts.h"

namespace rollgate::coordinator {

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& stateDir);
  ~Store();

  std::uint64_t epoch() const { return epoch_; }
  Database& database() { return *db_; }

  Status saveHost(const HostInfo& host);
  Status saveLastContact(const std::string& name, std::uint64_t lastContactMillis);
  Status deleteHost(const std::string& name);
  Result<std::vector<HostInfo>> loadHosts();

  Status saveAbort(const AbortState& state);
  Result<std::vector<AbortState>> loadAborts();
  // Fleet-wide freeze: a reason while frozen, nothing when not.
  Status setFrozen(const std::optional<std::string>& reason);
  std::optional<std::string> frozen();

  // Appends to the event log (what the system did and why).
  Status recordEvent(std::uint64_t atMillis, const std::string& kind, const std::string& host,
                     const std::string& rolloutId, const std::string& message);

 private:
  Store(std::unique_ptr<Database> db, int lockFd) : db_(std::move(db)), lockFd_(lockFd) {}
  Status migrate();

  std::unique_ptr<Database> db_;
  int lockFd_;
  std::uint64_t epoch_ = 0;
};

}  // namespace rollgate::coordinator
