#include "common/stats/sorting.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace rollgate::stats {
namespace {

constexpr std::size_t kRadixThreshold = 2048;
constexpr int kDigitBits = 11;
constexpr std::size_t kBuckets = std::size_t{1} << kDigitBits;
constexpr int kPasses = (64 + kDigitBits - 1) / kDigitBits;

// Maps a double to an unsigned key with the same order.
std::uint64_t toKey(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  return (bits & 0x8000000000000000ULL) != 0 ? ~bits : bits | 0x8000000000000000ULL;
}

double fromKey(std::uint64_t key) {
  const std::uint64_t bits =
      (key & 0x8000000000000000ULL) != 0 ? key & ~0x8000000000000000ULL : ~key;
  return std::bit_cast<double>(bits);
}

}  // namespace

std::vector<double> sortedCopy(std::span<const double> values) {
  if (values.size() < kRadixThreshold) {
    std::vector<double> out(values.begin(), values.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::uint64_t> keys(values.size());
  std::vector<std::uint64_t> scratch(values.size());
  std::vector<std::array<std::size_t, kBuckets>> counts(kPasses);
  for (auto& c : counts) c.fill(0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint64_t key = toKey(values[i]);
    keys[i] = key;
    for (int pass = 0; pass < kPasses; ++pass) {
      ++counts[pass][(key >> (pass * kDigitBits)) & (kBuckets - 1)];
    }
  }
  for (int pass = 0; pass < kPasses; ++pass) {
    auto& count = counts[pass];
    // A digit that every key shares leaves the order as it is: skip the pass.
    const std::uint64_t firstDigit = (keys[0] >> (pass * kDigitBits)) & (kBuckets - 1);
    if (count[firstDigit] == values.size()) continue;
    std::size_t offset = 0;
    for (auto& c : count) {
      const std::size_t n = c;
      c = offset;
      offset += n;
    }
    for (const std::uint64_t key : keys) {
      scratch[count[(key >> (pass * kDigitBits)) & (kBuckets - 1)]++] = key;
    }
    keys.swap(scratch);
  }
  std::vector<double> out(values.size());
  for (std::size_t i = 0; i < keys.size(); ++i) out[i] = fromKey(keys[i]);
  return out;
}

}  // namespace rollgate::stats
