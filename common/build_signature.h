// Build signatures: Ed25519 detached signatures (libsodium) over an artifact's SHA-256
// (common/sha256.h). In common/ because the agent (verification) and the
// `rollgate sign` CLI (key generation, signing) must use exactly the same code, and neither side
// includes the other. Header-only.
//
// What is signed: the 32 raw bytes of the artifact's SHA-256 digest (crypto_sign_detached).
//
// Key files (text, one label line then one line of standard base64, trailing newline):
//   PREFIX.key  (mode 0600)  "rollgate-build-key ed25519 secret\n" + base64(64-byte secret key)
//   PREFIX.pub               "rollgate-build-key ed25519 public\n" + base64(32-byte public key)
// Signature files (FILE.sig):
//   "rollgate-signature ed25519\n" + base64(64-byte signature)
// parseSignature() also accepts the 64 raw signature bytes (the wire's InstallRelease.signature
// may carry either form).
//
// Thread-safety: free functions without shared state (sodium_init() is idempotent and
// thread-safe).
#pragma once

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/sha256.h"
#include "common/sys/env.h"
#include "common/sys/error.h"

namespace rollgate::install {

using PublicKey = std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>;
using SecretKey = std::array<unsigned char, crypto_sign_SECRETKEYBYTES>;
using Signature = std::array<unsigned char, crypto_sign_BYTES>;

inline constexpr std::string_view kSecretKeyLabel = "rollgate-build-key ed25519 secret";
inline constexpr std::string_view kPublicKeyLabel = "rollgate-build-key ed25519 public";
inline constexpr std::string_view kSignatureLabel = "rollgate-signature ed25519";

inline Status ensureSodium() {
  if (sodium_init() < 0) return makeError("libsodium: sodium_init failed");
  return {};
}

inline std::string toBase64(const unsigned char* data, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

namespace detail {

inline std::string trimmed(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

// Parses "<label>\n<base64>\n" into exactly N bytes.
template <size_t N>
Result<std::array<unsigned char, N>> parseLabelled(std::string_view text, std::string_view label,
                                                   const std::string& what) {
  size_t newline = text.find('\n');
  if (newline == std::string_view::npos || trimmed(text.substr(0, newline)) != label) {
    return makeError(what + ": expected first line '" + std::string(label) + "'");
  }
  std::string body = trimmed(text.substr(newline + 1));
  std::array<unsigned char, N> out;
  size_t binLen = 0;
  if (sodium_base642bin(out.data(), out.size(), body.data(), body.size(), nullptr, &binLen,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      binLen != N) {
    return makeError(what + ": expected base64 of " + std::to_string(N) + " bytes on line 2");
  }
  return out;
}

inline Result<std::string> readSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(path + ": cannot open: " + sys::errnoMessage(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 4096) return makeError(path + ": too large for a key or signature");
  return text.str();
}

inline Status writeFileMode(const std::string& path, const std::string& content, mode_t mode) {
  sys::PosixEnv env;
  if (auto s = sys::writeFileAtomically(env, path, content, mode); !s) {
    return makeError(path + ": cannot write: " + s.error().message);
  }
  return {};
}

}  // namespace detail

inline Result<PublicKey> readPublicKey(const std::string& path) {
  auto text = detail::readSmallFile(path);
  if (!text) return text.error();
  return detail::parseLabelled<crypto_sign_PUBLICKEYBYTES>(*text, kPublicKeyLabel,
                                                           "public key " + path);
}

inline Result<SecretKey> readSecretKey(const std::string& path) {
  auto text = detail::readSmallFile(path);
  if (!text) return text.error();
  return detail::parseLabelled<crypto_sign_SECRETKEYBYTES>(*text, kSecretKeyLabel,
                                                           "secret key " + path);
}

// Accepts the text form of a .sig file or 64 raw bytes.
inline Result<Signature> parseSignature(std::string_view bytes) {
  if (bytes.size() == crypto_sign_BYTES) {
    Signature sig;
    std::memcpy(sig.data(), bytes.data(), sig.size());
    return sig;
  }
  return detail::parseLabelled<crypto_sign_BYTES>(bytes, kSignatureLabel, "signature");
}

inline std::string formatSignature(const Signature& sig) {
  return std::string(kSignatureLabel) + "\n" + toBase64(sig.data(), sig.size()) + "\n";
}

// Writes PREFIX.key (0600) and PREFIX.pub. Refuses to overwrite an existing secret key.
inline Status generateKeyPair(const std::string& prefix) {
  if (auto s = ensureSodium(); !s) return s;
  std::string keyPath = prefix + ".key", pubPath = prefix + ".pub";
  struct stat st;
  if (::stat(keyPath.c_str(), &st) == 0) {
    return makeError(keyPath + ": already exists; refusing to overwrite a secret key");
  }
  PublicKey pk;
  SecretKey sk;
  crypto_sign_keypair(pk.data(), sk.data());
  std::string secretText =
      std::string(kSecretKeyLabel) + "\n" + toBase64(sk.data(), sk.size()) + "\n";
  sodium_memzero(sk.data(), sk.size());
  if (auto s = detail::writeFileMode(keyPath, secretText, 0600); !s) return s;
  sodium_memzero(secretText.data(), secretText.size());
  return detail::writeFileMode(pubPath,
                               std::string(kPublicKeyLabel) + "\n" +
                                   toBase64(pk.data(), pk.size()) + "\n",
                               0644);
}

inline Result<Signature> signDigest(const Sha256Digest& digest, const SecretKey& key) {
  if (auto s = ensureSodium(); !s) return s.error();
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, digest.data(), digest.size(), key.data());
  return sig;
}

inline bool verifyDigest(const Sha256Digest& digest, const Signature& sig, const PublicKey& key) {
  if (!ensureSodium()) return false;
  return crypto_sign_verify_detached(sig.data(), digest.data(), digest.size(), key.data()) == 0;
}

}  // namespace rollgate::install
