// The console's page, script and style sheet, embedded into the program at build time
// (embed_assets.cmake turns assets/ into console_assets.cpp): no front-end toolchain, nothing to
// install beside the coordinator.
// Thread-safety: immutable data.
#pragma once

#include <string_view>

namespace rollgate::console {

struct Asset {
  std::string_view path;         // "/", "/console.js", ...
  std::string_view contentType;  // with charset for text
  std::string_view body;
};

// The asset served at `path`; nullptr when there is none.
const Asset* findAsset(std::string_view path);

}  // namespace rollgate::console
