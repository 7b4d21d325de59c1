// Archive bounds (agent/install/unpack.h, UnpackLimits): every bound at its value and one past it,
// the bomb of the issue (1 MB of gzip that unpacks to 1 GB of zeros) with the disk use of the
// attempt measured while it runs, and archives without files. A refused archive leaves no release
// and no temporary directory, and its error names the archive, the bound and the value.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include "agent/install/unpack.h"
#include "tests/unit/install/archive_builder.h"
#include "tests/unit/install/temp_dir.h"

using namespace rollgate;
using namespace rollgate::install;
using rollgate::testing::ArchiveBuilder;
using rollgate::testing::Compression;
using rollgate::testing::TempDir;

namespace {

namespace fs = std::filesystem;

struct Box {
  TempDir tmp;
  std::string releases = tmp / "releases";
  std::string archive = tmp / "artifact.tar.gz";
  std::atomic<bool> cancel{false};
  Box() { fs::create_directories(releases); }
  Result<UnpackStats> unpack(const UnpackLimits& limits) {
    return unpackRelease(archive, releases, "1.0", limits, cancel);
  }
  std::uint64_t archiveBytes() const { return fs::file_size(archive); }
  // A refusal leaves releases/ empty: no release, no .tmp-* directory.
  bool empty() const { return fs::is_empty(releases); }
};

// Disk blocks in use under `dir` (st_blocks, as du counts them), in bytes.
std::uint64_t diskBytesUnder(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

// Samples the disk use under `dir` on its own thread until stopped; keeps the largest seen. The
// constructor returns once the first sample is taken, so what follows it is watched from its start
// (an unpack refused at once could otherwise end before the thread ran at all).
class DiskSampler {
 public:
  explicit DiskSampler(std::string dir)
      : dir_(std::move(dir)), thread_([this] {
          while (!stop_.load()) {
            std::uint64_t now = diskBytesUnder(dir_);
            std::uint64_t seen = peak_.load();
            while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
            }
            samples_.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        }) {
    while (samples_.load() == 0) std::this_thread::yield();
  }
  ~DiskSampler() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t peak() const { return peak_.load(); }
  std::uint64_t samples() const { return samples_.load(); }

 private:
  std::string dir_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> peak_{0};
  std::atomic<std::uint64_t> samples_{0};
  std::thread thread_;
};

// A tar.gz of files full of zeros, as gzip would write it but without compressing gigabytes: the
// tar stream (from libarchive) is cut into its non-zero 512-byte blocks, each stored as a gzip
// member, and runs of zero blocks, stored as copies of one compressed member of 1 MiB of zeros
// (RFC 1952 allows any number of members; gzip -d and libarchive read them as one stream). The
// result has the compression ratio of gzip -9 on zeros, about 1:1000.
class ZeroBombWriter {
 public:
  static void write(const std::string& path,
                    const std::vector<std::pair<std::string, std::uint64_t>>& files) {
    ZeroBombWriter w;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open(a, &w, nullptr, &ZeroBombWriter::onWrite, nullptr);
    struct archive_entry* entry = archive_entry_new();
    static const std::string piece(1 << 20, '\0');
    for (const auto& [name, bytes] : files) {
      archive_entry_clear(entry);
      archive_entry_set_pathname(entry, name.c_str());
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, 0644);
      archive_entry_set_size(entry, static_cast<la_int64_t>(bytes));
      archive_write_header(a, entry);
      for (std::uint64_t left = bytes; left > 0;) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()));
        archive_write_data(a, piece.data(), n);
        left -= n;
      }
    }
    archive_entry_free(entry);
    archive_write_close(a);
    archive_write_free(a);
    w.flushLiteral();
    w.flushZeros();
    std::ofstream out(path, std::ios::binary);
    out.write(w.out_.data(), static_cast<std::streamsize>(w.out_.size()));
  }

 private:
  static la_ssize_t onWrite(struct archive*, void* self, const void* data, size_t size) {
    auto* w = static_cast<ZeroBombWriter*>(self);
    const char* bytes = static_cast<const char*>(data);
    for (std::size_t at = 0; at < size; at += 512) {
      std::size_t n = std::min<std::size_t>(512, size - at);
      bool zero = std::all_of(bytes + at, bytes + at + n, [](char c) { return c == 0; });
      if (zero) {
        w->flushLiteral();
        w->zeros_ += n;
      } else {
        w->flushZeros();
        w->literal_.append(bytes + at, n);
      }
    }
    return static_cast<la_ssize_t>(size);
  }
  static std::string member(const std::string& data) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, data.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  }
  void flushLiteral() {
    if (!literal_.empty()) out_ += member(literal_);
    literal_.clear();
  }
  void flushZeros() {
    static const std::string megabyte = member(std::string(1 << 20, '\0'));
    for (; zeros_ >= (1u << 20); zeros_ -= 1u << 20) out_ += megabyte;
    if (zeros_ > 0) out_ += member(std::string(zeros_, '\0'));
    zeros_ = 0;
  }
  std::string out_;
  std::string literal_;
  std::uint64_t zeros_ = 0;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A path of exactly `bytes` bytes in components of at most 200 bytes (NAME_MAX is 255).
