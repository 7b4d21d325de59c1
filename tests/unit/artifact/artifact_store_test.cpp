// ArtifactStore: uploads in pieces into a real state directory and a real SQLite database, read
// back in chunks, and every way an upload can go wrong (order, digest, size, duplicates, a full
// disk on a real tmpfs), each leaving no temporary file and no record behind.
#include "coordinator/artifact_store.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/sha256.h"
#include "common/sys/error.h"
#include "coordinator/store/sqlite.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/support/skip.h"

namespace fs = std::filesystem;
using rollgate::coordinator::SqliteStore;
using rollgate::PushArtifact;
using rollgate::sha256Hex;
using rollgate::coordinator::ArtifactStore;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rollgate-artifact-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string randomBytes(std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

PushArtifact piece(const std::string& service, const std::string& version,
                   const std::string& content, std::uint64_t offset, std::size_t size, bool final,
                   const std::string& sha = "") {
  PushArtifact p;
  p.service = service;
  p.version = version;
  p.sha256 = sha.empty() ? sha256Hex(content) : sha;
  p.totalBytes = content.size();
  p.offset = offset;
  p.data = content.substr(offset, size);
  p.final = final;
  return p;
}

// Pushes `content` in pieces of `pieceBytes`; returns the final reply or the first error.
rollgate::Result<std::string> pushAll(ArtifactStore& store, const std::string& service,
                                      const std::string& version, const std::string& content,
                                      std::size_t pieceBytes = rollgate::kArtifactChunkBytes,
                                      const std::string& signature = "",
                                      std::uint64_t nowMillis = 1000) {
  std::uint64_t offset = 0;
  while (true) {
    std::size_t size = std::min<std::size_t>(pieceBytes, content.size() - offset);
    bool final = offset + size == content.size();
    auto p = piece(service, version, content, offset, size, final);
    p.signature = signature;
    auto reply = store.receive(p, "alice", nowMillis);
    if (!reply || final) return reply;
    offset += size;
  }
}

std::size_t countEntries(const fs::path& dir, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<SqliteStore> db;
  std::unique_ptr<ArtifactStore> store;
  fs::path artifacts() const { return dir.path / "artifacts"; }
  Fixture() { reopen(); }
  void reopen() {
    store.reset();
    db.reset();
    auto opened = SqliteStore::open(dir.path.string());
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    db = std::move(*opened);
    auto s = ArtifactStore::open(*db, dir.path.string());
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    store = std::move(*s);
  }
};

}  // namespace

TEST_CASE("an artifact pushed in pieces is stored by its digest and reads back chunk by chunk") {
  Fixture f;
  std::string content = randomBytes(3 * rollgate::kArtifactChunkBytes + 12345, 1);
  std::string sha = sha256Hex(content);

  auto first = f.store->receive(piece("web", "1.2.0", content, 0, rollgate::kArtifactChunkBytes,
                                      false),
                                "alice", 1000);
  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
  CHECK(*first == "received 1048576 of " + std::to_string(content.size()) + " bytes");
  CHECK(f.store->uploadsInProgress() == 1);
  CHECK(fs::exists(f.artifacts() / (".upload-" + sha)));
  CHECK_FALSE(f.store->find("web", "1.2.0").has_value());  // nothing recorded before the end

  std::uint64_t offset = rollgate::kArtifactChunkBytes;
  rollgate::Result<std::string> last = std::string();
  while (offset < content.size()) {
    std::size_t size = std::min<std::size_t>(rollgate::kArtifactChunkBytes, content.size() - offset);
    auto p = piece("web", "1.2.0", content, offset, size, offset + size == content.size());
    p.signature = "rollgate-signature ed25519\nAAAA\n";
    last = f.store->receive(p, "alice", 2000);
    REQUIRE_MESSAGE(last.ok(), (last.ok() ? "" : last.error().message));
    offset += size;
  }
  CHECK(*last == "stored web 1.2.0 (" + std::to_string(content.size()) + " bytes, sha256 " + sha +
                     "), signed");
  CHECK(f.store->uploadsInProgress() == 0);
  CHECK(countEntries(f.artifacts(), ".upload-") == 0);
  CHECK(fs::file_size(f.artifacts() / sha) == content.size());

  auto info = f.store->find("web", "1.2.0");
  REQUIRE(info.has_value());
  CHECK(info->sha256 == sha);
  CHECK(info->sizeBytes == content.size());
  CHECK(info->signature == "rollgate-signature ed25519\nAAAA\n");
  CHECK(info->pushedBy == "alice");
  CHECK(info->pushedMillis == 2000);
  CHECK(f.store->findBySha(sha) == info);
  CHECK_FALSE(f.store->find("web", "1.2.1").has_value());
  CHECK_FALSE(f.store->findBySha(sha256Hex("other")).has_value());

  std::string readBack;
  for (std::uint64_t at = 0; at < content.size(); at += rollgate::kArtifactChunkBytes) {
    auto chunk = f.store->readChunk(sha, at, rollgate::kArtifactChunkBytes);
    REQUIRE_MESSAGE(chunk.ok(), (chunk.ok() ? "" : chunk.error().message));
    readBack += *chunk;
  }
  CHECK(readBack.size() == content.size());
  CHECK(readBack == content);
  auto size = f.store->sizeOf(sha);
  REQUIRE(size.ok());
  CHECK(*size == content.size());
}

