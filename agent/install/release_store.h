// ReleaseStore: one service's install root on disk.
//   <root>/releases/<version>/   complete, unpacked releases (install time = the dir's mtime,
//                                set when the release is installed)
//   <root>/current               symlink "releases/<version>" to the active release, switched
//                                atomically: symlink to current.tmp, rename over current, fsync
//                                <root>
// Directories named releases/.tmp-* are in-progress unpacks or deletions and never releases.
// Thread-safety: not thread-safe; one installer per install root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::install {

struct ReleaseInfo {
  std::string version;
  int64_t installedNanos = 0;  // wall clock, from the directory's mtime
};

class ReleaseStore {
 public:
  explicit ReleaseStore(std::string root);

  // Creates <root> and <root>/releases when missing; removes a stale current.tmp.
  Status prepare();

  const std::string& root() const { return root_; }
  std::string releasesDir() const { return root_ + "/releases"; }
  std::string releaseDir(const std::string& version) const;
  std::string currentLink() const { return root_ + "/current"; }

  // The version `current` points at, if it points at an existing release.
  std::optional<std::string> activeRelease() const;
  bool hasRelease(const std::string& version) const;
  // Newest first by install time (ties: newer version first).
  std::vector<ReleaseInfo> listReleases() const;
  // The newest release installed before the active one (by install time), if any.
  std::optional<std::string> previousRelease() const;

  // Records "now" as the install time of a release.
  Status markInstalled(const std::string& version);
  // Atomically points `current` at releases/<version>. Requires: hasRelease(version).
  Status activate(const std::string& version);
  // Removes releases beyond the newest `keep`, never one in `protect` nor the active one.
  // Returns the versions removed.
  Result<std::vector<std::string>> prune(size_t keep, const std::vector<std::string>& protect);
  // Removes one release (renamed to .tmp-delete-* first, so a crash never leaves a partial
  // release under a valid name). Refuses the active release.
  Status removeRelease(const std::string& version);

 private:
  std::string root_;
};

}  // namespace rollgate::install
