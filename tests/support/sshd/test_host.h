// Test harness for packaging and bootstrap tests: shell commands, temp dirs, a Debian root used
// as a throwaway "host" (chroot inside a private mount namespace, so /proc and /dev mounts vanish
// with the namespace), and a real sshd whose sessions are chrooted into such a root.
//
//   rollgate::hosttest::TempDir dir(parent);                 // removed (rm -rf) on destruction
//   auto copy = rollgate::hosttest::copyTree(baseRoot, dir.path() + "/root");
//   rollgate::hosttest::runInRoot(dir.path() + "/root", "dpkg -i /tmp/x.deb");
//   auto sshd = rollgate::hosttest::SshServer::start(root, authorizedKeysFile, scratchDir);
//   // connect to root@127.0.0.1:sshd->port(), host key sshd->hostKeyPublic()
//
// SshServer runs the system's /usr/sbin/sshd as `unshare --mount --fork` with the root
// bind-mounted on /mnt (ChrootDirectory needs root-owned, non-writable path components, which a
// temp dir under /tmp is not), /proc and /dev mounted inside, and a tmpfs on /run for sshd's
// privilege-separation directory. It listens on a free loopback port with its own host key and
// accepts only the given keys for root. Needs root. The destructor kills the namespace's
// processes (SIGTERM, then SIGKILL) and waits for them.
// Thread-safety: one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::hosttest {

struct CommandOutput {
  int exitCode = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `command` with /bin/sh -c; stdout and stderr merged.
CommandOutput runShell(const std::string& command);

// Quotes `text` as one word for /bin/sh.
std::string quoteShell(const std::string& text);

// Reads a whole file; empty string when it cannot be read.
std::string readFileText(const std::string& path);
Status writeFileText(const std::string& path, const std::string& text, unsigned mode = 0644);

// Empty if the running environment can run these tests (root, and the named programs exist),
// else a message naming what is missing.
std::string missingPrerequisites(const std::vector<std::string>& programs);

class TempDir {
 public:
  // mkdtemp under `parent` (created if missing) with `prefix`.
  explicit TempDir(const std::string& parent = "/tmp", const std::string& prefix = "rollgate-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// cp -a from -> to (to must not exist).
Status copyTree(const std::string& from, const std::string& to);

// Runs `command` with /bin/sh inside `root` (chroot), in a private mount namespace with /proc and
// /dev mounted; the mounts disappear when the command ends.
CommandOutput runInRoot(const std::string& root, const std::string& command);
// Runs `hostCommand` (not chrooted) in a private mount namespace in which `root` has /proc and
// /dev mounted, e.g. `rpm --root ROOT ...`, whose scriptlets run chrooted there.
CommandOutput runWithRootMounts(const std::string& root, const std::string& hostCommand);

// A free TCP port on 127.0.0.1 (bound and released; a small race is accepted).
int freeLoopbackPort();
// Polls until something accepts TCP connections on 127.0.0.1:port, up to `deadline`.
bool waitForLoopbackPort(int port, std::chrono::milliseconds deadline);

// A child process (execv of argv) with stdout and stderr to `logFile`, in its own process group.
class ChildProcess {
 public:
  static Result<std::unique_ptr<ChildProcess>> spawn(const std::vector<std::string>& argv,
                                                    const std::string& logFile,
                                                    const std::vector<std::string>& extraEnv = {});
  ~ChildProcess();  // stop()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool running();
  // SIGTERM to the process group, then SIGKILL after `grace`; waits.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  pid_t pid() const { return pid_; }
  const std::string& logFile() const { return logFile_; }

 private:
  ChildProcess(pid_t pid, std::string logFile) : pid_(pid), logFile_(std::move(logFile)) {}
  pid_t pid_;
  std::string logFile_;
  bool reaped_ = false;
};

class SshServer {
 public:
  // `root`: the directory sessions are chrooted into. `authorizedKeysFile`: public keys allowed
  // to log in as root. `scratchDir`: where the host key (made new for each scratch dir), config
  // and log go. `port`: 0 picks a free one; else that port (to reappear with another host key).
  static Result<std::unique_ptr<SshServer>> start(const std::string& root,
                                                  const std::string& authorizedKeysFile,
                                                  const std::string& scratchDir, int port = 0);
  int port() const { return port_; }
  // The host key's public half ("ssh-ed25519 AAAA...").
  const std::string& hostKeyPublic() const { return hostKeyPublic_; }
  std::string log() const { return readFileText(process_->logFile()); }

 private:
  SshServer() = default;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
  std::string hostKeyPublic_;
};

}  // namespace rollgate::hosttest
