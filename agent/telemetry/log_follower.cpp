#include "agent/telemetry/log_follower.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/sys/error.h"

namespace rollgate::agent {
namespace {

constexpr std::size_t kFingerprintBytes = 32;
constexpr std::uint32_t kDirMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t kFileMask = IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

// Reads exactly size bytes at offset unless the file is shorter; returns bytes read.
std::size_t preadFully(int fd, char* out, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// The up-to-32 bytes just before offset.
std::string fingerprintAt(int fd, std::uint64_t offset) {
  const std::uint64_t length = std::min<std::uint64_t>(offset, kFingerprintBytes);
  std::string out(length, '\0');
  out.resize(preadFully(fd, out.data(), length, offset - length));
  return out;
}

// A name logrotate gives a rotated copy of `base`: `base.1`, `base-20261202`, `base.1.ext`.
// Compressed ones are skipped: their bytes are not lines, and their text was read before
// compression.
bool isRotatedName(std::string_view base, std::string_view name) {
  if (name.size() <= base.size() + 1 || !name.starts_with(base)) return false;
  const char separator = name[base.size()];
  if (separator != '.' && separator != '-') return false;
  for (const std::string_view suffix :
       {".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".lzo", ".Z", ".zip", ".br"}) {
    if (name.ends_with(suffix)) return false;
  }
  return true;
}

}  // namespace

struct LogFollower::OpenFile {
  int fd = -1;
  int watch = -1;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::uint64_t readOffset = 0;    // bytes of the file consumed
  std::uint64_t pendingBytes = 0;  // bytes of the current incomplete line (incl. cut ones)
  std::string partial;             // the incomplete line, at most maxLineBytes
  std::string tail;                // the last <= 32 bytes before readOffset
  bool skipPartial = false;        // opened mid-line: drop bytes up to the next newline
  int idlePolls = 0;
  std::uint64_t offsetAtLastPoll = 0;
};

LogFollower::LogFollower(std::string path, LineCallback onLine, FollowerOptions options)
    : path_(std::move(path)), onLine_(std::move(onLine)), options_(options) {
  const auto slash = path_.rfind('/');
  if (slash == std::string::npos) {
    dir_ = ".";
    name_ = path_;
  } else {
    dir_ = slash == 0 ? "/" : path_.substr(0, slash);
    name_ = path_.substr(slash + 1);
  }
  buffer_.resize(std::max<std::size_t>(options_.readChunkBytes, 4096));
}

Result<std::unique_ptr<LogFollower>> LogFollower::create(std::string path, LineCallback onLine,
                                                         std::optional<FollowerState> restored,
                                                         FollowerOptions options) {
  if (path.empty() || path.back() == '/') {
    return makeError("log follower: expected a file path, got '" + path + "'");
  }
  std::unique_ptr<LogFollower> follower(
      new LogFollower(std::move(path), std::move(onLine), options));
  follower->inotifyFd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (follower->inotifyFd_ < 0) {
    return makeError("log follower '" + follower->path_ +
                     "': inotify_init1 failed: " + sys::errnoMessage(errno));
  }
  follower->ensureDirWatch();
  if (restored) {
    follower->restore(*restored);
  } else {
    const int fd = ::open(follower->path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st {};
      const std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
      char last = '\n';
      if (size > 0) preadFully(fd, &last, 1, size - 1);
      follower->openCurrent(fd, size, last != '\n');
    }
  }
  return follower;
}

LogFollower::~LogFollower() {
  for (auto& file : draining_) closeFile(*file, false);
  if (current_) closeFile(*current_, false);
  if (inotifyFd_ >= 0) ::close(inotifyFd_);
}

int LogFollower::fd() const { return inotifyFd_; }

bool LogFollower::fileOpen() const { return current_ != nullptr; }

void LogFollower::ensureDirWatch() {
  if (dirWatch_ >= 0) return;
  dirWatch_ = ::inotify_add_watch(inotifyFd_, dir_.c_str(), kDirMask);
}

void LogFollower::openCurrent(int fd, std::uint64_t offset, bool skipPartial) {
  current_ = openFile(fd, offset, skipPartial);
  knownSiblings_ = rotatedSiblings();
}

std::unique_ptr<LogFollower::OpenFile> LogFollower::openFile(int fd, std::uint64_t offset,
                                                             bool skipPartial) {
  auto file = std::make_unique<OpenFile>();
  file->fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    file->inode = static_cast<std::uint64_t>(st.st_ino);
    file->device = static_cast<std::uint64_t>(st.st_dev);
  }
  // Watch the inode itself (through /proc/self/fd, so it is this very inode even if the path was
  // replaced meanwhile): writes to a rotated-away file still wake us up.
  const std::string procPath = "/proc/self/fd/" + std::to_string(fd);
  file->watch = ::inotify_add_watch(inotifyFd_, procPath.c_str(), kFileMask);
  file->readOffset = offset;
  file->offsetAtLastPoll = offset;
  file->skipPartial = skipPartial;
  file->tail = fingerprintAt(fd, offset);
  return file;
}

std::vector<LogFollower::FileId> LogFollower::rotatedSiblings() const {
  std::vector<FileId> out;
  DIR* dir = ::opendir(dir_.c_str());
  if (dir == nullptr) return out;
  while (const dirent* entry = ::readdir(dir)) {
    if (!isRotatedName(name_, entry->d_name)) continue;
    struct stat st {};
    const std::string sibling = dir_ + "/" + entry->d_name;
    if (::stat(sibling.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)});
  }
  ::closedir(dir);
  return out;
}

bool LogFollower::isOpen(FileId id) const {
  const auto same = [&](const std::unique_ptr<OpenFile>& file) {
    return file && file->device == id.device && file->inode == id.inode;
  };
  return same(current_) || std::any_of(draining_.begin(), draining_.end(), same);
}

void LogFollower::adoptFilesInBetween(FileId next) {
  struct Found {
    std::unique_ptr<OpenFile> file;
    timespec modified;
  };
  std::vector<Found> found;
  DIR* dir = ::opendir(dir_.c_str());
  if (dir == nullptr) return;
  while (const dirent* entry = ::readdir(dir)) {
    if (!isRotatedName(name_, entry->d_name)) continue;
    const std::string sibling = dir_ + "/" + entry->d_name;
    const int fd = ::open(sibling.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      continue;
    }
    const FileId id{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    if (id == next || isOpen(id) ||
        std::find(knownSiblings_.begin(), knownSiblings_.end(), id) != knownSiblings_.end()) {
      ::close(fd);
      continue;
    }
    found.push_back({openFile(fd, 0, false), st.st_mtim});
  }
  ::closedir(dir);
  // Oldest first: lines reach the callback in the order they were written, file by file.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.modified.tv_sec != b.modified.tv_sec ? a.modified.tv_sec < b.modified.tv_sec
                                                  : a.modified.tv_nsec < b.modified.tv_nsec;
  });
  for (auto& entry : found) {
    ++rotations_;
    readToEnd(*entry.file);
    entry.file->offsetAtLastPoll = entry.file->readOffset;
    draining_.push_back(std::move(entry.file));
  }
}

