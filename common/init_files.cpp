#include "common/init_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/sys/error.h"

namespace rollgate {

Status refuseExisting(const std::vector<std::string>& paths, const std::string& command) {
  std::string existing;
  for (const auto& path : paths) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) existing += (existing.empty() ? "" : ", ") + path;
  }
  if (existing.empty()) return {};
  return makeError(command + ": refusing to overwrite " + existing +
                   " (move them away or choose another --dir)");
}

Status writeNewFile(const std::string& path, const std::string& content, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return makeError(path + ": create: " + sys::errnoMessage(errno));
  std::string_view rest = content;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return makeError(path + ": write: " + sys::errnoMessage(err));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  const bool synced = ::fsync(fd) == 0;
  const int syncErrno = errno;
  if (::close(fd) != 0 || !synced) {
    return makeError(path + (synced ? ": close: " : ": fsync: ") +
                     sys::errnoMessage(synced ? errno : syncErrno));
  }
  return {};
}

Status makeDirectories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return makeError(path + ": create directory: " + ec.message());
  return {};
}

std::string absolutePath(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

std::string tomlString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace rollgate
