#include "common/keys.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/check.h"
#include "common/sys/env.h"
#include "common/sys/error.h"

namespace rollgate {

CurveKeyPair generateCurveKeyPair() {
  char publicKey[41] = {};
  char secretKey[41] = {};
  int rc = zmq_curve_keypair(publicKey, secretKey);
  ROLLGATE_CHECK_EQ(rc, 0, "libzmq built without CURVE support");
  return CurveKeyPair{publicKey, secretKey};
}

bool isValidZ85Key(const std::string& key) {
  if (key.size() != 40) return false;
  std::uint8_t decoded[32];
  return zmq_z85_decode(decoded, key.c_str()) != nullptr;
}

Result<std::string> publicKeyFromSecret(const std::string& secretZ85) {
  if (!isValidZ85Key(secretZ85)) return makeError("not a Z85 CURVE key (expected 40 characters)");
  char publicKey[41] = {};
  if (zmq_curve_public(publicKey, secretZ85.c_str()) != 0) {
    return makeError(std::string("cannot derive public key: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(publicKey);
}

namespace {

Result<std::string> keyFromText(const std::string& path, const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  auto last = text.find_last_not_of(" \t\r\n");
  std::string key = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  if (!isValidZ85Key(key)) {
    return makeError("key file " + path + ": expected a 40-character Z85 CURVE key, got " +
                     std::to_string(key.size()) + " characters");
  }
  return key;
}

std::string octalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string userName(uid_t uid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  char buffer[1024];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

}  // namespace

Result<std::string> readKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError("key file " + path + ": " + sys::errnoMessage(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return keyFromText(path, buffer.str());
}

Status checkSecretFileMode(const std::string& path, uid_t owner, mode_t mode, uid_t user) {
  if (owner != user) {
    return makeError("secret key file " + path + " is owned by " + userName(owner) + " (uid " +
                     std::to_string(owner) + "), not by " + userName(user) + " (uid " +
                     std::to_string(user) + ") that reads it; fix: chown " + userName(user) +
                     " " + path + " && chmod 600 " + path);
  }
  if ((mode & 077) != 0) {
    return makeError("secret key file " + path + " has mode " + octalMode(mode) +
                     ": group or others may read or write it; fix: chmod 600 " + path);
  }
  return {};
}

Result<std::string> readSecretKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return makeError("secret key file " + path + ": " + sys::errnoMessage(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return makeError("secret key file " + path + ": " + sys::errnoMessage(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return makeError("secret key file " + path + " is not a regular file");
  }
  if (auto status = checkSecretFileMode(path, st.st_uid, st.st_mode, ::geteuid()); !status) {
    ::close(fd);
    return status.error();
  }
  std::string text;
  char buffer[256];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return makeError("secret key file " + path + ": " + sys::errnoMessage(err));
    }
    if (n == 0 || text.size() > 4096) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return keyFromText(path, text);
}

Status writeKeyFile(const std::string& path, const std::string& keyZ85, unsigned mode) {
  sys::PosixEnv env;
  if (auto status = sys::writeFileAtomically(env, path, keyZ85 + "\n", mode); !status) {
    return makeError("cannot write key file " + path + ": " + status.error().message);
  }
  return {};
}

Status writeKeyPair(const std::string& prefix, const CurveKeyPair& pair, bool overwrite) {
  std::string secretPath = prefix + ".key";
  std::string publicPath = prefix + ".pub";
  struct stat st {};
  if (!overwrite) {
    for (const auto& path : {secretPath, publicPath}) {
      if (::stat(path.c_str(), &st) == 0) {
        return makeError("key file " + path + " already exists (use --force to replace it)");
      }
    }
  }
  if (auto status = writeKeyFile(secretPath, pair.secretKey, 0600); !status) return status;
  return writeKeyFile(publicPath, pair.publicKey, 0644);
}

Result<std::string> keygenCommand(const std::string& prefix, bool ifMissing, bool force) {
  if (ifMissing && ::access((prefix + ".key").c_str(), F_OK) == 0) {
    auto existing = readKeyFile(prefix + ".key");
    if (!existing) return existing.error();
    return "key " + prefix + ".key exists; left unchanged\n";
  }
  CurveKeyPair pair = generateCurveKeyPair();
  if (auto status = writeKeyPair(prefix, pair, force); !status) return status.error();
  return "wrote " + prefix + ".key (secret, mode 0600) and " + prefix + ".pub\npublic key: " +
         pair.publicKey + "\n";
}

}  // namespace rollgate
