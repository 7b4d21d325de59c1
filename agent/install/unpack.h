// Safe unpacking of a release archive (tar, tar.gz, tar.zst; format detected from content) with
// libarchive, into `<releasesDir>/.tmp-<version>-<random>/`, renamed to `<releasesDir>/<version>/`
// only when every entry was written and checked. On any failure the temporary directory is
// removed and nothing else has been touched.
//
// Refused (the error names the entry and the reason): absolute paths, `..` components, symlinks
// with absolute targets or targets that leave the release directory (also through another
// symlink), hardlinks to anything but a regular file of the same archive, writing through a
// symlink, a directory replaced by a non-directory, device nodes, fifos, sockets, setuid and
// setgid bits, and anything over the bounds of UnpackLimits (below), and an archive without a
// single regular file (it would activate an empty release).
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

// Bounds on what one archive may unpack to, configurable per service in agent.toml (the names in
// brackets; docs/setup.md). They are checked while unpacking, before anything over a bound is
// written: an entry whose declared size would cross the size bound is refused before its first
// byte, and file data is counted block by block as it is written, so the release directory never
// holds more than the bound, whatever the archive's headers claim. Errors name the archive, the
// entry, the bound (by its agent.toml key) and the value that crossed it.
struct UnpackLimits {
  // [max_unpacked_bytes] file data written, all files together.
  uint64_t maxUnpackedBytes = 4ull << 30;
  // [max_unpack_ratio] file data written per byte of the archive as stored (compressed): a 1 MB
  // archive may unpack to at most ratio MB. 0: no ratio bound.
  uint64_t maxUnpackRatio = 100;
  // [max_entries] entries of any kind (files, directories, links).
  uint64_t maxEntries = 200'000;
  // [max_path_bytes] one entry's path inside the release (and a link's target).
  uint64_t maxPathBytes = 1024;
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t files = 0;          // regular files (hardlinks included)
  uint64_t fileBytes = 0;      // file data written
  uint64_t archiveBytes = 0;   // the archive's size as stored
};

// Requires: validateVersion(version) succeeded; releasesDir exists.
// Fails if `<releasesDir>/<version>` already exists.
Result<UnpackStats> unpackRelease(const std::string& archivePath, const std::string& releasesDir,
                                  const std::string& version, const UnpackLimits& limits,
                                  const std::atomic<bool>& cancel);

// Removes leftover `.tmp-*` directories (from a crash during unpack). Returns how many.
int removeUnpackLeftovers(const std::string& releasesDir);

}  // namespace rollgate::install
