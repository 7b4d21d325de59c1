// sys::Env: the system layer (after LevelDB's Env). Files, directories, durable writes, time and
// sleep behind one small interface, so that code which must survive crashes and full disks can
// be unit-tested against FaultInjectingEnv (fault_env.h) and code that waits never sleeps in a
// test. PosixEnv is the real thing: stateless, so the component that owns durable state builds
// one and passes it down as an Env& (there is no global default instance).
//
// Durability contract of writeFileAtomically: after it returns OK the new content is on disk
// under `path` (temp file in the same directory, fsync, rename over `path`, fsync of the
// directory). After a failure or a crash at any point, `path` holds either its old content or
// the new one, never a mix; a temp file may be left behind (it is removed on failures this
// process sees).
//
// Thread-safety: PosixEnv is stateless and thread-safe. A WritableFile belongs to one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace rollgate::sys {

// A file open for writing. Errors name the path and the operation ("PATH: write: No space ...").
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // closes without reporting; call close() to see errors
  virtual Status append(std::string_view data) = 0;
  virtual Status sync() = 0;  // fsync
  virtual Status close() = 0;
};

class Env : public Clock {
 public:
  // Creates `path` (or truncates it) with permission bits `mode`.
  virtual Result<std::unique_ptr<WritableFile>> newWritableFile(const std::string& path,
                                                                mode_t mode) = 0;
  // The whole content of a file; nullopt when it does not exist.
  virtual Result<std::optional<std::string>> readFileIfExists(const std::string& path) = 0;
  virtual Status renameFile(const std::string& from, const std::string& to) = 0;
  // Removing a file that does not exist succeeds.
  virtual Status removeFile(const std::string& path) = 0;
  // Creates one directory; an existing directory succeeds.
  virtual Status createDir(const std::string& path, mode_t mode) = 0;
  // fsync of a directory, after creating, renaming or removing entries in it.
  virtual Status syncDir(const std::string& dir) = 0;
};

class PosixEnv final : public Env {
 public:
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

 private:
  SystemClock clock_;
};

// The directory part of `path` ("." when there is none).
std::string parentDir(const std::string& path);

// fsync of a directory through the real file system: the one implementation (PosixEnv::syncDir
// calls it). For code that has no Env of its own (the coordinator's artifact store, unpack).
Status fsyncDirectory(const std::string& dir);

// Replaces `path` with `content` durably (see the contract above). The temp file is
// "<path>.tmp" and gets `mode`.
Status writeFileAtomically(Env& env, const std::string& path, std::string_view content,
                           mode_t mode = 0644);

}  // namespace rollgate::sys
