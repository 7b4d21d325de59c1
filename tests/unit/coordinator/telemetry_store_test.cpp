// TelemetryStore's ingest thread: batches are written in order on the ingest connection, batches
// that wait behind a write are joined, committed() moves only once a write succeeded, a failed
// write is written again, and full() turns windows away while too many wait. Windows are stored
// packed (by the writer, once) and read back packed or flat.
#include "coordinator/telemetry_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/codec.h"
#include "common/logging.h"
#include "coordinator/store/record_codec.h"
#include "tests/unit/coordinator/fake_store.h"

using namespace rollgate;
using namespace rollgate::coordinator;
using rollgate::coordinator::testing::FakeStore;

namespace {

// The ingest connection: every append waits while the gate is shut, and fails while `fail` is set.
class GatedStore : public FakeStore {
 public:
  Status appendWindows(const std::vector<WindowRow>& rows) override {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    if (fail.load()) return makeError("appendWindows: disk full (injected)");
    sizes.push_back(rows.size());
    lock.unlock();
    return FakeStore::appendWindows(rows);
  }
  void shut() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `count` appends have begun.
  bool waitEntered(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= count; });
  }

  std::atomic<bool> fail{false};
  std::vector<std::size_t> sizes;  // read once the writes are over (after flush)

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int entered_ = 0;
};

TelemetryWindow window(std::uint64_t end) {
  TelemetryWindow w;
  w.service = "web";
  w.release = "1.0.0";
  w.startMillis = end - 1000;
  w.endMillis = end;
  w.requests = 10;
  return w;
}

struct Ingest {
  FakeStore store;
  GatedStore* ingest = nullptr;
  std::unique_ptr<TelemetryStore> telemetry;
  Ingest() {
    auto owned = std::make_unique<GatedStore>();
    ingest = owned.get();
    telemetry = std::make_unique<TelemetryStore>(store, std::move(owned),
                                                 makeLogger("telemetry-test", "off"));
  }
};

}  // namespace

