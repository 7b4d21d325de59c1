// The one SHA-256: artifact digests on the agent (verification), the coordinator (uploads) and
// the CLI (push, sign, bootstrap). OpenSSL's SHA-256, which uses the CPU's SHA extensions
// (about five times libsodium's portable code on x86-64), linked statically (only its SHA-256
// objects; the shared libcrypto costs a program 1.4 MB of resident memory).
// Thread-safety: a Sha256 object belongs to one thread; the free functions share no state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

struct SHA256state_st;

namespace rollgate {

inline constexpr std::size_t kSha256Bytes = 32;
using Sha256Digest = std::array<unsigned char, kSha256Bytes>;

// Streaming digest: update() any number of times, then finish() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::string_view data);
  void update(const unsigned char* data, std::size_t size);
  // Requires: not finished before.
  Sha256Digest finish();

 private:
  struct CtxDeleter {
    void operator()(SHA256state_st* ctx) const;
  };
  std::unique_ptr<SHA256state_st, CtxDeleter> ctx_;
};

Sha256Digest sha256(std::string_view data);
// Lower-case hex of the digest of `data`.
std::string sha256Hex(std::string_view data);
std::string toHex(const Sha256Digest& digest);

// Digest of the first `limitBytes` bytes of a file (all of it by default). Errors name the file.
Result<Sha256Digest> sha256File(const std::string& path, std::uint64_t limitBytes = UINT64_MAX);

// Exactly 64 hex digits (either case) to a digest; the error quotes the text.
Result<Sha256Digest> parseSha256Hex(std::string_view hex);

}  // namespace rollgate
