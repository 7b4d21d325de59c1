#include "common/text_fit.h"

namespace rollgate {
namespace {

bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The largest prefix length <= limit that does not end inside a multi-byte character.
std::size_t boundaryAtOrBefore(std::string_view text, std::size_t limit) {
  if (limit >= text.size()) return text.size();
  std::size_t end = limit;
  while (end > 0 && isContinuation(text[end])) --end;
  return end;
}

}  // namespace

std::string truncationMarker(std::size_t cutBytes) {
  return "\xE2\x80\xA6 [truncated " + std::to_string(cutBytes) + " bytes]";
}

std::string truncateUtf8(std::string_view text, std::size_t maxBytes) {
  if (text.size() <= maxBytes) return std::string(text);
  // The marker's length depends on how much is cut, which depends on the marker's length: the
  // cut only grows from one pass to the next and the digit count is bounded, so this settles.
  std::size_t keep = 0;
  std::string marker = truncationMarker(text.size());
  for (int pass = 0; pass < 4; ++pass) {
    if (marker.size() > maxBytes) {
      return std::string(text.substr(0, boundaryAtOrBefore(text, maxBytes)));
    }
    keep = boundaryAtOrBefore(text, maxBytes - marker.size());
    std::string next = truncationMarker(text.size() - keep);
    if (next.size() <= marker.size()) {
      marker = std::move(next);
      break;
    }
    marker = std::move(next);
  }
  keep = boundaryAtOrBefore(text, maxBytes - marker.size());
  return std::string(text.substr(0, keep)) + truncationMarker(text.size() - keep);
}

}  // namespace rollgate
