#include "cli/ssh_session.h"

#include <libssh/libssh.h>

#include <array>
#include <cstdlib>

namespace rollgate::cli {
namespace {

struct KeyDeleter {
  void operator()(ssh_key_struct* key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

struct ChannelDeleter {
  void operator()(ssh_channel_struct* channel) const {
    if (ssh_channel_is_open(channel) != 0) {
      ssh_channel_close(channel);
    }
    ssh_channel_free(channel);
  }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;

std::string fingerprintOf(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t hashLength = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hashLength) != SSH_OK) {
    return "(no fingerprint)";
  }
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hashLength);
  std::string fingerprint = text != nullptr ? text : "(no fingerprint)";
  ssh_string_free_char(text);
  ssh_clean_pubkey_hash(&hash);
  return fingerprint;
}

}  // namespace

std::string SshTarget::toString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return user + "@" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<SshTarget> parseSshTarget(const std::string& text) {
  SshTarget target;
  std::string rest = text;
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    target.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (target.user.empty()) {
      return makeError("ssh target '" + text + "': empty user before '@'");
    }
  }
  std::string portText;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) {
      return makeError("ssh target '" + text + "': '[' without ']'");
    }
    target.host = rest.substr(1, close - 1);
    const std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return makeError("ssh target '" + text + "': expected ':PORT' after ']'");
      }
      portText = after.substr(1);
    }
  } else if (const auto colon = rest.find(':'); colon != std::string::npos) {
    if (rest.find(':', colon + 1) != std::string::npos) {
      return makeError("ssh target '" + text + "': an IPv6 address needs brackets ([::1]:22)");
    }
    target.host = rest.substr(0, colon);
    portText = rest.substr(colon + 1);
  } else {
    target.host = rest;
  }
  if (target.host.empty()) {
    return makeError("ssh target '" + text + "': no host");
  }
  if (!portText.empty() || (rest.find(':') != std::string::npos && rest.front() != '[')) {
    char* end = nullptr;
    const long port = std::strtol(portText.c_str(), &end, 10);
    if (portText.empty() || *end != '\0' || port < 1 || port > 65535) {
      return makeError("ssh target '" + text + "': port '" + portText +
                       "' is not a number from 1 to 65535");
    }
    target.port = static_cast<int>(port);
  }
  return target;
}

std::string shellQuote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += "'";
  return quoted;
}

void SshSession::SessionDeleter::operator()(ssh_session_struct* session) const {
  if (ssh_is_connected(session) != 0) {
    ssh_disconnect(session);
  }
  ssh_free(session);
}

SshSession::SshSession(SessionPtr session, SshTarget target)
    : session_(std::move(session)), target_(std::move(target)) {}

SshSession::~SshSession() = default;

std::string SshSession::lastError() const {
  const char* message = ssh_get_error(session_.get());
  return message != nullptr && *message != '\0' ? message : "unknown libssh error";
}

Result<std::unique_ptr<SshSession>> SshSession::connect(const SshOptions& options) {
  const std::string where = options.target.toString();
  SessionPtr raw(ssh_new());
  if (!raw) {
    return makeError(where + ": libssh could not allocate a session");
  }
  ssh_session s = raw.get();
  const int port = options.target.port;
  const long timeoutSeconds = options.connectTimeoutSeconds;
  if (ssh_options_set(s, SSH_OPTIONS_HOST, options.target.host.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_USER, options.target.user.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeoutSeconds) != SSH_OK) {
    // Note: never set SSH_OPTIONS_STRICTHOSTKEYCHECK to 0; libssh then reports every key as
    // known (ssh_session_is_known_server() == SSH_KNOWN_HOSTS_OK).
    return makeError(where + ": setting libssh options: " + ssh_get_error(s));
  }
  if (!options.knownHostsFile.empty() &&
      ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, options.knownHostsFile.c_str()) != SSH_OK) {
    return makeError(where + ": known_hosts '" + options.knownHostsFile + "': " + ssh_get_error(s));
  }
  if (!options.knownHostsFile.empty()) {
    // With an explicit known_hosts file, that file alone decides (no system-wide file).
    if (ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK) {
      return makeError(where + ": setting libssh options: " + ssh_get_error(s));
    }
  }
  if (ssh_connect(s) != SSH_OK) {
    return makeError(where + ": cannot connect: " + ssh_get_error(s));
  }
  std::unique_ptr<SshSession> session(new SshSession(std::move(raw), options.target));
  if (auto st = session->verifyHostKey(options); !st) {
    return st.error();
  }
  if (auto st = session->authenticate(options); !st) {
    return st.error();
  }
  return session;
}