std::string pathOfLength(std::size_t bytes) {
  std::string path;
  while (path.size() < bytes) {
    if (!path.empty()) path.push_back('/');
    std::size_t left = bytes - path.size();
    // Never leave a last component of 0 bytes: split so that the rest is at least 1.
    std::size_t take = std::min<std::size_t>(200, left);
    if (left > 200 && left - 200 < 2) take = left - 2;
    path.append(take, 'p');
  }
  return path;
}

}  // namespace

TEST_CASE("max_unpacked_bytes: at the bound unpacks, one byte over is refused before writing it") {
  UnpackLimits limits;
  limits.maxUnpackRatio = 0;
  limits.maxUnpackedBytes = 300'000;
  {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kGzip).file("a", std::string(100'000, 'a')).file("b", std::string(200'000, 'b')); }
    auto stats = box.unpack(limits);
    REQUIRE_MESSAGE(stats.ok(), stats.error().message);
    CHECK(stats->fileBytes == 300'000);
    CHECK(stats->files == 2);
  }
  {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kGzip).file("a", std::string(100'000, 'a')).file("b", std::string(200'001, 'b')); }
    auto result = box.unpack(limits);
    REQUIRE_FALSE(result.ok());
    const std::string& message = result.error().message;
    CAPTURE(message);
    CHECK(contains(message, box.archive));
    CHECK(contains(message, "entry 'b'"));
    CHECK(contains(message, "unpacked size would reach 300001 bytes"));
    CHECK(contains(message, "over max_unpacked_bytes = 300000 bytes"));
    CHECK(contains(message, "stopped with 100000 bytes written"));
    CHECK(box.empty());
  }
}

TEST_CASE("max_unpack_ratio: the ratio's product is the bound; the bound is met or refused") {
  // 8 MiB of zeros in gzip: a few KiB of archive, a ratio of about 1000.
  const std::uint64_t payload = 8u << 20;
  Box probe;
  { ArchiveBuilder(probe.archive, Compression::kGzip).zeros("zeros", payload); }
  const std::uint64_t archived = probe.archiveBytes();
  REQUIRE(archived < payload / 100);
  const std::uint64_t atBound = (payload + archived - 1) / archived;  // ratio x archive >= payload
  UnpackLimits limits;
  limits.maxUnpackRatio = atBound;
  auto stats = probe.unpack(limits);
  REQUIRE_MESSAGE(stats.ok(), stats.error().message);
  CHECK(stats->fileBytes == payload);
  CHECK(stats->archiveBytes == archived);

  Box box;
  fs::copy_file(probe.archive, box.archive);
  limits.maxUnpackRatio = atBound - 1;  // ratio x archive < payload
  auto result = box.unpack(limits);
  REQUIRE_FALSE(result.ok());
  const std::string& message = result.error().message;
  CAPTURE(message);
  CHECK(contains(message, "entry 'zeros'"));
  CHECK(contains(message, "over max_unpack_ratio = " + std::to_string(atBound - 1) +
                              " x the archive's " + std::to_string(archived) + " bytes = " +
                              std::to_string((atBound - 1) * archived) + " bytes"));
  CHECK(contains(message, "stopped with 0 bytes written"));
  CHECK(box.empty());
}

TEST_CASE("max_entries: N entries with a bound of N unpack, N + 1 are refused") {
  UnpackLimits limits;
  limits.maxEntries = 50;
  for (int count : {50, 51}) {
    Box box;
    {
      ArchiveBuilder b(box.archive, Compression::kGzip);
      for (int i = 0; i < count; ++i) b.file("f" + std::to_string(i), "x");
    }
    auto result = box.unpack(limits);
    CAPTURE(count);
    if (count == 50) {
      REQUIRE_MESSAGE(result.ok(), result.error().message);
      CHECK(result->entries == 50);
    } else {
      REQUIRE_FALSE(result.ok());
      CHECK(contains(result.error().message, "entry 'f50'"));
      CHECK(contains(result.error().message, "more than max_entries = 50 entries"));
      CHECK(box.empty());
    }
  }
}

