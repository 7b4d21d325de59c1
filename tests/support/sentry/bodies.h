// Request bodies for the Sentry endpoint's tests: gzip as SDKs send it, and captured bodies read
// from files. Header-only (doctest's REQUIRE reports a failure in the calling test).
#pragma once

#include <doctest/doctest.h>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <string>

namespace rollgate::testing::sentry {

// `text` gzip-compressed (Content-Encoding: gzip).
inline std::string gzipped(const std::string& text) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&s, text.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  s.avail_in = static_cast<uInt>(text.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// The bytes of test data file `path`; fails the test when it cannot be read.
inline std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing test data " << path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace rollgate::testing::sentry