TEST_CASE("an empty artifact is one final piece") {
  Fixture f;
  auto reply = pushAll(*f.store, "web", "0.0.1", "");
  REQUIRE_MESSAGE(reply.ok(), (reply.ok() ? "" : reply.error().message));
  auto info = f.store->find("web", "0.0.1");
  REQUIRE(info.has_value());
  CHECK(info->sizeBytes == 0);
  CHECK(info->sha256 == sha256Hex(""));
  CHECK(fs::file_size(f.artifacts() / sha256Hex("")) == 0);
}

TEST_CASE("pieces out of order are refused, naming the expected and the received offset") {
  Fixture f;
  std::string content = randomBytes(3000, 2);
  REQUIRE(f.store->receive(piece("web", "2.0", content, 0, 1000, false), "alice", 1).ok());

  auto skipped = f.store->receive(piece("web", "2.0", content, 2000, 1000, true), "alice", 2);
  REQUIRE_FALSE(skipped.ok());
  CHECK(skipped.error().message == "artifact web 2.0: pieces out of order: expected offset 1000, got 2000");
  auto repeated = f.store->receive(piece("web", "2.0", content, 0 + 500, 500, false), "alice", 2);
  REQUIRE_FALSE(repeated.ok());
  CHECK(repeated.error().message.find("expected offset 1000, got 500") != std::string::npos);

  // The upload survives a refused piece: the sender can continue from the expected offset.
  REQUIRE(f.store->receive(piece("web", "2.0", content, 1000, 1000, false), "alice", 3).ok());
  auto done = f.store->receive(piece("web", "2.0", content, 2000, 1000, true), "alice", 4);
  REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : done.error().message));
  CHECK(f.store->find("web", "2.0").has_value());

  // A piece without an upload in progress.
  std::string other = randomBytes(100, 3);
  auto orphan = f.store->receive(piece("web", "2.1", other, 50, 50, true), "alice", 5);
  REQUIRE_FALSE(orphan.ok());
  CHECK(orphan.error().message.find("expected offset 0, got 50") != std::string::npos);
  CHECK_FALSE(f.store->find("web", "2.1").has_value());

  // Offset 0 restarts an upload of the same content.
  REQUIRE(f.store->receive(piece("api", "1", other, 0, 60, false), "alice", 6).ok());
  REQUIRE(f.store->receive(piece("api", "1", other, 0, 30, false), "alice", 7).ok());
  REQUIRE(f.store->receive(piece("api", "1", other, 30, 70, true), "alice", 8).ok());
  auto chunk = f.store->readChunk(sha256Hex(other), 0, 1000);
  REQUIRE(chunk.ok());
  CHECK(*chunk == other);
}

TEST_CASE("a digest that does not match discards the upload and records nothing") {
  Fixture f;
  std::string content = randomBytes(5000, 4);
  std::string claimed = sha256Hex("something else");
  REQUIRE(f.store->receive(piece("web", "3.0", content, 0, 4000, false, claimed), "alice", 1).ok());
  CHECK(fs::exists(f.artifacts() / (".upload-" + claimed)));
  auto final = f.store->receive(piece("web", "3.0", content, 4000, 1000, true, claimed), "alice", 2);
  REQUIRE_FALSE(final.ok());
  CHECK(final.error().message == "artifact web 3.0: SHA-256 mismatch: announced " + claimed +
                                     ", received content has " + sha256Hex(content) +
                                     "; upload discarded");
  CHECK(countEntries(f.artifacts(), "") == 0);  // neither a temporary file nor a blob
  CHECK_FALSE(f.store->find("web", "3.0").has_value());
  CHECK_FALSE(f.store->findBySha(claimed).has_value());
  CHECK(f.store->uploadsInProgress() == 0);
  CHECK_FALSE(f.store->readChunk(claimed, 0, 100).ok());
}