void LogFollower::restore(const FollowerState& state) {
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  const auto fingerprintMatches = [&](int fd, std::uint64_t size) {
    return size >= state.offset && fingerprintAt(fd, state.offset) == state.fingerprint;
  };
  const bool skip = !state.fingerprint.empty() && state.fingerprint.back() != '\n';
  if (exists && static_cast<std::uint64_t>(st.st_ino) == state.inode &&
      static_cast<std::uint64_t>(st.st_dev) == state.device) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat opened {};
    ::fstat(fd, &opened);
    if (fingerprintMatches(fd, static_cast<std::uint64_t>(opened.st_size))) {
      openCurrent(fd, state.offset, skip);
    } else {
      // Truncated while stopped, or a new file that reuses the inode number: all of it is new.
      ++truncations_;
      openCurrent(fd, 0, false);
    }
    return;
  }
  // The saved file is no longer at the path: look for it beside it (rotated while stopped) and
  // finish it from the saved offset before the new file.
  if (DIR* dir = ::opendir(dir_.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      if (static_cast<std::uint64_t>(entry->d_ino) != state.inode) continue;
      const std::string candidate = dir_ + "/" + entry->d_name;
      const int fd = ::open(candidate.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      struct stat opened {};
      if (::fstat(fd, &opened) == 0 && static_cast<std::uint64_t>(opened.st_ino) == state.inode &&
          static_cast<std::uint64_t>(opened.st_dev) == state.device && S_ISREG(opened.st_mode) &&
          fingerprintMatches(fd, static_cast<std::uint64_t>(opened.st_size))) {
        openCurrent(fd, state.offset, skip);
        draining_.push_back(std::move(current_));
        ++rotations_;
        break;
      }
      ::close(fd);
    }
    ::closedir(dir);
  }
  if (exists) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) openCurrent(fd, 0, false);
  }
}

