// CURVE key files. A key file holds one Z85-encoded 32-byte key (40 characters) and a newline:
// PREFIX.key is the secret key (mode 0600), PREFIX.pub the public key.
// Thread-safety: free functions, no shared state.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace rollgate {

struct CurveKeyPair {
  std::string publicKey;  // Z85, 40 characters
  std::string secretKey;  // Z85, 40 characters
};

CurveKeyPair generateCurveKeyPair();

// True if `key` is 40 characters of the Z85 alphabet that decode to 32 bytes.
bool isValidZ85Key(const std::string& key);

// Derives the public key from a Z85 secret key.
Result<std::string> publicKeyFromSecret(const std::string& secretZ85);

// Reads a key file (whitespace around the key is ignored). Errors name the path and the problem.
Result<std::string> readKeyFile(const std::string& path);

// Reads a secret key file as a daemon must: the file belongs to the effective user and neither
// group nor others may read or write it (mode 0600 or stricter), else an error naming the path,
// the owner or the mode, and the command that fixes it (checked on the open file, not the path).
Result<std::string> readSecretKeyFile(const std::string& path);
// The check itself (pure): `owner`/`mode` of the file, `user` the effective uid.
Status checkSecretFileMode(const std::string& path, uid_t owner, mode_t mode, uid_t user);

// Writes PREFIX.key (0600) and PREFIX.pub (0644). Refuses to overwrite unless `overwrite`.
Status writeKeyPair(const std::string& prefix, const CurveKeyPair& pair, bool overwrite);

// Writes one key to `path` atomically (temporary file + rename) with the given mode.
Status writeKeyFile(const std::string& path, const std::string& keyZ85, unsigned mode);

// The `keygen` command shared by `rollgate keygen` and `rollgate-agent keygen`: writes a new pair
// at PREFIX unless one exists (`ifMissing`: that is success; otherwise an error unless `force`).
// Returns the lines to print.
Result<std::string> keygenCommand(const std::string& prefix, bool ifMissing, bool force);

}  // namespace rollgate