TEST_CASE("max_path_bytes: a path and a symlink target at the default bound and one byte over") {
  const UnpackLimits limits;  // the default: 1024
  REQUIRE(limits.maxPathBytes == 1024);
  {
    Box box;
    {
      ArchiveBuilder b(box.archive, Compression::kGzip);
      b.file(pathOfLength(1024), "deep");
      b.symlink("link", pathOfLength(1024));
    }
    auto stats = box.unpack(limits);
    REQUIRE_MESSAGE(stats.ok(), stats.error().message);
    CHECK(rollgate::testing::readText(box.releases + "/1.0/" + pathOfLength(1024)) == "deep");
  }
  {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kGzip).file("ok", "x").file(pathOfLength(1025), "deep"); }
    auto result = box.unpack(limits);
    REQUIRE_FALSE(result.ok());
    CAPTURE(result.error().message);
    CHECK(contains(result.error().message, "path of 1025 bytes is over max_path_bytes = 1024"));
    CHECK(box.empty());
  }
  {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kGzip).file("ok", "x").symlink("link", pathOfLength(1025)); }
    auto result = box.unpack(limits);
    REQUIRE_FALSE(result.ok());
    CAPTURE(result.error().message);
    CHECK(contains(result.error().message, "entry 'link'"));
    CHECK(contains(result.error().message, "symlink target of 1025 bytes is over max_path_bytes"));
    CHECK(box.empty());
  }
}

TEST_CASE("the bomb: 1 MB of gzip that unpacks to 1 GB of zeros, refused before it fills the disk") {
  Box box;
  const std::uint64_t gigabyte = 1ull << 30;
  ZeroBombWriter::write(box.archive, {{"zeros", gigabyte}});
  const std::uint64_t archived = box.archiveBytes();
  INFO("archive of " << archived << " bytes");
  REQUIRE(archived < (2u << 20));  // about 1 MB: deflate's best is about 1:1030
  const UnpackLimits defaults;
  const std::uint64_t bound = std::min(defaults.maxUnpackedBytes, defaults.maxUnpackRatio * archived);
  DiskSampler sampler(box.releases);
  auto result = box.unpack(defaults);
  sampler.finish();
  REQUIRE_FALSE(result.ok());
  const std::string& message = result.error().message;
  CAPTURE(message);
  CHECK(contains(message, "entry 'zeros'"));
  CHECK(contains(message, "unpacked size would reach 1073741824 bytes"));
  CHECK(contains(message, "over max_unpack_ratio = 100"));
  CHECK(contains(message, "stopped with 0 bytes written"));
  CHECK(sampler.samples() > 0);
  CHECK(sampler.peak() <= bound);
  CHECK(box.empty());
}

TEST_CASE("a bomb of many files, each under the bound: the disk never holds more than the bound") {
  // 24 files of 16 MiB of zeros: 384 MiB from about 400 KiB of gzip. Each file's declared size
  // fits; their sum does not, so the bound is met mid-archive, with files already on disk.
  Box box;
  std::vector<std::pair<std::string, std::uint64_t>> files;
  for (int i = 0; i < 24; ++i) files.emplace_back("z" + std::to_string(i), 16u << 20);
  ZeroBombWriter::write(box.archive, files);
  UnpackLimits limits;
  limits.maxUnpackRatio = 0;
  limits.maxUnpackedBytes = 100u << 20;
  DiskSampler sampler(box.releases);
  auto result = box.unpack(limits);
  sampler.finish();
  REQUIRE_FALSE(result.ok());
  const std::string& message = result.error().message;
  CAPTURE(message);
  // Six files (96 MiB) fit; the seventh's header would reach 112 MiB.
  CHECK(contains(message, "entry 'z6'"));
  CHECK(contains(message, "stopped with " + std::to_string(96u << 20) + " bytes written"));
  INFO("peak disk use " << sampler.peak() << " bytes in " << sampler.samples() << " samples");
  CHECK(sampler.peak() <= limits.maxUnpackedBytes + (1u << 20));  // + block rounding
  CHECK(box.empty());
}

TEST_CASE("an archive without files is refused: no entries, only directories, zero bytes") {
  SUBCASE("a tar with no entries") {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kGzip).close(); }
    auto result = box.unpack({});
    REQUIRE_FALSE(result.ok());
    CHECK(contains(result.error().message, "the archive has no files (0 other entries)"));
    CHECK(box.empty());
  }
  SUBCASE("directories and a symlink but no file") {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kNone).dir("www").dir("www/static").symlink("l", "www"); }
    auto result = box.unpack({});
    REQUIRE_FALSE(result.ok());
    CHECK(contains(result.error().message, "the archive has no files (3 other entries)"));
    CHECK(box.empty());
  }
  SUBCASE("a file of zero bytes") {
    Box box;
    rollgate::testing::writeText(box.archive, "");
    auto result = box.unpack({});
    REQUIRE_FALSE(result.ok());
    CAPTURE(result.error().message);
    CHECK(box.empty());
  }
  SUBCASE("one empty file is a release (a file, if an empty one)") {
    Box box;
    { ArchiveBuilder(box.archive, Compression::kGzip).file("VERSION", ""); }
    auto stats = box.unpack({});
    REQUIRE_MESSAGE(stats.ok(), stats.error().message);
    CHECK(stats->files == 1);
  }
}