Status SshSession::verifyHostKey(const SshOptions& options) {
  const std::string where = target_.toString();
  ssh_key rawKey = nullptr;
  if (ssh_get_server_publickey(session_.get(), &rawKey) != SSH_OK) {
    return makeError(where + ": no host key from server: " + lastError());
  }
  KeyPtr key(rawKey);
  fingerprint_ = fingerprintOf(key.get());
  const std::string knownHosts =
      options.knownHostsFile.empty() ? "~/.ssh/known_hosts" : options.knownHostsFile;

  switch (ssh_session_is_known_server(session_.get())) {
    case SSH_KNOWN_HOSTS_OK:
      return {};
    case SSH_KNOWN_HOSTS_CHANGED:
      return makeError(where + ": host key CHANGED (now " + fingerprint_ + ", " + knownHosts +
                       " has another key for this host); refusing to connect. If the host was "
                       "reinstalled, remove its old entry (ssh-keygen -R) and verify the new key");
    case SSH_KNOWN_HOSTS_OTHER:
      return makeError(where + ": host key of another type than the one in " + knownHosts + " (" +
                       fingerprint_ + "); refusing to connect, as this may be an attack");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (options.hostKeyPolicy != HostKeyPolicy::kAcceptNew) {
        return makeError(where + ": host key " + fingerprint_ + " is not in " + knownHosts +
                         "; check it and rerun with --accept-new-host-key to trust it");
      }
      if (ssh_session_update_known_hosts(session_.get()) != SSH_OK) {
        return makeError(where + ": cannot add host key to " + knownHosts + ": " + lastError());
      }
      hostKeyAdded_ = true;
      return {};
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  return makeError(where + ": checking host key against " + knownHosts + ": " + lastError());
}

Status SshSession::authenticate(const SshOptions& options) {
  const std::string where = target_.toString();
  int rc = SSH_AUTH_ERROR;
  if (!options.identityFile.empty()) {
    ssh_key rawKey = nullptr;
    if (ssh_pki_import_privkey_file(options.identityFile.c_str(), nullptr, nullptr, nullptr,
                                    &rawKey) != SSH_OK) {
      return makeError("identity '" + options.identityFile +
                       "': cannot read the private key (missing, unreadable or passphrase-protected;"
                       " use ssh-agent for a protected key)");
    }
    KeyPtr key(rawKey);
    rc = ssh_userauth_publickey(session_.get(), nullptr, key.get());
  } else {
    rc = ssh_userauth_publickey_auto(session_.get(), nullptr, nullptr);
  }
  if (rc == SSH_AUTH_SUCCESS) {
    return {};
  }
  if (rc == SSH_AUTH_ERROR) {
    return makeError(where + ": authentication error: " + lastError());
  }
  return makeError(where + ": public key authentication refused" +
                   (options.identityFile.empty() ? std::string(" (ssh-agent and ~/.ssh keys)")
                                                 : " for key '" + options.identityFile + "'"));
}

Result<CommandResult> SshSession::run(const std::string& command, std::istream* input,
                                      std::chrono::seconds timeout) {
  const std::string where = target_.toString();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ChannelPtr channel(ssh_channel_new(session_.get()));
  if (!channel) {
    return makeError(where + ": cannot create a channel: " + lastError());
  }
  if (ssh_channel_open_session(channel.get()) != SSH_OK) {
    return makeError(where + ": cannot open a session channel: " + lastError());
  }
  if (ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK) {
    return makeError(where + ": cannot run a command: " + lastError());
  }
  std::array<char, 64 * 1024> buffer{};
  if (input != nullptr) {
    while (*input) {
      input->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto count = static_cast<uint32_t>(input->gcount());
      for (uint32_t written = 0; written < count;) {
        const int n = ssh_channel_write(channel.get(), buffer.data() + written, count - written);
        if (n == SSH_ERROR) {
          return makeError(where + ": sending input failed: " + lastError());
        }
        written += static_cast<uint32_t>(n);
      }
    }
  }
  if (ssh_channel_send_eof(channel.get()) != SSH_OK) {
    return makeError(where + ": closing the command's input failed: " + lastError());
  }
  CommandResult result;
  constexpr int kPollMillis = 200;
  while (true) {
    const int n = ssh_channel_read_timeout(channel.get(), buffer.data(),
                                           static_cast<uint32_t>(buffer.size()), 0, kPollMillis);
    if (n == SSH_ERROR) {
      return makeError(where + ": reading output failed: " + lastError());
    }
    result.out.append(buffer.data(), static_cast<size_t>(std::max(n, 0)));
    const int e = ssh_channel_read_nonblocking(channel.get(), buffer.data(),
                                               static_cast<uint32_t>(buffer.size()), 1);
    if (e == SSH_ERROR) {
      return makeError(where + ": reading error output failed: " + lastError());
    }
    result.err.append(buffer.data(), static_cast<size_t>(std::max(e, 0)));
    if (n <= 0 && e <= 0 && ssh_channel_is_eof(channel.get()) != 0) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return makeError(where + ": command did not finish within " +
                       std::to_string(timeout.count()) + " s: " + command.substr(0, 80));
    }
  }
  result.exitStatus = ssh_channel_get_exit_status(channel.get());
  return result;
}

}  // namespace rollgate::cli
