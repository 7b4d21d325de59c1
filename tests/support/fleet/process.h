// Test support: temporary directories, child processes, free ports, polling waits.
// Every object cleans up what it started in its destructor (processes are SIGKILLed and reaped,
// directories removed), so a failing test leaves nothing behind.
// Thread-safety: none; one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rollgate::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "rollgate-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void writeFile(const std::string& path, const std::string& content);
std::string readFile(const std::string& path);
// The last `lines` lines of a file (a log, for a failed check's message).
std::string tailOfFile(const std::string& path, std::size_t lines);

class Process {
 public:
  Process() = default;
  // Starts argv[0] with stdout and stderr appended to `logPath`, extra environment `env`.
  static Process spawn(const std::vector<std::string>& argv, const std::string& logPath,
                       const std::map<std::string, std::string>& env = {});
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code (128+signal if killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait, then SIGKILL if needed. Returns the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int exitCode_ = -1;
};

struct CommandOutput {
  int exitCode = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (killed after `timeout`), capturing stdout and stderr.
CommandOutput runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Runs a command with this process's stdout and stderr (for output a person watches); returns
// its exit code.
int runAttached(const std::vector<std::string>& argv,
                const std::map<std::string, std::string>& env = {});

// A TCP port on 127.0.0.1 that was free a moment ago.
int freePort();
// utime + stime of process `pid`, every thread of it, in clock ticks (sysconf(_SC_CLK_TCK) a
// second); -1 when /proc/<pid>/stat cannot be read.
long cpuTicks(pid_t pid);

// Polls `condition` every `interval` until it holds or `timeout` passes.
bool waitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(30),
               std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// Directory of the built rollgate binaries ($ROLLGATE_BIN_DIR, else the build tree's bin/).
std::string binDir();

}  // namespace rollgate::testing
