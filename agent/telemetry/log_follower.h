// LogFollower: follows one log file by path like `tail -F`, driven by inotify (not polling), and
// hands every complete line to a callback exactly once.
//
// - Starts at the END of a file that exists at construction (no replay of history) unless a saved
//   FollowerState says where it stopped; a file that appears later is read from its start.
// - Rename rotation (logrotate's default): the old inode is read to its end and kept open and
//   drained while its writer may still append (until it has been idle for `drainIdlePolls` calls of
//   poll()), the new file at the path is read from offset 0. Several rotations between two looks:
//   the files that were at the path in between are found beside it under logrotate's names
//   (`name.N`, `name-DATE`; compressed ones skipped) as the uncompressed siblings that were not
//   there when the current file was opened, and are read from 0 and drained, oldest first.
// - copytruncate / truncation while running: detected by size and by a fingerprint of the bytes
//   just before the read offset (so a file truncated and regrown past the old offset between two
//   wake-ups is also caught); reading restarts at 0.
// - Restart: state() / FollowerState restore the position. A file truncated, replaced or whose
//   inode number was reused while the agent was stopped is detected (size, fingerprint) and read
//   from 0; a file rotated while stopped is found in the same directory by inode and drained from
//   the saved offset first.
// - A partial last line is held until its newline arrives. Lines longer than maxLineBytes are cut
//   to maxLineBytes (counted in overlongLines()). Runs of NUL bytes at the start of a line (a
//   writer without O_APPEND after copytruncate leaves a sparse hole) are skipped before the cap
//   applies.
//
// Event-loop use: put fd() in zmq_poll (ZMQ_POLLIN); call onReadable() when it is readable; call
// poll() from a periodic timer (e.g. every second) as a backstop and to retire drained old files.
// Thread-safety: none; one thread owns a follower. The callback runs inside onReadable()/poll().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::agent {

// Where a follower stopped: the file identity and the offset after the last complete line handed
// out. `fingerprint` holds up to 32 bytes just before `offset` (hex-free raw bytes), used to detect
// a different file with the same inode or a truncate-and-regrow. Persist all four fields.
struct FollowerState {
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::uint64_t offset = 0;
  std::string fingerprint;
  bool operator==(const FollowerState&) const = default;
};

struct FollowerOptions {
  std::size_t maxLineBytes = 64 * 1024;
  std::size_t readChunkBytes = 64 * 1024;
  // poll() calls without new data after which a rotated-away file is closed.
  int drainIdlePolls = 10;
};

class LogFollower {
 public:
  using LineCallback = std::function<void(std::string_view line)>;

  // Creates the inotify instance and the watches and, if the file exists, opens it (at its end, or
  // at `restored`). Fails only if inotify itself is unavailable; a missing file or directory is not
  // an error (the directory is watched, or retried by poll()).
  static Result<std::unique_ptr<LogFollower>> create(std::string path, LineCallback onLine,
                                                     std::optional<FollowerState> restored = {},
                                                     FollowerOptions options = {});
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  int fd() const;     // the inotify fd (non-blocking), for zmq_poll
  void onReadable();  // drain inotify events, read new data, emit complete lines
  void poll();        // backstop: same checks without an event; retires idle rotated files

  // Position after the last complete line of the current file; empty when no file is open.
  std::optional<FollowerState> state() const;

  const std::string& path() const { return path_; }
  std::uint64_t linesEmitted() const { return linesEmitted_; }
  std::uint64_t rotations() const { return rotations_; }
  std::uint64_t truncations() const { return truncations_; }
  std::uint64_t overlongLines() const { return overlongLines_; }
  bool fileOpen() const;
  // Rotated-away files still open and being drained.
  std::size_t drainingFiles() const { return draining_.size(); }

 private:
  struct OpenFile;
  struct FileId {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    bool operator==(const FileId&) const = default;
  };
  LogFollower(std::string path, LineCallback onLine, FollowerOptions options);
  void ensureDirWatch();
  void check(bool checkPath);
  void openCurrent(int fd, std::uint64_t offset, bool skipPartial);
  std::unique_ptr<OpenFile> openFile(int fd, std::uint64_t offset, bool skipPartial);
  // Uncompressed files beside the path under a name logrotate gives rotated copies.
  std::vector<FileId> rotatedSiblings() const;
  bool isOpen(FileId id) const;
  // Opens, reads and drains the rotated siblings that are neither open, nor `next` (the new file at
  // the path), nor known when the current file was opened.
  void adoptFilesInBetween(FileId next);
  // Reads new data and emits lines; false when the file no longer holds the bytes we read last
  // (truncated or replaced), in which case nothing was emitted.
  bool readToEnd(OpenFile& file);
  void restartAtZero(OpenFile& file);
  void splitAndEmit(OpenFile& file, const char* data, std::size_t size);
  void emit(std::string_view line);
  void closeFile(OpenFile& file, bool flushPartial);
  void restore(const FollowerState& state);

  std::string path_;
  std::string dir_;
  std::string name_;
  LineCallback onLine_;
  FollowerOptions options_;
  int inotifyFd_ = -1;
  int dirWatch_ = -1;
  std::unique_ptr<OpenFile> current_;
  std::vector<std::unique_ptr<OpenFile>> draining_;
  // The rotated siblings there were when the current file was opened (or last truncated).
  std::vector<FileId> knownSiblings_;
  std::vector<char> buffer_;
  std::uint64_t linesEmitted_ = 0;
  std::uint64_t rotations_ = 0;
  std::uint64_t truncations_ = 0;
  std::uint64_t overlongLines_ = 0;
};

}  // namespace rollgate::agent
