// SshSession: one SSH connection made with libssh, for `rollgate bootstrap`. It checks the
// server's host key against a known_hosts file before anything else (a changed key is always
// refused; an unknown key only is accepted, and recorded, when the caller allows it),
// authenticates with a public key, runs commands and uploads files over exec channels (libssh's
// SCP API is deprecated and SFTP needs a subsystem some hosts lack; `cat` is everywhere).
// Thread-safety: a session is used by one thread; separate sessions may run on separate threads.
#pragma once

#include <chrono>
#include <istream>
#include <memory>
#include <string>

#include "common/result.h"

struct ssh_session_struct;

namespace rollgate::cli {

// Where to connect: USER@HOST[:PORT]; an IPv6 address goes in brackets ("root@[::1]:2222").
struct SshTarget {
  std::string user = "root";
  std::string host;
  int port = 22;

  std::string toString() const;
};

// Parses "[USER@]HOST[:PORT]"; the user defaults to root, the port to 22.
Result<SshTarget> parseSshTarget(const std::string& text);

enum class HostKeyPolicy {
  kStrict,     // the host key must already be in known_hosts
  kAcceptNew,  // an unknown host key is added to known_hosts; a changed key is still refused
};

struct SshOptions {
  SshTarget target;
  std::string identityFile;    // private key; empty: ssh-agent and ~/.ssh's default keys
  std::string knownHostsFile;  // empty: ~/.ssh/known_hosts
  HostKeyPolicy hostKeyPolicy = HostKeyPolicy::kStrict;
  long connectTimeoutSeconds = 20;
};

struct CommandResult {
  int exitStatus = -1;
  std::string out;
  std::string err;
};

class SshSession {
 public:
  // Connects, verifies the host key and authenticates. Errors name the target and, for host
  // keys, the key's SHA256 fingerprint and the known_hosts file.
  static Result<std::unique_ptr<SshSession>> connect(const SshOptions& options);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  // Runs `command` through the remote user's shell, feeding `input` (may be null) to its stdin,
  // and collects stdout, stderr and the exit status. A failure of the command itself is not an
  // error here (look at exitStatus); losing the connection or passing `timeout` is.
  Result<CommandResult> run(const std::string& command, std::istream* input = nullptr,
                            std::chrono::seconds timeout = std::chrono::seconds(600));

  // True if connect() added this host's key to known_hosts (kAcceptNew and an unknown key).
  bool hostKeyAdded() const { return hostKeyAdded_; }
  // The server's host key fingerprint ("SHA256:...").
  const std::string& hostKeyFingerprint() const { return fingerprint_; }
  const SshTarget& target() const { return target_; }

 private:
  struct SessionDeleter {
    void operator()(ssh_session_struct* session) const;
  };
  using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;

  SshSession(SessionPtr session, SshTarget target);
  Status verifyHostKey(const SshOptions& options);
  Status authenticate(const SshOptions& options);
  std::string lastError() const;

  SessionPtr session_;
  SshTarget target_;
  bool hostKeyAdded_ = false;
  std::string fingerprint_;
};

// Quotes `text` for a POSIX shell: 'text' with embedded single quotes escaped.
std::string shellQuote(const std::string& text);

}  // namespace rollgate::cli
