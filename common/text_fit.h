// Cutting text to a byte limit honestly: what is cut is said, with a visible marker, and the cut
// never splits a UTF-8 character. Used wherever a peer's text must fit a wire limit instead of the
// whole message being refused for its size (common/codec.h: fitToWire).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rollgate {

// The marker appended to cut text: "… [truncated N bytes]" (N: bytes of the original cut away).
std::string truncationMarker(std::size_t cutBytes);

// `text` if it has at most maxBytes bytes; otherwise its longest prefix that ends on a UTF-8
// character boundary and leaves room for truncationMarker, followed by the marker, in at most
// maxBytes bytes. When maxBytes cannot even hold the marker, a plain prefix cut on a boundary.
std::string truncateUtf8(std::string_view text, std::size_t maxBytes);

}  // namespace rollgate
