// The hex codec shared by digests, signatures and log-position fingerprints.
#include "common/hex.h"

#include <doctest/doctest.h>

#include <string>

using rollgate::fromHex;
using rollgate::toHex;

TEST_CASE("hex: lower-case out, either case in, round trip of every byte") {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string hex = toHex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(504) == "fcfdfeff");
  CHECK(fromHex(hex) == all);
  CHECK(fromHex("DEADbeef") == std::string("\xde\xad\xbe\xef"));
  CHECK(toHex("") == "");
  CHECK(fromHex("") == std::string());
}

TEST_CASE("hex: odd lengths and non-digits are rejected") {
  CHECK_FALSE(fromHex("abc").has_value());
  CHECK_FALSE(fromHex("0g").has_value());
  CHECK_FALSE(fromHex("0 ").has_value());
  CHECK_FALSE(fromHex("-1").has_value());
}
