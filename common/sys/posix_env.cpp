#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys/env.h"
#include "common/sys/error.h"

namespace rollgate::sys {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return makeError(path_ + ": write: " + errnoMessage(errno));
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  Status sync() override {
    if (::fsync(fd_) != 0) return makeError(path_ + ": fsync: " + errnoMessage(errno));
    return {};
  }

  Status close() override {
    if (fd_ < 0) return {};
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return makeError(path_ + ": close: " + errnoMessage(errno));
    return {};
  }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> PosixEnv::newWritableFile(const std::string& path,
                                                                mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return makeError(path + ": create: " + errnoMessage(errno));
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    return makeError(path + ": chmod: " + errnoMessage(err));
  }
  return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd));
}

Result<std::optional<std::string>> PosixEnv::readFileIfExists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return makeError(path + ": cannot open: " + errnoMessage(errno));
  }
  std::string content;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return makeError(path + ": read: " + errnoMessage(err));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(content));
}

Status PosixEnv::renameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return makeError("rename " + from + " -> " + to + ": " + errnoMessage(errno));
  }
  return {};
}

Status PosixEnv::removeFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return makeError(path + ": unlink: " + errnoMessage(errno));
  }
  return {};
}

Status PosixEnv::createDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0) return {};
  int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
  if (err == EEXIST) return makeError(path + ": not a directory");
  return makeError(path + ": mkdir: " + errnoMessage(err));
}

Status PosixEnv::syncDir(const std::string& dir) { return fsyncDirectory(dir); }

std::string parentDir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status fsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return makeError("directory " + dir + ": open: " + errnoMessage(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return makeError("directory " + dir + ": fsync: " + errnoMessage(err));
  return {};
}

Status writeFileAtomically(Env& env, const std::string& path, std::string_view content,
                           mode_t mode) {
  const std::string tmp = path + ".tmp";
  auto file = env.newWritableFile(tmp, mode);
  if (!file) return file.error();
  Status status = (*file)->append(content);
  if (status) status = (*file)->sync();
  if (Status closed = (*file)->close(); status && !closed) status = closed;
  if (status) status = env.renameFile(tmp, path);
  if (!status) {
    (void)env.removeFile(tmp);  // best effort: the original error is the one to report
    return status;
  }
  return env.syncDir(parentDir(path));
}

}  // namespace rollgate::sys