TEST_CASE("sizes that do not match the announced total discard the upload") {
  Fixture f;
  std::string content = randomBytes(1000, 5);
  SUBCASE("final piece too early") {
    auto p = piece("web", "4.0", content, 0, 600, true);
    auto reply = f.store->receive(p, "alice", 1);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message ==
          "artifact web 4.0: final piece ends at 600 bytes, but 1000 were announced; upload "
          "discarded");
  }
  SUBCASE("a piece that runs past the end") {
    auto p = piece("web", "4.0", content, 0, 1000, false);
    p.data += "extra";
    auto reply = f.store->receive(p, "alice", 1);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message.find("runs past the announced 1000 bytes") != std::string::npos);
  }
  SUBCASE("a piece that names another version than the upload in progress") {
    REQUIRE(f.store->receive(piece("web", "4.0", content, 0, 500, false), "alice", 1).ok());
    auto reply = f.store->receive(piece("web", "4.1", content, 500, 500, true), "alice", 2);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message.find("does not match the upload of sha256") != std::string::npos);
    f.store.reset();  // the destructor removes uploads in progress
  }
  CHECK(countEntries(f.artifacts(), "") == 0);
  if (f.store) CHECK_FALSE(f.store->find("web", "4.0").has_value());
}

TEST_CASE("re-pushing a version: same digest is a success, another digest is refused") {
  Fixture f;
  std::string v1 = randomBytes(4000, 6);
  std::string other = randomBytes(4000, 7);
  REQUIRE(pushAll(*f.store, "web", "1.0", v1, 1500).ok());

  auto again = pushAll(*f.store, "web", "1.0", v1, 1500, "rollgate-signature ed25519\nBBBB\n");
  REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message));
  CHECK(*again == "already stored web 1.0 (4000 bytes, sha256 " + sha256Hex(v1) +
                      "); signature added");
  CHECK(f.store->find("web", "1.0")->signature == "rollgate-signature ed25519\nBBBB\n");
  CHECK(f.store->list("web").size() == 1);

  // Refused at the first piece, before any bytes are written.
  auto different = f.store->receive(piece("web", "1.0", other, 0, 1500, false), "alice", 9);
  REQUIRE_FALSE(different.ok());
  CHECK(different.error().message ==
        "artifact web 1.0 is already stored with sha256 " + sha256Hex(v1) +
            "; refusing different content with sha256 " + sha256Hex(other) +
            " (push it under a new version)");
  CHECK(f.store->find("web", "1.0")->sha256 == sha256Hex(v1));
  CHECK(countEntries(f.artifacts(), ".upload-") == 0);
  CHECK(countEntries(f.artifacts(), "") == 1);
}

TEST_CASE("the same bytes under two versions are stored once") {
  Fixture f;
  std::string content = randomBytes(2 * rollgate::kArtifactChunkBytes, 8);
  REQUIRE(pushAll(*f.store, "web", "1.0", content, rollgate::kArtifactChunkBytes, "", 100).ok());
  auto second = pushAll(*f.store, "web", "1.0-rebuild", content, rollgate::kArtifactChunkBytes, "", 200);
  REQUIRE_MESSAGE(second.ok(), (second.ok() ? "" : second.error().message));
  CHECK(second->find("same content as web 1.0, kept once") != std::string::npos);
  auto third = pushAll(*f.store, "api", "7", content, rollgate::kArtifactChunkBytes, "", 300);
  REQUIRE(third.ok());

  CHECK(countEntries(f.artifacts(), "") == 1);
  CHECK(f.store->find("web", "1.0-rebuild")->sha256 == sha256Hex(content));
  CHECK(f.store->findBySha(sha256Hex(content))->version == "1.0");  // the earliest push

  auto web = f.store->list("web");
  REQUIRE(web.size() == 2);
  CHECK(web[0].version == "1.0-rebuild");  // newest first
  CHECK(web[1].version == "1.0");
  CHECK(f.store->list("").size() == 3);
  CHECK(f.store->list("nothing").empty());
}

