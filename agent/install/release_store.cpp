#include "agent/install/release_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "agent/install/version.h"
#include "common/sys/env.h"
#include "common/sys/error.h"

namespace rollgate::install {
namespace {

namespace fs = std::filesystem;

std::string errnoText(int err) { return sys::errnoMessage(err); }

Status mkdirIfMissing(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return makeError(dir + ": mkdir: " + errnoText(errno));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return makeError(dir + ": not a directory");
  }
  return {};
}

}  // namespace

ReleaseStore::ReleaseStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Status ReleaseStore::prepare() {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return makeError(root_ + ": create: " + ec.message());
  if (auto s = mkdirIfMissing(releasesDir()); !s) return s;
  std::string tmpLink = currentLink() + ".tmp";
  if (::unlink(tmpLink.c_str()) != 0 && errno != ENOENT) {
    return makeError(tmpLink + ": unlink: " + errnoText(errno));
  }
  return {};
}

std::string ReleaseStore::releaseDir(const std::string& version) const {
  return releasesDir() + "/" + version;
}

std::optional<std::string> ReleaseStore::activeRelease() const {
  char target[4096];
  ssize_t n = ::readlink(currentLink().c_str(), target, sizeof target - 1);
  if (n <= 0) return std::nullopt;
  std::string link(target, static_cast<size_t>(n));
  constexpr std::string_view kPrefix = "releases/";
  if (!link.starts_with(kPrefix)) return std::nullopt;
  std::string version = link.substr(kPrefix.size());
  if (!validateVersion(version) || !hasRelease(version)) return std::nullopt;
  return version;
}

bool ReleaseStore::hasRelease(const std::string& version) const {
  if (!validateVersion(version)) return false;
  struct stat st;
  return ::lstat(releaseDir(version).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<ReleaseInfo> ReleaseStore::listReleases() const {
  std::vector<ReleaseInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(releasesDir(), ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".") || !validateVersion(name)) continue;
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    out.push_back({name, static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                             st.st_mtim.tv_nsec});
  }
  std::sort(out.begin(), out.end(), [](const ReleaseInfo& a, const ReleaseInfo& b) {
    if (a.installedNanos != b.installedNanos) return a.installedNanos > b.installedNanos;
    return compareVersions(a.version, b.version) > 0;
  });
  return out;
}

std::optional<std::string> ReleaseStore::previousRelease() const {
  auto active = activeRelease();
  auto releases = listReleases();
  if (!active) return releases.empty() ? std::nullopt : std::optional(releases.front().version);
  bool seenActive = false;
  for (const auto& r : releases) {
    if (seenActive) return r.version;
    if (r.version == *active) seenActive = true;
  }
  return std::nullopt;
}

Status ReleaseStore::markInstalled(const std::string& version) {
  struct timespec times[2];
  times[0].tv_nsec = UTIME_NOW;
  times[1].tv_nsec = UTIME_NOW;
  if (::utimensat(AT_FDCWD, releaseDir(version).c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return makeError(releaseDir(version) + ": set install time: " + errnoText(errno));
  }
  return {};
}

Status ReleaseStore::activate(const std::string& version) {
  if (!hasRelease(version)) return makeError(releaseDir(version) + ": no such release");
  std::string tmpLink = currentLink() + ".tmp";
  ::unlink(tmpLink.c_str());
  std::string target = "releases/" + version;
  if (::symlink(target.c_str(), tmpLink.c_str()) != 0) {
    return makeError(tmpLink + ": symlink: " + errnoText(errno));
  }
  if (::rename(tmpLink.c_str(), currentLink().c_str()) != 0) {
    int err = errno;
    ::unlink(tmpLink.c_str());
    return makeError("rename " + tmpLink + " -> " + currentLink() + ": " + errnoText(err));
  }
  return sys::fsyncDirectory(root_);
}

Result<std::vector<std::string>> ReleaseStore::prune(size_t keep,
                                                     const std::vector<std::string>& protect) {
  auto active = activeRelease();
  std::vector<std::string> removed;
  auto releases = listReleases();
  for (size_t i = keep; i < releases.size(); ++i) {
    const std::string& v = releases[i].version;
    if ((active && v == *active) || std::find(protect.begin(), protect.end(), v) != protect.end())
      continue;
    if (auto s = removeRelease(v); !s) return s.error();
    removed.push_back(v);
  }
  return removed;
}

Status ReleaseStore::removeRelease(const std::string& version) {
  auto active = activeRelease();
  if (active && *active == version) {
    return makeError("release " + version + " is active; refusing to remove it");
  }
  if (!hasRelease(version)) return makeError(releaseDir(version) + ": no such release");
  std::random_device device;
  std::string doomed = releasesDir() + "/.tmp-delete-" + version + "-" + std::to_string(device());
  if (::rename(releaseDir(version).c_str(), doomed.c_str()) != 0) {
    return makeError("rename " + releaseDir(version) + ": " + errnoText(errno));
  }
  std::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) return makeError(doomed + ": remove: " + ec.message());
  return sys::fsyncDirectory(releasesDir());
}

}  // namespace rollgate::install
