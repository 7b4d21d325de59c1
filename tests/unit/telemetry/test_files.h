// Test helpers: a temp directory removed at scope exit, and a log writer that appends lines the way
// nginx does (O_APPEND, one write per line).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace rollgate::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "rollgate-telemetry-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(std::string_view name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class LogWriter {
 public:
  explicit LogWriter(const std::string& path, bool append = true)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : 0), 0644)) {
    if (fd_ < 0) std::abort();
  }
  ~LogWriter() { ::close(fd_); }
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  void raw(std::string_view bytes) {
    if (::write(fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
      std::abort();
  }
  // Writes count lines "<prefix> <i>\n", i from first.
  void lines(std::string_view prefix, int count, int first = 0) {
    for (int i = first; i < first + count; ++i)
      raw(std::string(prefix) + " " + std::to_string(i) + "\n");
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace rollgate::testing
