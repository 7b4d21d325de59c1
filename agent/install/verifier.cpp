#include "agent/install/verifier.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/build_signature.h"
#include "common/sha256.h"
#include "common/sys/error.h"

namespace rollgate::install {

Result<ArtifactVerifier> ArtifactVerifier::fromKeyFiles(const std::vector<std::string>& paths) {
  std::vector<PublicKey> keys;
  for (const auto& path : paths) {
    auto key = readPublicKey(path);
    if (!key) return key.error();
    keys.push_back(*key);
  }
  return ArtifactVerifier(std::move(keys));
}

Status ArtifactVerifier::verify(const std::string& path, const std::string& expectedSha256Hex,
                                uint64_t expectedBytes, std::string_view signature) const {
  auto expected = parseSha256Hex(expectedSha256Hex);
  if (!expected) return expected.error();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return makeError(path + ": " + sys::errnoMessage(errno));
  if (expectedBytes != 0 && static_cast<uint64_t>(st.st_size) != expectedBytes) {
    return makeError("artifact " + path + ": size " + std::to_string(st.st_size) +
                     " bytes, expected " + std::to_string(expectedBytes) + " (truncated or wrong)");
  }
  auto actual = sha256File(path);
  if (!actual) return actual.error();
  if (*actual != *expected) {
    return makeError("artifact " + path + ": sha256 mismatch: got " + toHex(*actual) +
                     ", expected " + expectedSha256Hex);
  }
  if (keys_.empty()) return {};
  if (signature.empty()) {
    return makeError("artifact " + path + ": unsigned, but " + std::to_string(keys_.size()) +
                     " trusted build key(s) are configured; refusing it");
  }
  auto sig = parseSignature(signature);
  if (!sig) return makeError("artifact " + path + ": " + sig.error().message);
  for (const auto& key : keys_) {
    if (verifyDigest(*actual, *sig, key)) return {};
  }
  return makeError("artifact " + path + ": signature does not verify with any of the " +
                   std::to_string(keys_.size()) + " trusted build key(s)");
}

}  // namespace rollgate::install