TEST_CASE("readChunk: bounds, short last chunk, unknown and malformed digests") {
  Fixture f;
  std::string content = randomBytes(2500, 9);
  std::string sha = sha256Hex(content);
  REQUIRE(pushAll(*f.store, "web", "1", content).ok());

  auto tail = f.store->readChunk(sha, 2000, 1000);
  REQUIRE(tail.ok());
  CHECK(*tail == content.substr(2000));
  auto atEnd = f.store->readChunk(sha, 2500, 1000);
  REQUIRE(atEnd.ok());
  CHECK(atEnd->empty());
  auto past = f.store->readChunk(sha, 2501, 1000);
  REQUIRE_FALSE(past.ok());
  CHECK(past.error().message ==
        "artifact sha256 " + sha + ": offset 2501 is past its end (2500 bytes)");
  auto zero = f.store->readChunk(sha, 0, 0);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().message.find("chunk length 0 outside 1-1048576") != std::string::npos);
  auto tooLong = f.store->readChunk(sha, 0, rollgate::kArtifactChunkBytes + 1);
  REQUIRE_FALSE(tooLong.ok());

  std::string unknown = sha256Hex("never pushed");
  auto missing = f.store->readChunk(unknown, 0, 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "unknown artifact sha256 " + unknown);
  CHECK_FALSE(f.store->sizeOf(unknown).ok());

  for (const std::string& bad : std::vector<std::string>{"../coordinator.db", "", std::string(64, 'A'),
                                                        std::string(63, 'a')}) {
    auto malformed = f.store->readChunk(bad, 0, 100);
    REQUIRE_FALSE(malformed.ok());
    CHECK(malformed.error().message.find("is not 64 lower-case hex digits") != std::string::npos);
  }
  // A malformed digest in an upload never becomes a path either.
  auto p = piece("web", "9", content, 0, 2500, true, "../../etc/x");
  auto reply = f.store->receive(p, "alice", 1);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().message.find("is not 64 lower-case hex digits") != std::string::npos);

  // More artifacts than the descriptor cache holds still read correctly.
  std::vector<std::string> contents;
  for (unsigned i = 0; i < ArtifactStore::kFdCacheSize + 4; ++i) {
    contents.push_back(randomBytes(100 + i, 100 + i));
    REQUIRE(pushAll(*f.store, "many", "v" + std::to_string(i), contents.back()).ok());
  }
  for (int round = 0; round < 2; ++round) {
    for (unsigned i = 0; i < contents.size(); ++i) {
      auto chunk = f.store->readChunk(sha256Hex(contents[i]), 0, 4096);
      REQUIRE(chunk.ok());
      CHECK(*chunk == contents[i]);
    }
  }
}

TEST_CASE("a reopened store keeps its artifacts and removes uploads a crash left behind") {
  Fixture f;
  std::string content = randomBytes(70000, 10);
  std::string sha = sha256Hex(content);
  REQUIRE(pushAll(*f.store, "web", "5.0", content, 30000, "sig").ok());
  // An upload in progress when the coordinator died.
  std::string partial = sha256Hex("partial");
  { std::FILE* leftover = std::fopen((f.artifacts() / (".upload-" + partial)).c_str(), "w");
    REQUIRE(leftover != nullptr);
    std::fputs("half an artifact", leftover);
    std::fclose(leftover); }

  f.reopen();
  CHECK_FALSE(fs::exists(f.artifacts() / (".upload-" + partial)));
  auto info = f.store->find("web", "5.0");
  REQUIRE(info.has_value());
  CHECK(info->sha256 == sha);
  CHECK(info->signature == "sig");
  auto chunk = f.store->readChunk(sha, 65536, 65536);
  REQUIRE(chunk.ok());
  CHECK(*chunk == content.substr(65536));
  // And it can still take new uploads.
  REQUIRE(pushAll(*f.store, "web", "5.1", randomBytes(10, 11)).ok());
  CHECK(f.store->list("web").size() == 2);
}

