// Writes the fuzz_codec seed corpus: one file per sample message (every message type and union
// member, from tests/unit/common/sample_messages.h), encoded with the real codec.
// Usage: fuzz_codec_seeds SEED_DIR [EMPTY_DIR...]  (every directory is emptied first).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/codec.h"
#include "tests/unit/common/sample_messages.h"

namespace {

int written = 0;

bool writeSeed(const std::filesystem::path& dir, const std::string& kind, const std::string& frame) {
  auto path = dir / (kind + "-" + std::to_string(written++));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << frame;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR [EMPTY_DIR...]\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::filesystem::remove_all(argv[i], ec);
    std::filesystem::create_directories(argv[i], ec);
    if (ec) {
      std::fprintf(stderr, "cannot create %s: %s\n", argv[i], ec.message().c_str());
      return 1;
    }
  }
  const std::filesystem::path dir = argv[1];
  namespace t = rollgate::testing;
  bool ok = true;
  for (const auto& m : t::sampleAgentMessages()) ok &= writeSeed(dir, "agent", rollgate::encode(m));
  for (const auto& m : t::sampleCoordinatorMessages()) {
    ok &= writeSeed(dir, "coordinator", rollgate::encode(m));
  }
  for (const auto& m : t::sampleBroadcasts()) ok &= writeSeed(dir, "broadcast", rollgate::encode(m));
  for (const auto& m : t::sampleAdminRequests()) {
    ok &= writeSeed(dir, "admin-request", rollgate::encode(m));
  }
  for (const auto& m : t::sampleAdminReplies()) {
    ok &= writeSeed(dir, "admin-reply", rollgate::encode(m));
  }
  std::printf("wrote %d seeds to %s\n", written, dir.c_str());
  return ok ? 0 : 1;
}
