#include "common/sys/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys/error.h"

namespace rollgate::sys {

Status createPrivateDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return {};
    return makeError("directory " + path + ": mkdir: " + errnoMessage(errno));
  }
  if (::chmod(path.c_str(), 0700) != 0) {
    return makeError("directory " + path + ": chmod 0700: " + errnoMessage(errno));
  }
  return {};
}

Status ensurePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return makeError("file " + path + ": open: " + errnoMessage(errno));
  struct stat st {};
  int rc = ::fstat(fd, &st);
  if (rc == 0 && (st.st_mode & 0777) != 0600) rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) return makeError("file " + path + ": chmod 0600: " + errnoMessage(err));
  return {};
}

}  // namespace rollgate::sys
