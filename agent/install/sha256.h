// Fast streaming SHA-256 of a file for the agent (OpenSSL EVP: uses the CPU's SHA extensions,
// ~10x libsodium's portable code on this hardware). Same digest as artifact_crypto.h's
// sha256File, which the CLI uses. Thread-safety: free function, no shared state.
#pragma once

#include <string>

#include "common/build_signature.h"

namespace rollgate::install {

Result<Sha256Digest> fastSha256File(const std::string& path);

}  // namespace rollgate::install
