#include "common/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
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

Result<std::string> readKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError("key file " + path + ": " + sys::errnoMessage(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  auto first = text.find_first_not_of(" \t\r\n");
  auto last = text.find_last_not_of(" \t\r\n");
  std::string key = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  if (!isValidZ85Key(key)) {
    return makeError("key file " + path + ": expected a 40-character Z85 CURVE key, got " +
                     std::to_string(key.size()) + " characters");
  }
  return key;
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
