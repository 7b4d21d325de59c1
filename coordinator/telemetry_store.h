// TelemetryStore: the coordinator's record of every telemetry window agents report. The loop
// queues windows (add) and hands them over in batches (submit, at most every 100 ms or 10,000
// windows); an ingest thread writes each batch with one Store::appendWindows on a database
// connection of its own (Store::openIngestConnection), so the loop goes on receiving while the
// database writes. Batches that wait behind a write are joined (up to kMaxBatch windows), so a
// writer that falls behind writes more per transaction instead of falling further behind.
// Windows sent as a one-window report are stored as the frame that came, packed (by the writer,
// off the loop), not encoded again. The loop acknowledges a batch's windows to agents only once committed().
// Failure policy: a batch that fails to be written stays first in line and is written again
// every second (the batches behind it wait, in order); each failure is logged. While kMaxQueued
// windows wait, full() says so and the loop turns new windows away: their agents keep them and
// send them again, so a slow or unreachable database costs bounded memory and loses nothing.
// Retention (prune) runs on the ingest thread too, between writes, so a prune of tens of thousands
// of rows does not hold the loop (and an abort's acknowledgements) up.
// Without an ingest connection (a backend without one, or unit tests), submit() and prune() write
// on the caller's thread.
// Thread-safety: every public method from one thread (the coordinator's loop); the ingest thread
// is internal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "common/messages.h"
#include "common/result.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class TelemetryStore {
 public:
  // Windows submitted and not yet committed, beyond which full() turns new ones away.
  static constexpr std::size_t kMaxQueued = 100'000;
  // Windows in one write at most (batches that wait are joined up to it). It bounds how long a
  // write of the loop's own can wait for the ingest connection's transaction (SQLite: 0.1-0.2 s).
  static constexpr std::size_t kMaxBatch = 10'000;

  // Requires: `store` outlives this. `ingest`: the ingest thread's own connection (null: writes
  // on the caller's thread through `store`); `logger` is needed with it.
  explicit TelemetryStore(Store& store, std::unique_ptr<Store> ingest = nullptr,
                          Logger logger = nullptr);
  // Stops the ingest thread after the write in flight; windows not committed by then are not
  // acknowledged, so their agents send them again.
  ~TelemetryStore();
  TelemetryStore(const TelemetryStore&) = delete;
  TelemetryStore& operator=(const TelemetryStore&) = delete;

  // Queues a window from `host`. `frame`: the window as the agent encoded it, a one-window
  // report (stored packed, read here only); empty to encode it.
  void add(const std::string& host, const TelemetryWindow& window, std::string_view frame = {});
  // Hands the windows added since the last submit to the writer as one batch; returns the
  // number of the newest batch submitted (batches are numbered from 1, 0 before the first).
  std::uint64_t submit();
  // The newest batch whose windows are all committed (batches commit in order).
  std::uint64_t committed() const { return committed_.load(); }
  std::uint64_t submitted() const { return submitted_; }
  // submit(), then waits up to `timeoutMillis` until every batch is committed; the error of the
  // last failed write (or of the wait) when not.
  Status flush(std::uint64_t timeoutMillis = 10'000);

  std::size_t pending() const { return pending_.size(); }  // added, not yet submitted
  std::size_t backlog() const { return backlog_.load(); }  // submitted, not yet committed
  bool full() const { return pending_.size() + backlog() >= kMaxQueued; }
  std::uint64_t stored() const { return stored_.load(); }
  // How long each committed append ("append_windows") and each prune ("prune_windows") took,
  // since the last call (for the store-write histogram).
  struct Timing {
    const char* operation;
    double seconds;
  };
  std::vector<Timing> takeTimings();

  // The newest `last` windows of host/service (any service if empty), oldest first.
  Result<std::vector<TelemetryWindow>> latest(const std::string& host, const std::string& service,
                                              std::uint32_t last) {
    return store_->latestWindows(host, service, last);
  }
  // Windows of `service` from `hosts` whose end is after `sinceMillis`, oldest first.
  Result<std::vector<StoredWindow>> since(const std::string& service,
                                          const std::vector<std::string>& hosts,
                                          std::uint64_t sinceMillis) {
    return store_->windowsSince(service, hosts, sinceMillis);
  }
  // Asks for the windows that ended before `beforeMillis` to be deleted (Store::pruneWindows), on
  // the ingest connection before its next write; a request not yet run is replaced by a newer
  // one. takePruned() tells how it went.
  void prune(std::uint64_t beforeMillis);
  // The last prune run since the last call, if any: how many windows it deleted, or why none.
  std::optional<Result<std::uint64_t>> takePruned();

 private:
  struct Batch {
    std::uint64_t number = 0;
    std::vector<WindowRow> windows;
  };
  // Writes the first queued batch through `writer`; false when it failed (it stays first).
  bool writeFirst(Store& writer);
  void runPrune(Store& writer, std::uint64_t beforeMillis);
  void run();

  Store* store_;
  std::unique_ptr<Store> ingest_;
  Logger logger_;
  std::vector<WindowRow> pending_;
  std::size_t lastBatchSize_ = 0;  // the last batch handed over: pending_'s next capacity
  std::string packScratch_;        // the writer's only (writeFirst)
  std::uint64_t submitted_ = 0;  // the newest batch number handed over

  mutable std::mutex mutex_;
  std::condition_variable wake_;         // the ingest thread: a batch, or stop
  std::condition_variable committedCv_;  // flush(): a batch committed
  std::deque<Batch> queue_;              // guarded by mutex_
  // Rows of committed batches, freed by the loop (see writeFirst); guarded by mutex_.
  std::vector<std::vector<WindowRow>> written_;
  std::string lastError_;                // guarded by mutex_; the last failed write's error
  std::vector<Timing> timings_;          // guarded by mutex_
  std::uint64_t pruneBefore_ = 0;        // guarded by mutex_; a prune asked for (0: none)
  std::optional<Result<std::uint64_t>> pruned_;  // guarded by mutex_
  bool stop_ = false;                    // guarded by mutex_
  bool writing_ = false;                 // guarded by mutex_; the first batch is being written
  std::atomic<std::uint64_t> committed_{0};
  std::atomic<std::size_t> backlog_{0};
  std::atomic<std::uint64_t> stored_{0};
  std::thread thread_;
};

}  // namespace rollgate::coordinator
