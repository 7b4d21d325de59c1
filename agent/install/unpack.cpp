#include "agent/install/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/sys/env.h"
#include "common/sys/error.h"

namespace rollgate::install {
namespace {

namespace fs = std::filesystem;

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ArchiveReader = std::unique_ptr<struct archive, ReadDeleter>;
using ArchiveWriter = std::unique_ptr<struct archive, WriteDeleter>;

std::string archiveError(struct archive* a) {
  const char* text = archive_error_string(a);
  std::string out = text ? text : "unknown libarchive error";
  int err = archive_errno(a);
  if (err == ENOSPC && out.find("space") == std::string::npos) out += ": " + sys::errnoMessage(err);
  return out;
}

// Splits into components, dropping "" and "."; fails on absolute paths and "..".
Result<std::vector<std::string>> safeComponents(std::string_view path, const char* what) {
  if (!path.empty() && path.front() == '/') {
    return makeError(std::string(what) + " is absolute");
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") return makeError(std::string(what) + " contains '..'");
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < parts.size(); ++i) {
    if (i) out.push_back('/');
    out += parts[i];
  }
  return out;
}

enum class Kind { kFile, kDir, kSymlink };

struct Unpacker {
  const std::string& archivePath;
  const std::string& tmpDir;
  const UnpackLimits& limits;
  const std::atomic<bool>& cancel;
  std::unordered_map<std::string, Kind> seen;
  std::vector<std::pair<std::string, std::string>> symlinks;  // path, target
  UnpackStats stats;
  uint64_t byteBound = 0;  // the smaller of max_unpacked_bytes and max_unpack_ratio x archive

  // Which bound byteBound is, for errors: "max_unpacked_bytes = N bytes" or the ratio's product.
  std::string byteBoundText() const {
    if (limits.maxUnpackRatio > 0 && byteBound < limits.maxUnpackedBytes) {
      return "max_unpack_ratio = " + std::to_string(limits.maxUnpackRatio) + " x the archive's " +
             std::to_string(stats.archiveBytes) + " bytes = " + std::to_string(byteBound) +
             " bytes";
    }
    return "max_unpacked_bytes = " + std::to_string(limits.maxUnpackedBytes) + " bytes";
  }

  Error overSize(const std::string& entry, uint64_t wouldReach) const {
    return entryError(entry, "unpacked size would reach " + std::to_string(wouldReach) +
                                 " bytes, over " + byteBoundText() + "; stopped with " +
                                 std::to_string(stats.fileBytes) + " bytes written");
  }

  Error entryError(const std::string& entry, const std::string& why) const {
    return makeError(archivePath + ": entry '" + entry + "': " + why);
  }

  // Checks one header; rewrites its paths to the normalized form. Returns false to skip it.
  Result<bool> check(struct archive_entry* entry) {
    const char* rawName = archive_entry_pathname(entry);
    std::string name = rawName ? rawName : "";
    if (name.size() > limits.maxPathBytes) {
      return entryError(name.substr(0, 64) + "...", "path of " + std::to_string(name.size()) +
                                                        " bytes is over max_path_bytes = " +
                                                        std::to_string(limits.maxPathBytes));
    }
    auto parts = safeComponents(name, "path");
    if (!parts) return entryError(name, parts.error().message);
    if (parts->empty()) return false;  // "./" itself
    std::string path = join(*parts, parts->size());

    // Nothing may be written through a symlink or a non-directory.
    for (size_t i = 1; i < parts->size(); ++i) {
      auto it = seen.find(join(*parts, i));
      if (it != seen.end() && it->second != Kind::kDir) {
        return entryError(name, "parent '" + it->first + "' is " +
                                    (it->second == Kind::kSymlink ? "a symlink" : "a file"));
      }
    }

    mode_t mode = archive_entry_mode(entry);
    if (mode & (S_ISUID | S_ISGID)) return entryError(name, "setuid or setgid bit set");

    Kind kind;
    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink != nullptr) {
      auto target = safeComponents(hardlink, "hardlink target");
      if (!target) return entryError(name, target.error().message);
      std::string targetPath = join(*target, target->size());
      auto it = seen.find(targetPath);
      if (target->empty() || it == seen.end() || it->second != Kind::kFile) {
        return entryError(name, "hardlink target '" + std::string(hardlink) +
                                    "' is not a regular file earlier in the archive");
      }
      archive_entry_set_hardlink(entry, targetPath.c_str());
      kind = Kind::kFile;
    } else {
      switch (archive_entry_filetype(entry)) {
        case AE_IFREG: kind = Kind::kFile; break;
        case AE_IFDIR: kind = Kind::kDir; break;
        case AE_IFLNK: kind = Kind::kSymlink; break;
        case AE_IFCHR: return entryError(name, "character device nodes are not allowed");
        case AE_IFBLK: return entryError(name, "block device nodes are not allowed");
        case AE_IFIFO: return entryError(name, "fifos are not allowed");
        case AE_IFSOCK: return entryError(name, "sockets are not allowed");
        default: return entryError(name, "unsupported entry type");
      }
    }
    if (kind == Kind::kSymlink) {
      const char* rawTarget = archive_entry_symlink(entry);
      std::string target = rawTarget ? rawTarget : "";
      if (target.size() > limits.maxPathBytes) {
        return entryError(name, "symlink target of " + std::to_string(target.size()) +
                                    " bytes is over max_path_bytes = " +
                                    std::to_string(limits.maxPathBytes));
      }
      if (target.empty() || target.front() == '/') {
        return entryError(name, "symlink target '" + target + "' is absolute or empty");
      }
      // Lexical check: the target, from the link's directory, must stay inside the release.
      long depth = static_cast<long>(parts->size()) - 1;
      size_t start = 0;
      while (start <= target.size()) {
        size_t end = target.find('/', start);
        if (end == std::string::npos) end = target.size();
        std::string_view part = std::string_view(target).substr(start, end - start);
        if (part == "..") {
          if (--depth < 0) {
            return entryError(name, "symlink target '" + target + "' leaves the release directory");
          }
        } else if (!part.empty() && part != ".") {
          ++depth;
        }
        start = end + 1;
      }
      symlinks.emplace_back(path, target);
    }
    auto it = seen.find(path);
    if (it != seen.end()) {
      if (it->second == Kind::kDir && kind != Kind::kDir) {
        return entryError(name, "replaces a directory with a non-directory");
      }
      if (it->second == Kind::kSymlink || kind == Kind::kSymlink) {
        if (it->second != kind || kind == Kind::kSymlink) {
          return entryError(name, "replaces an earlier entry of the same path with a symlink");
        }
      }
      if (it->second == Kind::kFile && kind == Kind::kDir) {
        return entryError(name, "replaces a file with a directory");
      }
    }
    seen[path] = kind;
    // Implicit parents become directories.
    for (size_t i = 1; i < parts->size(); ++i) seen.emplace(join(*parts, i), Kind::kDir);

