// Safe unpacking of a release archive (tar, tar.gz, tar.zst; format detected from content) with
// libarchive, into `<releasesDir>/.tmp-<version>-<random>/`, renamed to `<releasesDir>/<version>/`
// only when every entry was written and checked. On any failure the temporary directory is
// removed and nothing else has been touched.
//
// Refused (the error names the entry and the reason): absolute paths, `..` components, symlinks
// with absolute targets or targets that leave the release directory (also through another
// symlink), hardlinks to anything but a regular file of the same archive, writing through a
// symlink, a directory replaced by a non-directory, device nodes, fifos, sockets, setuid and
// setgid bits, more than `maxEntries` entries or more than `maxTotalBytes` of file data.
// libarchive's ARCHIVE_EXTRACT_SECURE_NODOTDOT | SECURE_SYMLINKS | SECURE_NOABSOLUTEPATHS are set
// as a second line of defence. Ownership is not restored (files belong to the agent's user), and
// the world-writable bit is dropped. Before the rename the filesystem is synced (syncfs), so a
// release under its final name survives a power loss too.
//
// libarchive writes relative to the current directory, so the extraction runs on a short-lived
// thread that unshares its filesystem attributes (unshare(CLONE_FS)) and chdirs into the
// temporary directory; the calling process's working directory never changes.
// Thread-safety: unpackRelease may be called from any thread; calls for the same releasesDir and
// version must not overlap.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace rollgate::install {

struct UnpackLimits {
  uint64_t maxEntries = 200'000;
  uint64_t maxTotalBytes = 8ull << 30;  // sum of regular file sizes
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t fileBytes = 0;
};

// Requires: validateVersion(version) succeeded; releasesDir exists.
// Fails if `<releasesDir>/<version>` already exists.
Result<UnpackStats> unpackRelease(const std::string& archivePath, const std::string& releasesDir,
                                  const std::string& version, const UnpackLimits& limits,
                                  const std::atomic<bool>& cancel);

// Removes leftover `.tmp-*` directories (from a crash during unpack). Returns how many.
int removeUnpackLeftovers(const std::string& releasesDir);

}  // namespace rollgate::install
