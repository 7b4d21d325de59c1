// ArtifactVerifier: checks a downloaded artifact against what the coordinator announced: size,
// SHA-256 (always) and, when trusted build keys are configured, an Ed25519 signature over the
// SHA-256 digest by any one of them (see artifact_crypto.h). With keys configured an unsigned
// artifact is refused.
// Thread-safety: immutable after construction; verify() may run on any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/build_signature.h"
#include "common/result.h"

namespace rollgate::install {

class ArtifactVerifier {
 public:
  ArtifactVerifier() = default;  // no keys: SHA-256 only
  explicit ArtifactVerifier(std::vector<PublicKey> keys) : keys_(std::move(keys)) {}
  // Loads every key file; fails naming the first unreadable or malformed file.
  static Result<ArtifactVerifier> fromKeyFiles(const std::vector<std::string>& paths);

  bool requiresSignature() const { return !keys_.empty(); }
  // expectedBytes 0 = not checked. `signature` is raw bytes or the .sig text form; empty = none.
  Status verify(const std::string& path, const std::string& expectedSha256Hex,
                uint64_t expectedBytes, std::string_view signature) const;

 private:
  std::vector<PublicKey> keys_;
};

}  // namespace rollgate::install