void LogFollower::onReadable() {
  alignas(inotify_event) char events[4096];
  bool checkPath = false;
  while (true) {
    const ssize_t n = ::read(inotifyFd_, events, sizeof events);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(events + at);
      if (event->wd == dirWatch_ || event->wd == -1 ||
          (event->mask &
           (IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB | IN_IGNORED | IN_Q_OVERFLOW)) != 0) {
        checkPath = true;  // a name may now point elsewhere; plain writes need no stat(2)
      }
      if ((event->mask & IN_IGNORED) != 0) {
        if (event->wd == dirWatch_) dirWatch_ = -1;
        if (current_ && current_->watch == event->wd) current_->watch = -1;
        for (auto& file : draining_) {
          if (file->watch == event->wd) file->watch = -1;
        }
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  check(checkPath);
}

void LogFollower::poll() {
  check(true);
  for (auto it = draining_.begin(); it != draining_.end();) {
    OpenFile& file = **it;
    if (file.readOffset == file.offsetAtLastPoll) {
      ++file.idlePolls;
    } else {
      file.idlePolls = 0;
      file.offsetAtLastPoll = file.readOffset;
    }
    if (file.idlePolls >= options_.drainIdlePolls) {
      closeFile(file, true);
      it = draining_.erase(it);
    } else {
      ++it;
    }
  }
}

void LogFollower::check(bool checkPath) {
  ensureDirWatch();
  // Rotated-away files first: their lines are older than the new file's.
  for (auto& file : draining_) {
    if (!readToEnd(*file)) restartAtZero(*file);
  }
  if (current_ && !readToEnd(*current_)) restartAtZero(*current_);
  if (!checkPath) return;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // gone: keep the old fd
  if (current_ && static_cast<std::uint64_t>(st.st_ino) == current_->inode &&
      static_cast<std::uint64_t>(st.st_dev) == current_->device) {
    return;
  }
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (current_) {
    struct stat opened {};
    if (::fstat(fd, &opened) == 0 && static_cast<std::uint64_t>(opened.st_ino) == current_->inode &&
        static_cast<std::uint64_t>(opened.st_dev) == current_->device) {
      ::close(fd);  // replaced back between stat and open; nothing changed
      return;
    }
    ++rotations_;
    readToEnd(*current_);
    current_->offsetAtLastPoll = current_->readOffset;
    current_->idlePolls = 0;
    draining_.push_back(std::move(current_));
    // Rotated twice (or more) since the last look: the files that were at the path in between
    // are beside it now, under logrotate's names, and were never opened.
    adoptFilesInBetween(
        {static_cast<std::uint64_t>(opened.st_dev), static_cast<std::uint64_t>(opened.st_ino)});
  }
  openCurrent(fd, 0, false);  // a new file: every byte in it is new
  readToEnd(*current_);
}

void LogFollower::restartAtZero(OpenFile& file) {
  ++truncations_;
  // copytruncate left its copy beside the path: history, not a file in between at a rotation.
  if (&file == current_.get()) knownSiblings_ = rotatedSiblings();
  file.readOffset = 0;
  file.pendingBytes = 0;
  file.partial.clear();
  file.tail.clear();
  file.skipPartial = false;
  readToEnd(file);
}

bool LogFollower::readToEnd(OpenFile& file) {
  // One pread per wake-up in the common case: it starts at the fingerprint bytes just before
  // readOffset (checking the file was not truncated or replaced under us) and runs into the new
  // data; a short read means end of file.
  std::size_t verify = file.tail.size();
  while (true) {
    const std::uint64_t from = file.readOffset - verify;
    const ssize_t n = ::pread(file.fd, buffer_.data(), buffer_.size(), static_cast<off_t>(from));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;
    const auto got = static_cast<std::size_t>(n);
    if (verify > 0) {
      if (got < verify || std::memcmp(buffer_.data(), file.tail.data(), verify) != 0) return false;
    }
    const std::size_t size = got - verify;
    if (size == 0) return true;
    const char* data = buffer_.data() + verify;
    file.readOffset += size;
    if (size >= kFingerprintBytes) {
      file.tail.assign(data + size - kFingerprintBytes, kFingerprintBytes);
    } else {
      file.tail.append(data, size);
      if (file.tail.size() > kFingerprintBytes)
        file.tail.erase(0, file.tail.size() - kFingerprintBytes);
    }
    splitAndEmit(file, data, size);
    if (got < buffer_.size()) return true;
    verify = 0;  // continuing sequentially from bytes just checked
  }
}

void LogFollower::splitAndEmit(OpenFile& file, const char* data, std::size_t size) {
  const char* p = data;
  const char* const end = data + size;
  const std::size_t maxLine = options_.maxLineBytes;
  while (p != end) {
    if (file.pendingBytes == 0 && !file.skipPartial && *p == '\0') {
      // The hole a writer without O_APPEND leaves after copytruncate: not part of any line, so it
      // must not count against maxLineBytes (it is usually longer than that).
      while (p != end && *p == '\0') ++p;
      if (p == end) break;
    }
    const auto* newline =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* stop = newline != nullptr ? newline : end;
    const auto length = static_cast<std::size_t>(stop - p);
    if (!file.skipPartial) {
      if (newline != nullptr && file.pendingBytes == 0 && length <= maxLine) {
        emit({p, length});  // the common case: a whole line inside the buffer, no copy
      } else {
        if (file.partial.size() < maxLine) {
          file.partial.append(p, std::min(length, maxLine - file.partial.size()));
        }
        file.pendingBytes += length;
        if (newline != nullptr) {
          if (file.pendingBytes > maxLine) ++overlongLines_;
          emit(file.partial);
          file.partial.clear();
          file.pendingBytes = 0;
        }
      }
    } else if (newline != nullptr) {
      file.skipPartial = false;
      file.pendingBytes = 0;
    } else {
      file.pendingBytes += length;
    }
    if (newline == nullptr) break;
    p = newline + 1;
  }
}

void LogFollower::emit(std::string_view line) {
  if (!line.empty() && line.front() == '\0') {
    const auto first = line.find_first_not_of('\0');
    line.remove_prefix(first == std::string_view::npos ? line.size() : first);
  }
  ++linesEmitted_;
  onLine_(line);
}

void LogFollower::closeFile(OpenFile& file, bool flushPartial) {
  if (flushPartial && !file.skipPartial && file.pendingBytes > 0) {
    if (file.pendingBytes > options_.maxLineBytes) ++overlongLines_;
    emit(file.partial);
  }
  file.partial.clear();
  file.pendingBytes = 0;
  if (file.watch >= 0) ::inotify_rm_watch(inotifyFd_, file.watch);
  file.watch = -1;
  if (file.fd >= 0) ::close(file.fd);
  file.fd = -1;
}

std::optional<FollowerState> LogFollower::state() const {
  if (!current_) return std::nullopt;
  FollowerState state;
  state.inode = current_->inode;
  state.device = current_->device;
  state.offset = current_->readOffset - current_->pendingBytes;
  state.fingerprint = fingerprintAt(current_->fd, state.offset);
  return state;
}

}  // namespace rollgate::agent