TEST_CASE("the ingest thread writes batches in order; batches waiting behind a write are joined") {
  Ingest t;
  t.ingest->shut();
  t.telemetry->add("h1", window(1000));
  t.telemetry->add("h1", window(2000));
  CHECK(t.telemetry->submit() == 1);
  REQUIRE(t.ingest->waitEntered(1));  // batch 1 is being written (and held there)
  CHECK(t.telemetry->committed() == 0);
  for (std::uint64_t end : {3000, 4000, 5000}) t.telemetry->add("h2", window(end));
  CHECK(t.telemetry->submit() == 2);
  t.telemetry->add("h2", window(6000));
  CHECK(t.telemetry->submit() == 3);  // joins batch 2, which still waits
  CHECK(t.telemetry->backlog() == 6);
  CHECK(t.telemetry->committed() == 0);
  t.ingest->open();
  REQUIRE(t.telemetry->flush(10'000).ok());
  CHECK(t.telemetry->committed() == 3);
  CHECK(t.telemetry->stored() == 6);
  CHECK(t.telemetry->backlog() == 0);
  CHECK(t.ingest->sizes == std::vector<std::size_t>{2, 4});
  REQUIRE(t.ingest->windows.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(t.ingest->windows[i].window.endMillis == (i + 1) * 1000);
  }
  CHECK(t.telemetry->takeTimings().size() == 2);
  CHECK(t.store.windows.empty());  // nothing went through the loop's own connection
}

TEST_CASE("a failed write commits nothing and is written again until it succeeds") {
  Ingest t;
  t.ingest->fail = true;
  t.telemetry->add("h1", window(1000));
  t.telemetry->add("h1", window(2000));
  auto flushed = t.telemetry->flush(300);
  REQUIRE_FALSE(flushed.ok());
  CHECK(flushed.error().message.find("disk full (injected)") != std::string::npos);
  CHECK(t.telemetry->committed() == 0);
  CHECK(t.telemetry->backlog() == 2);
  t.ingest->fail = false;  // the next try, a second later, succeeds
  REQUIRE(t.telemetry->flush(10'000).ok());
  CHECK(t.telemetry->committed() == 1);
  CHECK(t.ingest->windows.size() == 2);
}

TEST_CASE("while kMaxQueued windows wait, full() says so until they are written") {
  Ingest t;
  t.ingest->shut();
  const std::string frame = encodeWindow(window(1000));  // as its agent sent it
  for (std::size_t i = 0; i + 1 < TelemetryStore::kMaxQueued; ++i) {
    t.telemetry->add("h1", window(1000), frame);
  }
  CHECK_FALSE(t.telemetry->full());
  t.telemetry->submit();
  t.telemetry->add("h1", window(1000), frame);
  CHECK(t.telemetry->full());
  t.ingest->open();
  REQUIRE(t.telemetry->flush(60'000).ok());
  CHECK_FALSE(t.telemetry->full());
  CHECK(t.telemetry->stored() == TelemetryStore::kMaxQueued);
}

TEST_CASE("without an ingest connection, submit() writes on the caller's thread") {
  FakeStore store;
  TelemetryStore telemetry(store);
  telemetry.add("h1", window(1000));
  store.failing = {"appendWindows"};
  CHECK(telemetry.submit() == 1);
  CHECK(telemetry.committed() == 0);
  CHECK_FALSE(telemetry.flush().ok());
  store.failing.clear();
  CHECK(telemetry.submit() == 1);  // written now
  CHECK(telemetry.committed() == 1);
  CHECK(store.windows.size() == 1);
}

TEST_CASE("windows are stored packed, and a flat frame stored before packing still reads back") {
  TelemetryWindow w = window(5000);
  w.statusCodes = {{200, 9}, {503, 1}};
  w.status2xx = 9;
  w.status5xx = 1;
  const std::string frame = encodeWindow(w);  // as its agent sent it
  WindowRow row = windowRow("h1", w, frame);
  const Bytes stored = bytesOf(row.encoded);
  CHECK(isPackedFrame(stored));
  CHECK(row.encoded.size() < frame.size());
  auto unpacked = unpackFrame(stored, kMaxAgentMessageBytes);
  REQUIRE(unpacked);
  CHECK(*unpacked == frame);  // the frame as it came, packed
  CHECK(windowRow("h1", w).encoded == row.encoded);  // encoded when no frame came: the same

  auto packed = decodeWindow(row.encoded);
  REQUIRE(packed);
  CHECK(*packed == w);
  auto flat = decodeWindow(frame);  // a row written before windows were packed
  REQUIRE(flat);
  CHECK(*flat == w);

  std::string broken = row.encoded.substr(0, row.encoded.size() - 2);
  auto refused = decodeWindow(broken);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("stored telemetry window: packed frame") != std::string::npos);
}

// The rows as the store was handed them (every attempt, failed ones too).
class RowsSeen : public FakeStore {
 public:
  Status appendWindows(const std::vector<WindowRow>& rows) override {
    for (const auto& row : rows) seen.push_back(row.encoded);
    return FakeStore::appendWindows(rows);
  }
  std::vector<std::string> seen;
};

TEST_CASE("the writer packs the frames the loop queued flat, once, also for a batch written again") {
  RowsSeen store;
  TelemetryStore telemetry(store);
  TelemetryWindow w = window(7000);
  const std::string frame = encodeWindow(w);
  telemetry.add("h1", w, frame);  // a one-window report's frame, as it came
  telemetry.add("h1", window(8000));  // encoded here
  store.failing = {"appendWindows"};
  telemetry.submit();
  store.failing.clear();
  CHECK(telemetry.submit() == 1);  // the same batch, written again
  REQUIRE(store.seen.size() == 4);
  for (const auto& encoded : store.seen) CHECK(isPackedFrame(bytesOf(encoded)));
  CHECK(store.seen[2] == windowRow("h1", w, frame).encoded);  // packed once: no second header
  CHECK(store.seen[0] == store.seen[2]);
  REQUIRE(store.windows.size() == 2);
  CHECK(store.windows.front().window.endMillis == 7000);
}

TEST_CASE("retention runs on the ingest connection, and its outcome or error comes back") {
  Ingest t;
  for (std::uint64_t end : {1000, 2000, 3000}) t.telemetry->add("h1", window(end));
  REQUIRE(t.telemetry->flush(10'000).ok());
  CHECK_FALSE(t.telemetry->takePruned().has_value());  // none asked for yet
  auto waitPruned = [&] {
    for (int i = 0; i < 1000; ++i) {
      if (auto pruned = t.telemetry->takePruned()) return pruned;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::optional<Result<std::uint64_t>>();
  };
  t.telemetry->prune(2500);
  auto pruned = waitPruned();
  REQUIRE(pruned.has_value());
  REQUIRE(pruned->ok());
  CHECK(**pruned == 2);
  REQUIRE(t.ingest->windows.size() == 1);  // deleted on the ingest connection
  CHECK(t.ingest->windows[0].window.endMillis == 3000);
  CHECK(t.store.windows.empty());

  t.ingest->failing = {"pruneWindows"};
  t.telemetry->prune(5000);
  pruned = waitPruned();
  REQUIRE(pruned.has_value());
  REQUIRE_FALSE(pruned->ok());
  CHECK(pruned->error().message.find("pruneWindows") != std::string::npos);
  CHECK(t.ingest->windows.size() == 1);
}
