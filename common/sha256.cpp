#include "common/sha256.h"

#include <fcntl.h>
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they are a few
// objects of the static libcrypto.a (with the same SHA-extension code), where EVP pulls in the
// provider machinery; see common/CMakeLists.txt.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "common/hex.h"
#include "common/sys/error.h"

namespace rollgate {

void Sha256::CtxDeleter::operator()(SHA256state_st* ctx) const { delete ctx; }

Sha256::Sha256() : ctx_(new SHA256state_st) {
  ROLLGATE_CHECK_EQ(SHA256_Init(ctx_.get()), 1, "OpenSSL: SHA-256 unavailable");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const unsigned char* data, std::size_t size) {
  ROLLGATE_CHECK(ctx_ != nullptr, "update() after finish()");
  ROLLGATE_CHECK_EQ(SHA256_Update(ctx_.get(), data, size), 1);
}

void Sha256::update(std::string_view data) {
  update(reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

Sha256Digest Sha256::finish() {
  ROLLGATE_CHECK(ctx_ != nullptr, "finish() twice");
  Sha256Digest digest;
  ROLLGATE_CHECK_EQ(SHA256_Final(digest.data(), ctx_.get()), 1);
  ctx_.reset();
  return digest;
}

Sha256Digest sha256(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish();
}

std::string sha256Hex(std::string_view data) { return toHex(sha256(data)); }

std::string toHex(const Sha256Digest& digest) { return toHex(digest.data(), digest.size()); }

Result<Sha256Digest> sha256File(const std::string& path, std::uint64_t limitBytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return makeError("sha256 " + path + ": " + sys::errnoMessage(errno));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Sha256 hash;
  std::vector<unsigned char> buffer(1 << 20);
  std::uint64_t remaining = limitBytes;
  while (remaining > 0) {
    std::size_t want =
        buffer.size() < remaining ? buffer.size() : static_cast<std::size_t>(remaining);
    ssize_t n = ::read(fd, buffer.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return makeError("sha256 " + path + ": read: " + sys::errnoMessage(err));
    }
    if (n == 0) break;
    hash.update(buffer.data(), static_cast<std::size_t>(n));
    remaining -= static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return hash.finish();
}

Result<Sha256Digest> parseSha256Hex(std::string_view hex) {
  auto bytes = hex.size() == kSha256Bytes * 2 ? fromHex(hex) : std::nullopt;
  if (!bytes) return makeError("sha256 '" + std::string(hex) + "': expected 64 hex digits");
  Sha256Digest digest;
  std::memcpy(digest.data(), bytes->data(), digest.size());
  return digest;
}

}  // namespace rollgate
