#include "coordinator/telemetry_store.h"

#include <pthread.h>

#include <chrono>
#include <utility>

#include "coordinator/store/record_codec.h"

namespace rollgate::coordinator {

TelemetryStore::TelemetryStore(Store& store, std::unique_ptr<Store> ingest, Logger logger)
    : store_(&store), ingest_(std::move(ingest)), logger_(std::move(logger)) {
  if (ingest_) thread_ = std::thread([this] { run(); });
}

TelemetryStore::~TelemetryStore() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TelemetryStore::add(const std::string& host, const TelemetryWindow& window,
                         std::string_view frame) {
  // Packed by the writer (writeFirst), off the loop.
  pending_.push_back(flatWindowRow(host, window, frame));
}

std::uint64_t TelemetryStore::submit() {
  std::vector<std::vector<WindowRow>> written;  // freed on return, outside the lock
  const bool handOver = !pending_.empty();
  if (handOver) {
    lastBatchSize_ = pending_.size();
    ++submitted_;
    backlog_ += pending_.size();
  }
  {
    std::lock_guard lock(mutex_);
    written.swap(written_);
    if (handOver) {
      // While the writer is behind, the windows join the last batch that is still waiting (and
      // it takes the newer number): one transaction, one sync, for what piled up meanwhile.
      bool waiting = queue_.size() > (writing_ ? 1u : 0u);
      if (waiting && queue_.back().windows.size() + pending_.size() <= kMaxBatch) {
        Batch& last = queue_.back();
        last.number = submitted_;
        last.windows.insert(last.windows.end(), std::make_move_iterator(pending_.begin()),
                            std::make_move_iterator(pending_.end()));
      } else {
        queue_.push_back(Batch{submitted_, std::move(pending_)});
      }
    }
  }
  if (handOver) {
    pending_.clear();
    pending_.reserve(lastBatchSize_);  // grown once, not by doubling as the next batch fills
    wake_.notify_one();
  }
  if (!ingest_) {
    while (writeFirst(*store_)) {
    }
  }
  return submitted_;
}

bool TelemetryStore::writeFirst(Store& writer) {
  Batch* first = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return false;
    // Only this writer removes batches; the loop only appends to the queue or to a batch behind
    // this one, which leaves the first in place.
    first = &queue_.front();
    writing_ = true;
  }
  auto start = std::chrono::steady_clock::now();
  // Packed here, on the writer's thread, into the rows' own buffers (a batch written again after
  // a failure is packed already).
  for (auto& row : first->windows) packWindowRow(row, packScratch_);
  Status status = writer.appendWindows(first->windows);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t count = first->windows.size();
  std::uint64_t number = first->number;
  {
    std::lock_guard lock(mutex_);
    writing_ = false;
    if (!status) {
      lastError_ = status.error().message;
      return false;
    }
    lastError_.clear();
    timings_.push_back(Timing{"append_windows", seconds});
    // The rows go back to the loop to be freed: it allocated them, and glibc frees a block
    // into the arena of the thread that allocated it, under that arena's lock, which the loop
    // holds whenever it allocates (one row is five blocks).
    written_.push_back(std::move(queue_.front().windows));
    queue_.pop_front();
  }
  stored_ += count;
  backlog_ -= count;
  committed_.store(number);
  committedCv_.notify_all();
  return true;
}

void TelemetryStore::run() {
  ::pthread_setname_np(::pthread_self(), "ingest");  // for top -H and perf
  std::uint64_t failures = 0;
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty() || pruneBefore_ != 0; });
    if (stop_) return;
    if (pruneBefore_ != 0) {
      std::uint64_t before = std::exchange(pruneBefore_, 0);
      lock.unlock();
      runPrune(*ingest_, before);
      lock.lock();
      continue;
    }
    lock.unlock();
    bool written = writeFirst(*ingest_);
    lock.lock();
    if (written) {
      if (failures > 0) {
        logger_->info("telemetry stored again after {} failed writes", failures);
        failures = 0;
      }
      continue;
    }
    if (queue_.empty()) continue;
    // Logged at the first failure and then once a minute while the database stays out of reach.
    if (failures++ % 60 == 0) {
      logger_->error("cannot store telemetry ({} windows waiting, written again every second): {}",
                     backlog_.load(), lastError_);
    }
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
  }
}

void TelemetryStore::prune(std::uint64_t beforeMillis) {
  if (!ingest_) {
    runPrune(*store_, beforeMillis);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    pruneBefore_ = beforeMillis;
  }
  wake_.notify_one();
}

void TelemetryStore::runPrune(Store& writer, std::uint64_t beforeMillis) {
  auto start = std::chrono::steady_clock::now();
  auto deleted = writer.pruneWindows(beforeMillis);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard lock(mutex_);
  pruned_.emplace(std::move(deleted));
  timings_.push_back(Timing{"prune_windows", seconds});
}

std::optional<Result<std::uint64_t>> TelemetryStore::takePruned() {
  std::lock_guard lock(mutex_);
  std::optional<Result<std::uint64_t>> out;
  out.swap(pruned_);
  return out;
}

Status TelemetryStore::flush(std::uint64_t timeoutMillis) {
  std::uint64_t newest = submit();
  std::unique_lock lock(mutex_);
  if (ingest_) {
    committedCv_.wait_for(lock, std::chrono::milliseconds(timeoutMillis),
                          [&] { return committed_.load() >= newest; });
  }
  if (committed_.load() >= newest) return {};
  if (!lastError_.empty()) return makeError(lastError_);
  return makeError(std::to_string(backlog_.load()) + " telemetry windows still being written after " +
                   std::to_string(timeoutMillis) + " ms");
}

std::vector<TelemetryStore::Timing> TelemetryStore::takeTimings() {
  std::lock_guard lock(mutex_);
  std::vector<Timing> out;
  out.swap(timings_);
  return out;
}

}  // namespace rollgate::coordinator