TEST_CASE("uploads idle for too long are abandoned, and only a few may run at once") {
  Fixture f;
  std::string slow = randomBytes(2000, 12);
  REQUIRE(f.store->receive(piece("web", "6.0", slow, 0, 1000, false), "alice", 1000).ok());
  std::uint64_t later = 1000 + ArtifactStore::kUploadIdleMillis + 1;
  REQUIRE(pushAll(*f.store, "web", "6.1", randomBytes(10, 13), 100, "", later).ok());
  CHECK_FALSE(fs::exists(f.artifacts() / (".upload-" + sha256Hex(slow))));
  auto resumed = f.store->receive(piece("web", "6.0", slow, 1000, 1000, true), "alice", later);
  REQUIRE_FALSE(resumed.ok());
  CHECK(resumed.error().message.find("expected offset 0, got 1000") != std::string::npos);

  std::vector<std::string> contents;
  for (std::size_t i = 0; i < ArtifactStore::kMaxUploads; ++i) {
    contents.push_back(randomBytes(100, 200 + i));
    REQUIRE(f.store->receive(piece("web", "7." + std::to_string(i), contents.back(), 0, 50, false),
                             "alice", later)
                .ok());
  }
  std::string extra = randomBytes(100, 300);
  auto refused = f.store->receive(piece("web", "8", extra, 0, 50, false), "alice", later);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("uploads already in progress") != std::string::npos);
  REQUIRE(f.store->receive(piece("web", "7.0", contents[0], 50, 50, true), "alice", later).ok());
  CHECK(f.store->receive(piece("web", "8", extra, 0, 50, false), "alice", later).ok());
}

TEST_CASE("a full disk fails the push cleanly, naming the path, and leaves no temporary file" *
          doctest::test_suite("integration")) {
  if (!rollgate::testing::requireOrSkip(::geteuid() == 0 ? "" : "root (to mount a tmpfs)")) {
    return;
  }
  TempDir db;
  TempDir state;
  REQUIRE_MESSAGE(::mount("tmpfs", state.path.c_str(), "tmpfs", 0, "size=256k") == 0,
                  "mount tmpfs: " << rollgate::sys::errnoMessage(errno));
  struct Unmount {
    fs::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{state.path};
  {
    auto database = SqliteStore::open(db.path.string());
    REQUIRE(database.ok());
    auto opened = ArtifactStore::open(**database, state.path.string());
    REQUIRE(opened.ok());
    ArtifactStore& store = **opened;
    fs::path artifacts = state.path / "artifacts";

    // Fits.
    std::string small = randomBytes(100 * 1024, 14);
    REQUIRE(pushAll(store, "web", "1", small, 32 * 1024).ok());

    // Does not fit: refused at the first piece (the space is reserved up front).
    std::string big = randomBytes(rollgate::kArtifactChunkBytes, 15);
    auto reply = store.receive(piece("web", "2", big, 0, 64 * 1024, false), "alice", 1);
    REQUIRE_FALSE(reply.ok());
    std::string path = (artifacts / (".upload-" + sha256Hex(big))).string();
    CHECK(reply.error().message == "artifact web 2: cannot reserve 1048576 bytes for " + path +
                                       ": No space left on device");
    CHECK(countEntries(artifacts, ".upload-") == 0);
    CHECK_FALSE(store.find("web", "2").has_value());
    CHECK(store.uploadsInProgress() == 0);

    // The first artifact is intact and the store still works once there is room.
    auto chunk = store.readChunk(sha256Hex(small), 0, 200 * 1024);
    REQUIRE(chunk.ok());
    CHECK(*chunk == small);
    REQUIRE(pushAll(store, "web", "3", randomBytes(50 * 1024, 16), 32 * 1024).ok());
  }
}

// The same SQLite store keeps the fleet-wide freeze (meta 'frozen').
TEST_CASE("the store keeps who froze, why and since when, and reads a reason-only freeze") {
  Fixture f;
  auto none = f.db->frozen();
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  const rollgate::FreezeState freeze{"alice", "incident 42", 1'763'700'000'123ull};
  REQUIRE(f.db->setFrozen(freeze).ok());
  f.reopen();
  auto read = f.db->frozen();
  REQUIRE(read.ok());
  CHECK(*read == freeze);

  // A store written before the freeze had an author holds the reason text alone.
  f.db.reset();
  f.store.reset();
  {
    auto raw = rollgate::Database::open((f.dir.path / "coordinator.db").string());
    REQUIRE(raw.ok());
    REQUIRE((*raw)->exec("UPDATE meta SET value = 'release day (bob)' WHERE key = 'frozen'").ok());
  }
  f.reopen();
  read = f.db->frozen();
  REQUIRE(read.ok());
  CHECK(*read == rollgate::FreezeState{"", "release day (bob)", 0});

  REQUIRE(f.db->setFrozen(std::nullopt).ok());
  read = f.db->frozen();
  REQUIRE(read.ok());
  CHECK_FALSE(read->has_value());
}
