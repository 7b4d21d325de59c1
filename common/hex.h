// The one hex codec: lower-case hex of bytes and back (digests, signatures, log fingerprints).
// Header-only, so that libraries which link nothing of common/ can use it.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rollgate {
namespace hex_detail {

inline int digitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace hex_detail

// Lower-case hex, two digits per byte.
inline std::string toHex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

inline std::string toHex(std::string_view bytes) {
  return toHex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

// The bytes of an even-length string of hex digits (either case); nullopt for an odd length or
// any other character.
inline std::optional<std::string> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_detail::digitValue(hex[i]);
    const int low = hex_detail::digitValue(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

}  // namespace rollgate
