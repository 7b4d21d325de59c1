// FaultInjectingEnv: a sys::Env for unit tests. Files go to the real file system (through a
// PosixEnv) unless a fault is armed; time is a FakeClock, so sleeping through this Env returns at
// once and moves its time forward. Faults:
//   failNth(op, n, err)   the n-th call of `op` from now fails with errno `err` (ENOSPC, EIO...)
//                         and changes nothing on disk; later calls work again.
//   failAlways(op, err)   every call of `op` fails until clearFaults().
//   crashAt(op, n)        a crash point: the n-th call of `op` from now, and every call that
//                         changes the disk after it, fail without touching the disk. What is on
//                         disk then is what a power cut just before that call would have left
//                         (up to data that was written but never synced, which a real crash may
//                         also lose; this double keeps it).
// count(op) says how often each operation was called (e.g. "one fsync of the file and one of the
// directory").
// Thread-safety: thread-safe (one mutex), as a shared Env must be.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/sys/env.h"

namespace rollgate::sys {

enum class FileOp { kCreate, kWrite, kSync, kClose, kRename, kRemove, kCreateDir, kSyncDir };
const char* fileOpName(FileOp op);

class FaultInjectingEnv final : public Env {
 public:
  explicit FaultInjectingEnv(std::uint64_t startMillis = 1'700'000'000'000);

  void failNth(FileOp op, int n, int err);
  void failAlways(FileOp op, int err);
  void crashAt(FileOp op, int n);
  void clearFaults();
  bool crashed() const;
  int count(FileOp op) const;
  FakeClock& clock() { return clock_; }

  std::uint64_t nowMillis() const override { return clock_.nowMillis(); }
  std::uint64_t steadyMillis() const override { return clock_.steadyMillis(); }
  void sleepMillis(std::uint64_t millis) const override { clock_.sleepMillis(millis); }

  Result<std::unique_ptr<WritableFile>> newWritableFile(const std::string& path,
                                                        mode_t mode) override;
  Result<std::optional<std::string>> readFileIfExists(const std::string& path) override;
  Status renameFile(const std::string& from, const std::string& to) override;
  Status removeFile(const std::string& path) override;
  Status createDir(const std::string& path, mode_t mode) override;
  Status syncDir(const std::string& dir) override;

  // Counts `op` and returns the errno of the fault it hits, 0 when it may run. For the files
  // this Env hands out; not for tests.
  int admit(FileOp op);

 private:
  static constexpr std::size_t kOps = 8;
  struct Fault {
    int nth = 0;  // fail the call with this ordinal (absolute), 0 = none
    int nthErrno = 0;
    int alwaysErrno = 0;  // 0 = none
    int crashNth = 0;     // crash at the call with this ordinal (absolute), 0 = none
  };

  mutable std::mutex mutex_;
  std::array<int, kOps> calls_{};
  std::array<Fault, kOps> faults_{};
  bool crashed_ = false;
  FakeClock clock_;
  PosixEnv target_;
};

}  // namespace rollgate::sys
