#include "coordinator/artifact_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/codec.h"
#include "common/version.h"
#include "common/sha256.h"
#include "common/sys/env.h"
#include "common/sys/private_files.h"
#include "common/sys/error.h"

namespace rollgate::coordinator {
namespace {

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  // Closes now and reports close()'s error (it can carry a deferred write error).
  int close() {
    int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string errnoText(int err) { return sys::errnoMessage(err); }

std::string describe(const std::string& service, const std::string& version,
                     std::uint64_t sizeBytes, const std::string& sha256) {
  return service + " " + version + " (" + std::to_string(sizeBytes) + " bytes, sha256 " + sha256 +
         ")";
}

Status writeAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError(errnoText(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

struct ArtifactStore::Upload {
  std::string sha256;
  std::string service;
  std::string version;
  std::uint64_t totalBytes = 0;
  std::uint64_t bytes = 0;
  std::string signature;
  std::string path;
  UniqueFd fd;
  Sha256 hash;
  std::uint64_t lastPieceMillis = 0;
};

ArtifactStore::ArtifactStore(Store& store, std::string artifactsDir)
    : store_(store), artifactsDir_(std::move(artifactsDir)) {}

ArtifactStore::~ArtifactStore() {
  while (!uploads_.empty()) dropUpload(uploads_.begin()->first);
  for (auto& cached : fdCache_) ::close(cached.fd);
}

Result<std::unique_ptr<ArtifactStore>> ArtifactStore::open(Store& store,
                                                           const std::string& stateDir) {
  std::string dir = stateDir + "/artifacts";
  if (auto status = sys::createPrivateDir(dir); !status) {
    return makeError("artifact directory: " + status.error().message);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(dir.c_str()), &::closedir);
  if (!listing) return makeError("artifact directory " + dir + ": " + errnoText(errno));
  while (const dirent* entry = ::readdir(listing.get())) {
    std::string name = entry->d_name;
    if (name.rfind(".upload-", 0) != 0) continue;
    std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return makeError("leftover upload " + path + ": unlink: " + errnoText(errno));
    }
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(store, dir));
}

std::string ArtifactStore::blobPath(const std::string& sha256) const {
  return artifactsDir_ + "/" + sha256;
}

std::string ArtifactStore::uploadPath(const std::string& sha256) const {
  return artifactsDir_ + "/.upload-" + sha256;
}

void ArtifactStore::dropUpload(const std::string& sha256) {
  auto it = uploads_.find(sha256);
  if (it == uploads_.end()) return;
  it->second->fd.reset();
  ::unlink(it->second->path.c_str());
  uploads_.erase(it);
}

void ArtifactStore::expireIdleUploads(std::uint64_t nowMillis) {
  std::vector<std::string> idle;
  for (const auto& [sha, upload] : uploads_) {
    if (nowMillis > upload->lastPieceMillis &&
        nowMillis - upload->lastPieceMillis > kUploadIdleMillis) {
      idle.push_back(sha);
    }
  }
  for (const auto& sha : idle) dropUpload(sha);
}

Result<std::string> ArtifactStore::receive(const PushArtifact& piece,
                                           const std::string& operatorName,
                                           std::uint64_t nowMillis) {
  // The codec validates these too; the store does not rely on it (the digest becomes a path).
  if (!isValidSha256(piece.sha256)) {
    return makeError("artifact push: sha256 '" + piece.sha256.substr(0, 80) +
                     "' is not 64 lower-case hex digits");
  }
  if (!isValidName(piece.service)) {
    return makeError("artifact push: invalid service name '" + piece.service.substr(0, 80) + "'");
  }
  if (auto valid = validateVersion(piece.version); !valid) {
    return makeError("artifact push: " + valid.error().message);
  }
  const std::string what = "artifact " + piece.service + " " + piece.version;
  if (piece.totalBytes > kMaxArtifactBytes) {
    return makeError(what + ": " + std::to_string(piece.totalBytes) + " bytes exceeds the limit of " +
                     std::to_string(kMaxArtifactBytes));
  }
  expireIdleUploads(nowMillis);

  if (piece.offset == 0) {
    if (auto existing = find(piece.service, piece.version);
        existing && existing->sha256 != piece.sha256) {
      return makeError(what + " is already stored with sha256 " + existing->sha256 +
                       "; refusing different content with sha256 " + piece.sha256 +
                       " (push it under a new version)");
    }
    dropUpload(piece.sha256);  // offset 0 restarts an upload of the same content
    if (uploads_.size() >= kMaxUploads) {
      return makeError(what + ": " + std::to_string(uploads_.size()) +
                       " uploads already in progress (the limit); try again when one finishes");
    }
    auto upload = std::make_unique<Upload>();
    upload->sha256 = piece.sha256;
    upload->service = piece.service;
    upload->version = piece.version;
    upload->totalBytes = piece.totalBytes;
    upload->path = uploadPath(piece.sha256);
    upload->fd = UniqueFd(
        ::open(upload->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (upload->fd.get() < 0) {
      return makeError(what + ": cannot create " + upload->path + ": " + errnoText(errno));
    }
    // Reserve the space up front, so a full disk fails the first piece, not the last.
    if (piece.totalBytes > 0) {
      int rc = ::posix_fallocate(upload->fd.get(), 0, static_cast<off_t>(piece.totalBytes));
      if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        upload->fd.reset();
        ::unlink(upload->path.c_str());
        return makeError(what + ": cannot reserve " + std::to_string(piece.totalBytes) +
                         " bytes for " + upload->path + ": " + errnoText(rc));
      }
    }
    upload->lastPieceMillis = nowMillis;
    uploads_.emplace(piece.sha256, std::move(upload));
  }

  auto it = uploads_.find(piece.sha256);
  if (it == uploads_.end()) {
    return makeError(what + ": no upload of sha256 " + piece.sha256 +
                     " in progress (expected offset 0, got " + std::to_string(piece.offset) + ")");
  }
  Upload& upload = *it->second;
  if (upload.service != piece.service || upload.version != piece.version ||
      upload.totalBytes != piece.totalBytes) {
    return makeError(what + " (" + std::to_string(piece.totalBytes) +
                     " bytes): does not match the upload of sha256 " + piece.sha256 +
                     " in progress (" + upload.service + " " + upload.version + ", " +
                     std::to_string(upload.totalBytes) + " bytes)");
  }
  if (piece.offset != upload.bytes) {
    return makeError(what + ": pieces out of order: expected offset " +
                     std::to_string(upload.bytes) + ", got " + std::to_string(piece.offset));
  }
  if (piece.data.size() > upload.totalBytes - upload.bytes) {
    std::string message = what + ": piece at offset " + std::to_string(piece.offset) + " of " +
                          std::to_string(piece.data.size()) + " bytes runs past the announced " +
                          std::to_string(upload.totalBytes) + " bytes; upload discarded";
    dropUpload(piece.sha256);
    return makeError(message);
  }
  if (auto status = writeAll(upload.fd.get(), piece.data.data(), piece.data.size()); !status) {
    std::string message = what + ": cannot write " + upload.path + " at offset " +
                          std::to_string(upload.bytes) + ": " + status.error().message +
                          "; upload discarded";
    dropUpload(piece.sha256);
    return makeError(message);
  }
  upload.hash.update(piece.data);
  upload.bytes += piece.data.size();
  upload.lastPieceMillis = nowMillis;
  if (!piece.signature.empty()) upload.signature = piece.signature;
  if (!piece.final) {
    return "received " + std::to_string(upload.bytes) + " of " +
           std::to_string(upload.totalBytes) + " bytes";
  }
  auto result = finish(upload, operatorName, nowMillis);
  dropUpload(piece.sha256);  // the temporary file is gone after success; removed after failure
  return result;
}

Result<std::string> ArtifactStore::finish(Upload& upload, const std::string& operatorName,
                                          std::uint64_t nowMillis) {
  const std::string what = "artifact " + upload.service + " " + upload.version;
  if (upload.bytes != upload.totalBytes) {
    return makeError(what + ": final piece ends at " + std::to_string(upload.bytes) +
                     " bytes, but " + std::to_string(upload.totalBytes) +
                     " were announced; upload discarded");
  }
  const std::string hex = toHex(upload.hash.finish());
  if (upload.sha256 != hex) {
    return makeError(what + ": SHA-256 mismatch: announced " + upload.sha256 +
                     ", received content has " + hex + "; upload discarded");
  }
  if (::fsync(upload.fd.get()) != 0 || upload.fd.close() != 0) {
    return makeError(what + ": cannot write " + upload.path + ": " + errnoText(errno) +
                     "; upload discarded");
  }

  // The same content under another version is stored once.
  std::string blob = blobPath(upload.sha256);
  struct stat st;
  bool haveBlob = ::stat(blob.c_str(), &st) == 0 &&
                  static_cast<std::uint64_t>(st.st_size) == upload.totalBytes;
  if (!haveBlob) {
    fdCache_.remove_if([&](const CachedFd& cached) {
      if (cached.sha256 != upload.sha256) return false;
      ::close(cached.fd);  // a damaged copy being replaced
      return true;
    });
    if (::rename(upload.path.c_str(), blob.c_str()) != 0) {
      return makeError(what + ": cannot rename " + upload.path + " to " + blob + ": " +
                       errnoText(errno) + "; upload discarded");
    }
    if (auto status = sys::fsyncDirectory(artifactsDir_); !status) {
      return makeError(what + ": " + status.error().message);
    }
  }

  // A store shared by several coordinators keeps the bytes too (nothing when it is SQLite).
  if (auto status = store_.saveArtifactContent(upload.sha256, blob); !status) {
    return makeError(what + ": cannot keep its bytes in the store: " + status.error().message);
  }

  auto stored = store_.findArtifact(upload.service, upload.version);
  if (!stored) return makeError(what + ": " + stored.error().message);
  if (const auto& existing = *stored) {
    if (existing->sha256 != upload.sha256) {
      return makeError(what + " is already stored with sha256 " + existing->sha256 +
                       "; refusing different content with sha256 " + upload.sha256 +
                       " (push it under a new version)");
    }
    std::string note;
    if (!upload.signature.empty() && upload.signature != existing->signature) {
      if (auto status =
              store_.setArtifactSignature(upload.service, upload.version, upload.signature);
          !status) {
        return makeError(what + ": cannot record the signature: " + status.error().message);
      }
      note = existing->signature.empty() ? "; signature added" : "; signature replaced";
    }
    return "already stored " +
           describe(upload.service, upload.version, upload.totalBytes, upload.sha256) + note;
  }

  auto sameContent = findBySha(upload.sha256);
  ArtifactInfo info{upload.service,   upload.version, upload.sha256, upload.totalBytes,
                    upload.signature, nowMillis, operatorName};
  if (auto status = store_.addArtifact(info); !status) {
    return makeError(what + ": cannot record it: " + status.error().message);
  }
  std::string message =
      "stored " + describe(upload.service, upload.version, upload.totalBytes, upload.sha256);
  if (!upload.signature.empty()) message += ", signed";
  if (sameContent) {
    message += "; same content as " + sameContent->service + " " + sameContent->version +
               ", kept once";
  }
  return message;
}

std::optional<ArtifactInfo> ArtifactStore::find(const std::string& service,
                                                const std::string& version) {
  auto found = store_.findArtifact(service, version);
  return found ? *found : std::nullopt;
}

std::optional<ArtifactInfo> ArtifactStore::findBySha(const std::string& sha256) {
  auto found = store_.findArtifactBySha(sha256);
  return found ? *found : std::nullopt;
}

std::vector<ArtifactInfo> ArtifactStore::list(const std::string& service) {
  auto found = store_.listArtifacts(service);
  return found ? std::move(*found) : std::vector<ArtifactInfo>{};
}

Result<const ArtifactStore::CachedFd*> ArtifactStore::openCached(const std::string& sha256) {
  for (auto it = fdCache_.begin(); it != fdCache_.end(); ++it) {
    if (it->sha256 == sha256) {
      fdCache_.splice(fdCache_.begin(), fdCache_, it);
      return &fdCache_.front();
    }
  }
  if (!isValidSha256(sha256)) {
    return makeError("artifact sha256 '" + sha256.substr(0, 80) +
                     "' is not 64 lower-case hex digits");
  }
  std::string path = blobPath(sha256);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // Stored by another coordinator that led before this one: fetched once from the store.
    auto restored = store_.restoreArtifactContent(sha256, path);
    if (!restored) return makeError("artifact sha256 " + sha256 + ": " + restored.error().message);
    if (*restored) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && !*restored) return makeError("unknown artifact sha256 " + sha256);
  }
  if (fd < 0) {
    if (errno == ENOENT) return makeError("unknown artifact sha256 " + sha256);
    return makeError("artifact sha256 " + sha256 + ": open " + path + ": " + errnoText(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return makeError("artifact sha256 " + sha256 + ": stat " + path + ": " + errnoText(err));
  }
  fdCache_.push_front(CachedFd{sha256, fd, static_cast<std::uint64_t>(st.st_size)});
  while (fdCache_.size() > kFdCacheSize) {
    ::close(fdCache_.back().fd);
    fdCache_.pop_back();
  }
  return &fdCache_.front();
}

Result<std::uint64_t> ArtifactStore::sizeOf(const std::string& sha256) {
  auto cached = openCached(sha256);
  if (!cached) return cached.error();
  return (*cached)->sizeBytes;
}

Result<std::string> ArtifactStore::readChunk(const std::string& sha256, std::uint64_t offset,
                                             std::uint32_t length) {
  if (length == 0 || length > kArtifactChunkBytes) {
    return makeError("artifact sha256 " + sha256.substr(0, 80) + ": chunk length " +
                     std::to_string(length) + " outside 1-" + std::to_string(kArtifactChunkBytes));
  }
  auto cachedResult = openCached(sha256);
  if (!cachedResult) return cachedResult.error();
  const CachedFd& cached = **cachedResult;
  if (offset > cached.sizeBytes) {
    return makeError("artifact sha256 " + sha256 + ": offset " + std::to_string(offset) +
                     " is past its end (" + std::to_string(cached.sizeBytes) + " bytes)");
  }
  std::size_t want = static_cast<std::size_t>(
      std::min<std::uint64_t>(length, cached.sizeBytes - offset));
  std::string data(want, '\0');
  std::size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(cached.fd, data.data() + done, want - done,
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("artifact sha256 " + sha256 + ": read at offset " +
                       std::to_string(offset + done) + ": " + errnoText(errno));
    }
    if (n == 0) {
      return makeError("artifact sha256 " + sha256 + ": file " + blobPath(sha256) +
                       " ends at " + std::to_string(offset + done) + " bytes, expected " +
                       std::to_string(cached.sizeBytes));
    }
    done += static_cast<std::size_t>(n);
  }
  return data;
}

}  // namespace rollgate::coordinator
