#include "tests/support/sshd/test_host.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/sys/error.h"

extern char** environ;

namespace rollgate::hosttest {

CommandOutput runShell(const std::string& command) {
  CommandOutput result;
  const std::string full = "exec 2>&1; " + command;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed: " + std::string(sys::errnoMessage(errno));
    return result;
  }
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string quoteShell(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

std::string readFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status writeFileText(const std::string& path, const std::string& text, unsigned mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
      return makeError("cannot write " + path);
    }
  }
  if (chmod(path.c_str(), mode) != 0) {
    return makeError("chmod " + path + ": " + sys::errnoMessage(errno));
  }
  return {};
}

std::string missingPrerequisites(const std::vector<std::string>& programs) {
  std::string missing;
  if (geteuid() != 0) {
    missing = "root (mount namespaces, chroot)";
  }
  for (const auto& program : programs) {
    if (runShell("command -v " + quoteShell(program)).exitCode != 0) {
      missing += (missing.empty() ? "" : ", ") + program;
    }
  }
  return missing;
}

TempDir::TempDir(const std::string& parent, const std::string& prefix) {
  std::filesystem::create_directories(parent);
  std::string pattern = parent + "/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s: %s\n", pattern.c_str(), sys::errnoMessage(errno).c_str());
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

Status copyTree(const std::string& from, const std::string& to) {
  const auto copied = runShell("cp -a " + quoteShell(from) + " " + quoteShell(to));
  if (copied.exitCode != 0) {
    return makeError("cp -a " + from + " " + to + ": " + copied.output);
  }
  return {};
}

CommandOutput runInRoot(const std::string& root, const std::string& command) {
  const std::string inner = "mount -t proc proc " + quoteShell(root + "/proc") +
                            " && mount --rbind /dev " + quoteShell(root + "/dev") +
                            " && exec chroot " + quoteShell(root) + " /bin/sh -c " +
                            quoteShell(command);
  return runShell("unshare --mount --propagation private --fork /bin/sh -c " + quoteShell(inner));
}

CommandOutput runWithRootMounts(const std::string& root, const std::string& hostCommand) {
  const std::string inner = "mount -t proc proc " + quoteShell(root + "/proc") +
                            " && mount --rbind /dev " + quoteShell(root + "/dev") + " && " +
                            hostCommand;
  return runShell("unshare --mount --propagation private --fork /bin/sh -c " + quoteShell(inner));
}

int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return 0;
  }
  close(fd);
  return ntohs(address.sin_port);
}

bool waitForLoopbackPort(int port, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool connected =
        connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    if (connected) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                         const std::string& logFile,
                                                         const std::vector<std::string>& extraEnv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e) {
    envStrings.emplace_back(*e);
  }
  envStrings.insert(envStrings.end(), extraEnv.begin(), extraEnv.end());
  std::vector<char*> env;
  for (auto& e : envStrings) {
    env.push_back(e.data());
  }
  env.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv.at(0).c_str(), &actions, &attributes, args.data(),
                             env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return makeError("spawn " + argv[0] + ": " + sys::errnoMessage(rc));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, logFile));
}

bool ChildProcess::running() {
  if (reaped_) {
    return false;
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

void ChildProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) {
    kill(-pid_, SIGKILL);  // leftovers in the group, if any
    return;
  }
  kill(-pid_, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + grace;
  while (running() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid_, SIGKILL);
  if (!reaped_) {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
  }
}

ChildProcess::~ChildProcess() { stop(); }

Result<std::unique_ptr<SshServer>> SshServer::start(const std::string& root,
                                                   const std::string& authorizedKeysFile,
                                                   const std::string& scratchDir,
                                                   int fixedPort) {
  std::unique_ptr<SshServer> server(new SshServer());
  const std::string hostKey = scratchDir + "/ssh_host_ed25519_key";
  const auto keygen = runShell("test -e " + quoteShell(hostKey) + " || ssh-keygen -q -t ed25519 -N '' -C rollgate-test-host -f " +
                               quoteShell(hostKey));
  if (keygen.exitCode != 0) {
    return makeError("ssh-keygen for the host key: " + keygen.output);
  }
  server->hostKeyPublic_ = readFileText(hostKey + ".pub");
  while (!server->hostKeyPublic_.empty() &&
         (server->hostKeyPublic_.back() == '\n' || server->hostKeyPublic_.back() == ' ')) {
    server->hostKeyPublic_.pop_back();
  }
  // Keep "type base64" only.
  if (const auto space = server->hostKeyPublic_.find(' ', server->hostKeyPublic_.find(' ') + 1);
      space != std::string::npos) {
    server->hostKeyPublic_.resize(space);
  }

  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = fixedPort != 0 ? fixedPort : freeLoopbackPort();
    const std::string config = scratchDir + "/sshd_config";
    const std::string text =
        "ListenAddress 127.0.0.1:" + std::to_string(port) + "\n" +
        "HostKey " + hostKey + "\n"
        "PidFile none\n"
        "UsePAM no\n"
        "PermitRootLogin prohibit-password\n"
        "AllowUsers root\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "AuthorizedKeysFile " + authorizedKeysFile + "\n"
        "StrictModes no\n"
        "ChrootDirectory /mnt\n"
        "Subsystem sftp internal-sftp\n"
        "LogLevel VERBOSE\n";
    if (auto st = writeFileText(config, text); !st) {
      return st.error();
    }
    const std::string inner = "mount --bind " + quoteShell(root) + " /mnt" +
                              " && mount -t proc proc /mnt/proc" +
                              " && mount --rbind /dev /mnt/dev" +
                              " && mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd" +
                              " && exec /usr/sbin/sshd -D -e -f " + quoteShell(config);
    auto process = ChildProcess::spawn(
        {"/usr/bin/unshare", "--mount", "--propagation", "private", "--fork", "/bin/sh", "-c", inner},
        scratchDir + "/sshd.log");
    if (!process) {
      return process.error();
    }
    server->process_ = std::move(*process);
    server->port_ = port;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end && server->process_->running()) {
      if (waitForLoopbackPort(port, std::chrono::milliseconds(200))) {
        return server;
      }
    }
    server->process_->stop();
    if (fixedPort != 0 || readFileText(scratchDir + "/sshd.log").find("Address already in use") ==
                              std::string::npos) {
      break;
    }
  }
  return makeError("sshd did not start: " + readFileText(scratchDir + "/sshd.log"));
}

}  // namespace rollgate::hosttest
