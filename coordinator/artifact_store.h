// ArtifactStore: the coordinator's build artifacts, content-addressed by SHA-256.
//
// Bytes live in `<stateDir>/artifacts/<sha256hex>` (each distinct content once, whatever the number
// of service versions that name it); metadata (ArtifactInfo: service, version, sha256, size,
// signature, when and by whom) lives in the coordinator's Store, unique per (service, version). Operators upload with PushArtifact pieces (receive()); agents download
// with RequestChunk (readChunk()).
//
// Uploads: a piece at offset 0 starts (or restarts) the upload of one SHA-256 into the temporary
// file `<stateDir>/artifacts/.upload-<sha256>`; later pieces must arrive in order. The final piece
// checks size and digest, fsyncs, renames into place, fsyncs the directory, then records the
// metadata. A failed upload (bad digest, full disk, inconsistent pieces) removes its temporary file
// and records nothing. Uploads idle for more than kUploadIdleMillis are abandoned (checked on every
// receive()), and leftovers from a previous run are removed by open().
//
// Failure policy: a push whose metadata cannot be saved fails (the operator's reply says why; the
// bytes stay, content-addressed, and a re-push records them). find(), findBySha() and list() are
// reads: a store that cannot answer counts as "not found", so whatever needed the record (an
// install, a rollout) fails visibly with "no artifact ...".
//
// Thread-safety: none; one thread (the coordinator's loop) owns this and the Store.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/result.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator {

class ArtifactStore {
 public:
  // At most this many uploads in progress at once; further new uploads are refused.
  static constexpr std::size_t kMaxUploads = 8;
  static constexpr std::uint64_t kUploadIdleMillis = 10 * 60 * 1000;
  static constexpr std::uint64_t kMaxArtifactBytes = std::uint64_t{16} << 30;
  // Open file descriptors kept for readChunk().
  static constexpr std::size_t kFdCacheSize = 16;

  // Creates `<stateDir>/artifacts` and the table if needed and removes leftover uploads.
  // Requires: `store` outlives this.
  static Result<std::unique_ptr<ArtifactStore>> open(Store& store, const std::string& stateDir);
  ~ArtifactStore();
  ArtifactStore(const ArtifactStore&) = delete;
  ArtifactStore& operator=(const ArtifactStore&) = delete;

  // One piece of an upload (AdminRequest PushArtifact). Errors name what was wrong: an offset out
  // of order ("expected offset N, got M"), a digest or size mismatch, a full disk (naming the
  // path), a version already stored with another digest (naming both). Re-pushing a version with
  // the same digest succeeds ("already stored ..."; a new non-empty signature replaces the stored
  // one). Returns a human message for the reply: for a non-final piece "received N of M bytes",
  // for the final one "stored web 1.2.0 (52428800 bytes, sha256 ab12...)".
  Result<std::string> receive(const PushArtifact& piece, const std::string& operatorName,
                              std::uint64_t nowMillis);

  std::optional<ArtifactInfo> find(const std::string& service, const std::string& version);
  // Any one record with this content (the earliest pushed).
  std::optional<ArtifactInfo> findBySha(const std::string& sha256);

  // Reads [offset, offset + length) of a stored artifact, shortened at its end. Errors: an unknown
  // sha256 (named), an offset past the end, a length of 0 or more than kArtifactChunkBytes.
  Result<std::string> readChunk(const std::string& sha256, std::uint64_t offset,
                                std::uint32_t length);

  // Size of a stored artifact's content, or an error naming the sha256 when it is unknown.
  Result<std::uint64_t> sizeOf(const std::string& sha256);

  // Every version of `service` (every artifact when empty), newest push first.
  std::vector<ArtifactInfo> list(const std::string& service);

  std::size_t uploadsInProgress() const { return uploads_.size(); }

 private:
  struct Upload;
  struct CachedFd {
    std::string sha256;
    int fd = -1;
    std::uint64_t sizeBytes = 0;
  };

  ArtifactStore(Store& store, std::string artifactsDir);
  std::string blobPath(const std::string& sha256) const;
  std::string uploadPath(const std::string& sha256) const;
  void dropUpload(const std::string& sha256);
  void expireIdleUploads(std::uint64_t nowMillis);
  Result<std::string> finish(Upload& upload, const std::string& operatorName,
                             std::uint64_t nowMillis);
  Result<const CachedFd*> openCached(const std::string& sha256);

  Store& store_;
  std::string artifactsDir_;
  std::map<std::string, std::unique_ptr<Upload>> uploads_;  // by sha256
  std::list<CachedFd> fdCache_;                               // most recently used first
};

}  // namespace rollgate::coordinator
