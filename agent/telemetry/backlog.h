// TelemetryBacklog: finished windows waiting for the coordinator's acknowledgement (AckTelemetry),
// kept on disk so that an agent restarted at any moment still has every window the coordinator has
// not confirmed storing. One file per window, `<dir>/<sequence>.window`, written atomically with
// fsync before push() returns, plus `<dir>/meta` holding the highest acknowledged sequence.
//
// Every window gets the next sequence number; the numbers are never reused while any window that
// carried them may have been sent. A window leaves the backlog only by acknowledgement or by being
// dropped (the bound in count and bytes is exceeded: the oldest go first; a window that cannot be
// written is dropped at once). Drops are not counted in a separate file: a dropped window leaves a
// gap in the numbers, and the gap *is* the persisted count. When a window is handed out for
// sending, its droppedBefore is the gap between it and the window before it (or the last
// acknowledged one), so the coordinator learns of every window it will never see, across restarts.
//
// A new backlog numbers from the wall clock in milliseconds at creation, so an agent whose state
// directory was wiped does not reuse numbers a running coordinator has already acknowledged.
// Thread-safety: none; one thread (the agent's loop) owns a backlog.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/messages.h"
#include "common/result.h"

namespace rollgate::agent {

struct BacklogLimits {
  std::size_t maxWindows = 360;         // Requires: >= 1
  std::uint64_t maxBytes = 64ull << 20;  // on disk, all window files together
};

class TelemetryBacklog {
 public:
  // Opens `dir` (created if missing) and loads the windows a previous run left, all of them unsent.
  // Unreadable window files are removed (their numbers become gaps, i.e. counted as dropped).
  // `nowMillis` (wall clock) numbers a new backlog. Fails naming the directory when it cannot be
  // created or its meta file cannot be written.
  static Result<std::unique_ptr<TelemetryBacklog>> open(std::string dir, BacklogLimits limits,
                                                        std::uint64_t nowMillis);

  struct Pushed {
    std::uint64_t sequence = 0;
    std::size_t droppedNow = 0;   // windows this push dropped (the oldest ones, or this one)
    std::optional<Error> error;   // set when the window could not be written (it was dropped)
  };
  // Numbers the window, writes it (with `annex`, opaque bytes kept beside it, e.g. the log
  // positions right after it) and enforces the bounds.
  Pushed push(TelemetryWindow window, std::string annex);

  // Up to maxCount windows not yet sent in this session, oldest first, with sequence and
  // droppedBefore filled in. They stay in the backlog until acknowledged.
  std::vector<TelemetryWindow> unsent(std::size_t maxCount) const;
  // The windows numbered up to `sequence` were handed to the connection.
  void markSent(std::uint64_t throughSequence);
  // A new session with the coordinator: every window not acknowledged is sent again.
  void resendAll();
  // The coordinator stored every window numbered up to `throughSequence`: they are forgotten.
  // An error (the meta file could not be written) is only reported: the windows are forgotten
  // anyway, and after a restart the stale meta makes them count as dropped, never as lost.
  Status acknowledge(std::uint64_t throughSequence);

  // The annex of the newest window of `service` still in the backlog, with its sequence.
  std::optional<std::pair<std::uint64_t, std::string>> newestAnnex(const std::string& service) const;

  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  std::uint64_t sizeBytes() const { return bytes_; }
  std::size_t unsentCount() const;
  std::uint64_t ackedThrough() const { return ackedThrough_; }
  std::uint64_t nextSequence() const { return nextSequence_; }
  // Windows dropped by this process (for logs; the persisted count is the gaps).
  std::uint64_t droppedTotal() const { return droppedTotal_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Record {
    std::uint64_t sequence = 0;
    TelemetryWindow window;
    std::string annex;
    std::uint64_t bytes = 0;
    bool sent = false;
  };
  TelemetryBacklog(std::string dir, BacklogLimits limits) : dir_(std::move(dir)), limits_(limits) {}
  std::string fileOf(std::uint64_t sequence) const;
  Status writeMeta() const;
  std::size_t enforceBounds();
  void removeOldest();

  std::string dir_;
  BacklogLimits limits_;
  std::deque<Record> records_;  // ascending sequence
  std::uint64_t bytes_ = 0;
  std::uint64_t ackedThrough_ = 0;
  std::uint64_t nextSequence_ = 1;
  std::uint64_t droppedTotal_ = 0;
};

}  // namespace rollgate::agent
