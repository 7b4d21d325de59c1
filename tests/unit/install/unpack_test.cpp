// Safe unpack: valid archives in every supported compression, and the tar-slip suite. Every
// hostile archive must be refused with an error naming the entry, leave no release and no temp dir
// behind, and write nothing outside the release directory.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>

#include "agent/install/unpack.h"
#include "tests/unit/install/archive_builder.h"
#include "tests/unit/install/temp_dir.h"

using namespace rollgate;
using namespace rollgate::install;
using rollgate::testing::ArchiveBuilder;
using rollgate::testing::Compression;
using rollgate::testing::TempDir;

namespace {

struct Sandbox {
  TempDir tmp;
  std::string releases = tmp / "root/releases";
  std::string outside = tmp / "outside";
  std::string archive = tmp / "artifact.tar";
  std::atomic<bool> cancel{false};
  Sandbox() {
    std::filesystem::create_directories(releases);
    std::filesystem::create_directories(outside);
    rollgate::testing::writeText(outside + "/secret", "do not touch");
  }
  Result<UnpackStats> unpack(const UnpackLimits& limits = {}) {
    return unpackRelease(archive, releases, "1.0", limits, cancel);
  }
  // Nothing in releases/, outside/ unchanged.
  void expectUntouched() const {
    CHECK(rollgate::testing::listTree(releases).empty());
    CHECK(rollgate::testing::listTree(outside) == std::vector<std::string>{"secret"});
    CHECK(rollgate::testing::readText(outside + "/secret") == "do not touch");
  }
};

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("a valid release unpacks in tar, tar.gz and tar.zst") {
  for (auto compression : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    Sandbox box;
    {
      ArchiveBuilder b(box.archive, compression);
      b.dir("www").file("www/index.html", "hello v1\n").file("bin/run", "#!/bin/sh\n", 0755);
      b.symlink("www/latest.html", "index.html").symlink("link-to-bin", "bin");
      b.hardlink("www/copy.html", "www/index.html");
      b.file("./dotted/./name.txt", "x");
    }
    auto stats = box.unpack();
    REQUIRE_MESSAGE(stats.ok(), stats.error().message);
    CHECK(stats->entries == 7);
    std::string dir = box.releases + "/1.0";
    CHECK(rollgate::testing::readText(dir + "/www/index.html") == "hello v1\n");
    CHECK(rollgate::testing::readText(dir + "/www/latest.html") == "hello v1\n");
    CHECK(rollgate::testing::readText(dir + "/www/copy.html") == "hello v1\n");
    CHECK(rollgate::testing::readText(dir + "/dotted/name.txt") == "x");
    struct stat st;
    REQUIRE(::stat((dir + "/bin/run").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0755);
    CHECK(rollgate::testing::listTree(box.releases).front() == "1.0");  // no .tmp-* left
    // A second unpack of the same version is refused, the first stays.
    auto again = box.unpack();
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message.find("already exists") != std::string::npos);
  }
}

TEST_CASE("tar-slip suite: hostile archives are refused and write nothing outside") {
  const std::string etcVictim = "/etc/rollgate-tarslip-" + std::to_string(::getpid());
  struct Case {
    const char* name;
    std::function<void(ArchiveBuilder&, const Sandbox&)> build;
    const char* entry;   // the entry named in the error
    const char* reason;  // a phrase in the error
  };
  std::vector<Case> cases = {
      {"dot-dot path",
       [](ArchiveBuilder& b, const Sandbox&) {
         b.file("ok.txt", "fine").file("../../../outside/pwned", "x");
       },
       "../../../outside/pwned", "'..'"},
      {"dot-dot in the middle",
       [](ArchiveBuilder& b, const Sandbox&) { b.file("a/../../x", "x"); }, "a/../../x", "'..'"},
      {"absolute path /etc/x",
       [&](ArchiveBuilder& b, const Sandbox&) { b.file(etcVictim, "x"); }, etcVictim.c_str(),
       "absolute"},
      {"symlink to /etc then a file through it",
       [&](ArchiveBuilder& b, const Sandbox&) {
         b.symlink("etc", "/etc").file("etc/" + etcVictim.substr(5), "x");
       },
       "etc", "absolute"},
      {"relative symlink out then a file through it",
       [](ArchiveBuilder& b, const Sandbox&) {
         b.dir("a").symlink("a/up", "../../../../outside").file("a/up/pwned", "x");
       },
       "a/up", "leaves the release directory"},
      {"symlink chain escaping through another symlink",
       [](ArchiveBuilder& b, const Sandbox&) {
         b.dir("sub").symlink("sub/c", "..").symlink("a", "sub/c/../outside");
       },
       "a", "goes through symlink"},
      {"hardlink to a file outside (absolute)",
       [&](ArchiveBuilder& b, const Sandbox& box) { b.hardlink("h", box.outside + "/secret"); },
       "h", "absolute"},
      {"hardlink out with dot-dot",
       [](ArchiveBuilder& b, const Sandbox&) { b.hardlink("h", "../../../outside/secret"); }, "h",
       "'..'"},
      {"hardlink to something not in the archive",
       [](ArchiveBuilder& b, const Sandbox&) { b.hardlink("h", "etc/passwd"); }, "h",
       "not a regular file earlier"},
      {"character device node",
       [](ArchiveBuilder& b, const Sandbox&) { b.node("dev/null2", AE_IFCHR); }, "dev/null2",
       "device"},
      {"block device node",
       [](ArchiveBuilder& b, const Sandbox&) { b.node("disk", AE_IFBLK); }, "disk", "device"},
      {"fifo", [](ArchiveBuilder& b, const Sandbox&) { b.node("pipe", AE_IFIFO); }, "pipe",
       "fifo"},
      {"setuid file",
       [](ArchiveBuilder& b, const Sandbox&) { b.file("bin/tool", "#!/bin/sh\n", 04755); },
       "bin/tool", "setuid"},
      {"setgid directory", [](ArchiveBuilder& b, const Sandbox&) { b.dir("shared", 02775); },
       "shared/", "setgid"},
      {"a directory replaced by a symlink",
       [](ArchiveBuilder& b, const Sandbox&) {
         b.dir("d").file("d/a.txt", "a").symlink("d", "other").file("d/b.txt", "b");
       },
       "d", "replaces a directory"},
      {"a file written through an in-tree symlink",
       [](ArchiveBuilder& b, const Sandbox&) {
         b.dir("real").symlink("alias", "real").file("alias/x", "x");
       },
       "alias/x", "is a symlink"},
  };
  for (const auto& c : cases) {
    for (auto compression : {Compression::kNone, Compression::kGzip}) {
      std::string caseName = c.name;
      CAPTURE(caseName);
      Sandbox box;
      {
        ArchiveBuilder b(box.archive, compression);
        c.build(b, box);
      }
      auto result = box.unpack();
      REQUIRE_FALSE(result.ok());
      const std::string& message = result.error().message;
      CAPTURE(message);
      CHECK(message.find(std::string("entry '") + c.entry + "'") != std::string::npos);
      CHECK(message.find(c.reason) != std::string::npos);
      box.expectUntouched();
      CHECK_FALSE(exists(etcVictim));
    }
  }
}

TEST_CASE("archive bombs: entry count and total size limits") {
  SUBCASE("10^6 tiny entries") {
    Sandbox box;
    {
      ArchiveBuilder b(box.archive, Compression::kZstd);
      for (int i = 0; i < 1'000'000; ++i) b.file("f/" + std::to_string(i), "");
    }
    UnpackLimits limits;
    limits.maxEntries = 20'000;
    auto result = box.unpack(limits);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("more than max_entries = 20000 entries") !=
          std::string::npos);
    CHECK(result.error().message.find("entry 'f/20000'") != std::string::npos);
    box.expectUntouched();
  }
  SUBCASE("a small archive that expands to more than the size limit") {
    Sandbox box;
    {
      ArchiveBuilder b(box.archive, Compression::kGzip);
      b.file("small", std::string(1000, 'a'));
      b.file("zeros", std::string(64 << 20, '\0'));
    }
    UnpackLimits limits;
    limits.maxUnpackedBytes = 16 << 20;
    limits.maxUnpackRatio = 0;  // the absolute bound alone (unpack_bounds_test: the ratio)
    auto result = box.unpack(limits);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("entry 'zeros'") != std::string::npos);
    CHECK(result.error().message.find("over max_unpacked_bytes = 16777216 bytes") !=
          std::string::npos);
    box.expectUntouched();
  }
}

TEST_CASE("truncated and garbage archives are refused without leftovers") {
  Sandbox box;
  {
    ArchiveBuilder b(box.archive, Compression::kGzip);
    b.file("a", std::string(200'000, 'a')).file("b", std::string(200'000, 'b'));
  }
  auto size = std::filesystem::file_size(box.archive);
  std::filesystem::resize_file(box.archive, size / 2);
  auto result = box.unpack();
  REQUIRE_FALSE(result.ok());
  box.expectUntouched();
  rollgate::testing::writeText(box.archive, "this is not an archive at all");
  CHECK_FALSE(box.unpack().ok());
  box.expectUntouched();
}

TEST_CASE("cancellation stops the unpack and removes the temp dir") {
  Sandbox box;
  {
    ArchiveBuilder b(box.archive, Compression::kNone);
    b.file("a", "a");
  }
  box.cancel = true;
  auto result = box.unpack();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "cancelled");
  box.expectUntouched();
}
