// Where artifacts come from. An ArtifactSource copies one artifact into a staging file, resuming
// from the staging file's current size, and reports bytes as they arrive. FileSource handles
// file:// URLs; HttpSource handles http:// and https:// (libcurl, loaded at the first fetch
// (curl_library.h); Range requests for resume).
// The coordinator's chunk source (over the agent socket) implements the same interface.
//
// The staging file is not fsynced: it is verified (SHA-256) after every fetch, and a partial file
// that a power loss corrupted fails that check and is deleted; SIGKILL loses nothing.
//
// Thread-safety: a source object is used by one thread at a time (the installer's worker); the
// cancel flag may be set from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::install {

// (bytesDone, bytesTotal); bytesTotal is 0 when unknown.
using ProgressFn = std::function<void(uint64_t bytesDone, uint64_t bytesTotal)>;

struct FetchRequest {
  std::string url;
  std::string sha256;              // hex, as announced by the coordinator (sources may use it)
  uint64_t expectedBytes = 0;      // 0 = unknown
  std::string stagingPath;         // appended to from its current size; created if missing
};

class ArtifactSource {
 public:
  virtual ~ArtifactSource() = default;
  virtual bool handles(std::string_view url) const = 0;
  // Completes the staging file. Fails with a message naming the URL or the staging path (a full
  // disk says "<stagingPath>: write: No space left on device"). Returns promptly with an error
  // "cancelled" when `cancel` becomes true. Never leaves more than expectedBytes in the file.
  virtual Status fetch(const FetchRequest& request, const ProgressFn& progress,
                       const std::atomic<bool>& cancel) = 0;
};

class FileSource final : public ArtifactSource {
 public:
  bool handles(std::string_view url) const override;
  Status fetch(const FetchRequest& request, const ProgressFn& progress,
               const std::atomic<bool>& cancel) override;
};

struct HttpSourceOptions {
  long connectTimeoutSeconds = 10;
  long lowSpeedBytesPerSecond = 1024;  // abort when slower than this ...
  long lowSpeedSeconds = 30;           // ... for this long
  bool verifyPeer = true;
  std::string caFile;                  // empty = system default
};

class HttpSource final : public ArtifactSource {
 public:
  explicit HttpSource(HttpSourceOptions options = {}) : options_(std::move(options)) {}
  bool handles(std::string_view url) const override;
  Status fetch(const FetchRequest& request, const ProgressFn& progress,
               const std::atomic<bool>& cancel) override;

 private:
  HttpSourceOptions options_;
};

}  // namespace rollgate::install