    if (++stats.entries > limits.maxEntries) {
      return entryError(name, "archive has more than max_entries = " +
                                  std::to_string(limits.maxEntries) + " entries");
    }
    if (kind == Kind::kFile) ++stats.files;
    if (kind == Kind::kFile && hardlink == nullptr) {
      // The declared size is checked before the first byte is written; the bytes themselves are
      // counted again as they are written (run()), whatever the header said.
      int64_t size = archive_entry_size(entry);
      uint64_t declared = size > 0 ? static_cast<uint64_t>(size) : 0;
      if (declared > byteBound - stats.fileBytes) {
        return overSize(name, stats.fileBytes + declared);
      }
    }
    archive_entry_set_pathname(entry, path.c_str());
    archive_entry_set_perm(entry, mode & 0777 & ~S_IWOTH);
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    return true;
  }

  // After extraction: every symlink resolves physically where it resolves lexically, i.e. no
  // component on the way (other than the last) is itself a symlink.
  Status checkSymlinkChains(int rootFd) {
    for (const auto& [path, target] : symlinks) {
      auto linkParts = safeComponents(path, "path");
      std::vector<std::string> stack(linkParts->begin(), linkParts->end() - 1);
      std::vector<std::string> targetParts;
      size_t start = 0;
      while (start <= target.size()) {
        size_t end = target.find('/', start);
        if (end == std::string::npos) end = target.size();
        std::string part = target.substr(start, end - start);
        if (!part.empty() && part != ".") targetParts.push_back(part);
        start = end + 1;
      }
      for (size_t i = 0; i < targetParts.size(); ++i) {
        if (targetParts[i] == "..") {
          if (stack.empty()) return entryError(path, "symlink leaves the release directory");
          stack.pop_back();
          continue;
        }
        stack.push_back(targetParts[i]);
        if (i + 1 == targetParts.size()) break;
        std::string prefix = join(stack, stack.size());
        struct stat st;
        if (::fstatat(rootFd, prefix.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
          return entryError(path, "symlink target '" + target + "' goes through symlink '" +
                                      prefix + "'");
        }
      }
    }
    return {};
  }

  Status run() {
    ArchiveReader reader(archive_read_new());
    ArchiveWriter writer(archive_write_disk_new());
    if (!reader || !writer) return makeError("libarchive: out of memory");
    archive_read_support_format_tar(reader.get());
    archive_read_support_format_gnutar(reader.get());
    archive_read_support_filter_gzip(reader.get());
    archive_read_support_filter_zstd(reader.get());
    archive_read_support_filter_none(reader.get());
    archive_write_disk_set_options(
        writer.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                          ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    struct stat archiveStat {};
    if (::stat(archivePath.c_str(), &archiveStat) != 0) {
      return makeError(archivePath + ": " + sys::errnoMessage(errno));
    }
    stats.archiveBytes = static_cast<uint64_t>(archiveStat.st_size);
    byteBound = limits.maxUnpackedBytes;
    if (limits.maxUnpackRatio > 0) {
      uint64_t byRatio = stats.archiveBytes > byteBound / limits.maxUnpackRatio
                             ? byteBound
                             : stats.archiveBytes * limits.maxUnpackRatio;
      byteBound = std::min(byteBound, byRatio);
    }
    if (archive_read_open_filename(reader.get(), archivePath.c_str(), 1 << 16) != ARCHIVE_OK) {
      return makeError(archivePath + ": " + archiveError(reader.get()));
    }
    std::vector<char> buffer;
    for (;;) {
      if (cancel.load()) return makeError("cancelled");
      struct archive_entry* entry = nullptr;
      int rc = archive_read_next_header(reader.get(), &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        return makeError(archivePath + ": after " + std::to_string(stats.entries) +
                         " entries: " + archiveError(reader.get()));
      }
      std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
      auto keep = check(entry);
      if (!keep) return keep.error();
      if (!*keep) continue;
      std::string path = archive_entry_pathname(entry);
      if (archive_write_header(writer.get(), entry) != ARCHIVE_OK) {
        return entryError(name, tmpDir + "/" + path + ": " + archiveError(writer.get()));
      }
      if (archive_entry_size(entry) > 0 && archive_entry_hardlink(entry) == nullptr) {
        const void* block;
        size_t size;
        la_int64_t offset;
        for (;;) {
          int r = archive_read_data_block(reader.get(), &block, &size, &offset);
          if (r == ARCHIVE_EOF) break;
          if (r != ARCHIVE_OK) {
            return entryError(name, "read: " + archiveError(reader.get()));
          }
          if (size > byteBound - stats.fileBytes) return overSize(name, stats.fileBytes + size);
          stats.fileBytes += size;
          if (archive_write_data_block(writer.get(), block, size, offset) != ARCHIVE_OK) {
            return entryError(name, tmpDir + "/" + path + ": " + archiveError(writer.get()));
          }
        }
      }
      if (archive_write_finish_entry(writer.get()) != ARCHIVE_OK) {
        return entryError(name, tmpDir + "/" + path + ": " + archiveError(writer.get()));
      }
    }
    if (archive_write_close(writer.get()) != ARCHIVE_OK) {
      return makeError(tmpDir + ": " + archiveError(writer.get()));
    }
    int rootFd = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootFd < 0) return makeError(tmpDir + ": open: " + sys::errnoMessage(errno));
    Status chains = checkSymlinkChains(rootFd);
    if (chains && stats.files == 0) {
      chains = makeError(archivePath + ": the archive has no files (" +
                         std::to_string(stats.entries) +
                         " other entries); an empty release is never installed");
    }
    if (chains && ::syncfs(rootFd) != 0) {
      chains = makeError(tmpDir + ": syncfs: " + sys::errnoMessage(errno));
    }
    ::close(rootFd);
    return chains;
  }
};

std::string randomSuffix() {
  std::random_device device;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", device(), device());
  return text;
}

}  // namespace

Result<UnpackStats> unpackRelease(const std::string& archivePath, const std::string& releasesDir,
                                  const std::string& version, const UnpackLimits& limits,
                                  const std::atomic<bool>& cancel) {
  std::string finalDir = releasesDir + "/" + version;
  struct stat st;
  if (::lstat(finalDir.c_str(), &st) == 0) {
    return makeError(finalDir + ": release already exists");
  }
  std::string tmpDir = releasesDir + "/.tmp-" + version + "-" + randomSuffix();
  if (::mkdir(tmpDir.c_str(), 0755) != 0) {
    return makeError(tmpDir + ": mkdir: " + sys::errnoMessage(errno));
  }
  Unpacker unpacker{archivePath, tmpDir, limits, cancel, {}, {}, {}, 0};
  Status status;
  std::thread worker([&] {
    if (::unshare(CLONE_FS) != 0) {
      status = makeError("unshare(CLONE_FS): " + sys::errnoMessage(errno));
      return;
    }
    if (::chdir(tmpDir.c_str()) != 0) {
      status = makeError(tmpDir + ": chdir: " + sys::errnoMessage(errno));
      return;
    }
    ::umask(022);
    status = unpacker.run();
  });
  worker.join();
  if (status) {
    if (::rename(tmpDir.c_str(), finalDir.c_str()) != 0) {
      status = makeError("rename " + tmpDir + " -> " + finalDir + ": " + sys::errnoMessage(errno));
    } else {
      status = sys::fsyncDirectory(releasesDir);
      if (status) return unpacker.stats;
      std::error_code ec;
      fs::remove_all(finalDir, ec);
    }
  }
  std::error_code ec;
  fs::remove_all(tmpDir, ec);
  return status.error();
}

int removeUnpackLeftovers(const std::string& releasesDir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(releasesDir, ec)) {
    if (entry.path().filename().string().starts_with(".tmp-")) {
      std::error_code removeEc;
      fs::remove_all(entry.path(), removeEc);
      ++removed;
    }
  }
  return removed;
}

}  // namespace rollgate::install
