// The one errno formatter: errnoMessage(ENOSPC) == "No space left on device". Use it wherever an
// errno becomes text, so messages read the same everywhere ("PATH: write: No space left on
// device"). Header-only, so that libraries linking nothing of common/ can use it.
// Thread-safety: thread-safe (strerror_r, no shared buffer).
#pragma once

#include <cstring>
#include <string>

namespace rollgate::sys {

inline std::string errnoMessage(int err) {
  char buffer[256];
  // GNU strerror_r returns the message, which may or may not be in `buffer`.
  const char* text = ::strerror_r(err, buffer, sizeof buffer);
  return text != nullptr ? std::string(text) : "errno " + std::to_string(err);
}

}  // namespace rollgate::sys
