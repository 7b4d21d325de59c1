# Writes OUTPUT, a C++ file holding every file of ASSETS_DIR as bytes, for assets.h's findAsset().
# Run at build time: cmake -DASSETS_DIR=... -DOUTPUT=... -P embed_assets.cmake
set(entries "")
set(arrays "")
set(index 0)
foreach(pair "index.html|/|text/html; charset=utf-8" "console.js|/console.js|text/javascript; charset=utf-8"
             "console.css|/console.css|text/css; charset=utf-8")
  string(REPLACE "|" ";" parts "${pair}")
  list(GET parts 0 file)
  list(GET parts 1 path)
  list(GET parts 2 type)
  file(READ "${ASSETS_DIR}/${file}" hex HEX)
  file(SIZE "${ASSETS_DIR}/${file}" size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char kAsset${index}[] = {${bytes}0x00};\n")
  string(APPEND entries "    {\"${path}\", \"${type}\", std::string_view(reinterpret_cast<const char*>(kAsset${index}), ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from coordinator/console/assets/ by embed_assets.cmake; do not edit.
#include \"coordinator/console/assets.h\"

namespace rollgate::console {
namespace {
${arrays}
const Asset kAssets[] = {
${entries}};
}  // namespace

const Asset* findAsset(std::string_view path) {
  for (const auto& asset : kAssets) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace rollgate::console
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
