// Version ordering, release store (atomic switch, listing, retention), journal and command ledger
// (at-most-once), artifact verification and build signatures.
#include <doctest/doctest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/build_signature.h"
#include "agent/install/journal.h"
#include "agent/install/release_store.h"
#include "agent/install/verifier.h"
#include "agent/install/version.h"
#include "common/sha256.h"
#include "common/sys/env.h"
#include "common/sys/fault_env.h"
#include "tests/unit/install/temp_dir.h"

using namespace rollgate;
using namespace rollgate::install;
using rollgate::testing::readText;
using rollgate::testing::TempDir;
using rollgate::testing::writeText;

TEST_CASE("versions compare numerically where they are numbers") {
  struct Row {
    const char* a;
    const char* b;
    int expected;
  };
  for (const Row& row : std::vector<Row>{{"1.9", "1.10", -1},
                                         {"1.10", "1.9", 1},
                                         {"1.10", "1.10", 0},
                                         {"1.2", "1.2.1", -1},
                                         {"2.0", "1.99.99", 1},
                                         {"build-7", "build-12", -1},
                                         {"2024.01.05", "2024.1.6", -1},
                                         {"1.01", "1.1", 0},
                                         {"1.0-rc1", "1.0-rc2", -1},
                                         {"v10", "v9", 1},
                                         {"1.00000000000000000000001", "1.2", -1}}) {
    CAPTURE(row.a);
    CAPTURE(row.b);
    CHECK(compareVersions(row.a, row.b) == row.expected);
    CHECK(compareVersions(row.b, row.a) == -row.expected);
  }
  CHECK(validateVersion("1.2.3+build_4-x").ok());
  for (const char* bad : {"", ".hidden", "..", "-x", "a/b", "1 2", "x\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(validateVersion(bad).ok());
  }
}

namespace {
// Install times one second apart in the order of `order`, set directly instead of waiting.
void makeRelease(ReleaseStore& store, const std::string& version, int order) {
  std::filesystem::create_directories(store.releaseDir(version));
  writeText(store.releaseDir(version) + "/VERSION", version);
  REQUIRE(store.markInstalled(version).ok());
  std::filesystem::last_write_time(
      store.releaseDir(version),
      std::filesystem::file_time_type::clock::now() - std::chrono::hours(1) +
          std::chrono::seconds(order));
}
}  // namespace

TEST_CASE("release store: atomic switch, newest-first listing, previous, retention") {
  TempDir tmp;
  ReleaseStore store(tmp / "svc");
  REQUIRE(store.prepare().ok());
  CHECK_FALSE(store.activeRelease().has_value());
  int order = 0;
  for (const char* v : {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6"}) {
    makeRelease(store, v, order++);
  }
  REQUIRE(store.activate("1.5").ok());
  CHECK(store.activeRelease() == "1.5");
  char link[256] = {0};
  REQUIRE(::readlink(store.currentLink().c_str(), link, sizeof link - 1) > 0);
  CHECK(std::string(link) == "releases/1.5");
  CHECK(readText(store.currentLink() + "/VERSION") == "1.5");
  CHECK_FALSE(std::filesystem::exists(store.currentLink() + ".tmp"));
  auto list = store.listReleases();
  REQUIRE(list.size() == 7);
  CHECK(list.front().version == "1.6");
  CHECK(list.back().version == "1.0");
  CHECK(store.previousRelease() == "1.4");
  CHECK_FALSE(store.activate("9.9").ok());
  CHECK(store.activeRelease() == "1.5");

  // Keep 2: 1.6, 1.5 are the newest; 1.0 is protected (in flight); the rest go.
  auto pruned = store.prune(2, {"1.0"});
  REQUIRE(pruned.ok());
  CHECK(pruned->size() == 4);
  std::vector<std::string> left;
  for (const auto& r : store.listReleases()) left.push_back(r.version);
  CHECK(left == std::vector<std::string>{"1.6", "1.5", "1.0"});
  // The active release is never pruned, even when it is old.
  REQUIRE(store.activate("1.0").ok());
  pruned = store.prune(1, {});
  REQUIRE(pruned.ok());
  left.clear();
  for (const auto& r : store.listReleases()) left.push_back(r.version);
  CHECK(left == std::vector<std::string>{"1.6", "1.0"});
  CHECK_FALSE(store.removeRelease("1.0").ok());
}

TEST_CASE("journal round-trips and the ledger applies each command at most once") {
  TempDir tmp;
  sys::PosixEnv env;
  Journal journal(tmp / "journal.json", env);
  auto none = journal.read();
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  JournalRecord record;
  record.ref = {"r-1", 7, 3};
  record.service = "web";
  record.kind = CommandKind::kRollback;
  record.version = "1.2";
  record.previous = "1.3";
  record.step = Step::kHealth;
  record.events = {"switched current to 1.2"};
  REQUIRE(journal.write(record).ok());
  auto back = journal.read();
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->ref == record.ref);
  CHECK((*back)->kind == CommandKind::kRollback);
  CHECK((*back)->step == Step::kHealth);
  CHECK((*back)->events == record.events);
  REQUIRE(journal.clear().ok());
  CHECK_FALSE(journal.read()->has_value());
  writeText(tmp / "journal.json", "{not json");
  auto corrupt = journal.read();
  REQUIRE_FALSE(corrupt.ok());
  CHECK(corrupt.error().message.find("corrupt journal") != std::string::npos);

  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  CHECK(ledger.check({"r", 1, 1}).verdict == CommandLedger::Verdict::kNew);
  CommandResult result;
  result.command = {"r", 5, 2};
  result.service = "web";
  result.outcome = Outcome::kSucceeded;
  result.message = "activated 1.2";
  REQUIRE(ledger.record(result).ok());
  CommandLedger reloaded(tmp / "ledger.json", env);
  REQUIRE(reloaded.load().ok());
  CHECK(reloaded.lastApplied() == CommandRef{"r", 5, 2});
  auto dup = reloaded.check({"r", 5, 2});
  CHECK(dup.verdict == CommandLedger::Verdict::kDuplicate);
  REQUIRE(dup.recorded.has_value());
  CHECK(dup.recorded->message == "activated 1.2");
  CHECK(reloaded.check({"r", 4, 2}).verdict == CommandLedger::Verdict::kStale);
  CHECK(reloaded.check({"r", 9, 1}).verdict == CommandLedger::Verdict::kStale);  // older epoch
  CHECK(reloaded.check({"r", 6, 2}).verdict == CommandLedger::Verdict::kNew);
  CHECK(reloaded.check({"r", 1, 3}).verdict == CommandLedger::Verdict::kNew);  // newer epoch
  CHECK(reloaded.check({"", 0, 0}).verdict == CommandLedger::Verdict::kNew);   // unsequenced
  writeText(tmp / "ledger.json", "[]");
  CommandLedger corruptLedger(tmp / "ledger.json", env);
  CHECK_FALSE(corruptLedger.load().ok());
}

TEST_CASE("verification: size, sha256, signatures by trusted keys") {
  TempDir tmp;
  std::string artifact = tmp / "a.tar";
  writeText(artifact, "artifact bytes");
  auto digest = sha256File(artifact);
  REQUIRE(digest.ok());
  std::string hex = toHex(*digest);
  CHECK(hex == "4659fc0570122b0e0aa14f4ff7c261b1fe51795a01ba79963f462ebf40d7520d");

  REQUIRE(generateKeyPair(tmp / "build").ok());
  REQUIRE(generateKeyPair(tmp / "other").ok());
  CHECK_FALSE(generateKeyPair(tmp / "build").ok());  // never overwrites a secret key
  struct stat st;
  REQUIRE(::stat((tmp / "build.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto secret = readSecretKey(tmp / "build.key");
  REQUIRE(secret.ok());
  auto sig = signDigest(*digest, *secret);
  REQUIRE(sig.ok());
  std::string sigText = formatSignature(*sig);
  std::string sigRaw(reinterpret_cast<const char*>(sig->data()), sig->size());

  ArtifactVerifier noKeys;
  CHECK(noKeys.verify(artifact, hex, 14, "").ok());
  auto badHash = noKeys.verify(artifact, std::string(64, '0'), 0, "");
  REQUIRE_FALSE(badHash.ok());
  CHECK(badHash.error().message.find("sha256 mismatch") != std::string::npos);
  auto badSize = noKeys.verify(artifact, hex, 20, "");
  REQUIRE_FALSE(badSize.ok());
  CHECK(badSize.error().message.find("size 14 bytes, expected 20") != std::string::npos);

  auto verifier = ArtifactVerifier::fromKeyFiles({tmp / "other.pub", tmp / "build.pub"});
  REQUIRE(verifier.ok());
  CHECK(verifier->verify(artifact, hex, 0, sigText).ok());
  CHECK(verifier->verify(artifact, hex, 0, sigRaw).ok());
  auto unsigned_ = verifier->verify(artifact, hex, 0, "");
  REQUIRE_FALSE(unsigned_.ok());
  CHECK(unsigned_.error().message.find("unsigned") != std::string::npos);
  auto onlyOther = ArtifactVerifier::fromKeyFiles({tmp / "other.pub"});
  REQUIRE(onlyOther.ok());
  auto wrong = onlyOther->verify(artifact, hex, 0, sigText);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("does not verify") != std::string::npos);
  auto garbage = verifier->verify(artifact, hex, 0, "rollgate-signature ed25519\n!!!\n");
  REQUIRE_FALSE(garbage.ok());
  auto missingKey = ArtifactVerifier::fromKeyFiles({tmp / "nope.pub"});
  REQUIRE_FALSE(missingKey.ok());
  CHECK(missingKey.error().message.find("nope.pub") != std::string::npos);
  auto secretAsPublic = ArtifactVerifier::fromKeyFiles({tmp / "build.key"});
  CHECK_FALSE(secretAsPublic.ok());
}

TEST_CASE("SHA-256 of a file, streamed in pieces, and libsodium's agree") {
  TempDir tmp;
  for (size_t size : {size_t{0}, size_t{1}, size_t{64}, size_t{(1 << 20) + 3}}) {
    CAPTURE(size);
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 31 + 7);
    writeText(tmp / "f", data);
    auto file = sha256File(tmp / "f");
    REQUIRE(file.ok());
    Sha256 pieces;
    for (size_t at = 0; at < size; at += 1000) pieces.update(std::string_view(data).substr(at, 1000));
    Sha256Digest sodium;
    crypto_hash_sha256(sodium.data(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size());
    CHECK(toHex(*file) == toHex(sodium));
    CHECK(toHex(pieces.finish()) == toHex(sodium));
    CHECK(sha256Hex(data) == toHex(sodium));
  }
  CHECK(toHex(*sha256File(tmp / "f")) != toHex(*sha256File(tmp / "f", 10)));
  CHECK(toHex(*sha256File(tmp / "f", 10)) == sha256Hex(readText(tmp / "f").substr(0, 10)));
  auto missing = sha256File(tmp / "missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("missing") != std::string::npos);
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(parseSha256Hex(sha256Hex("abc")).ok());
  CHECK(toHex(*parseSha256Hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")) ==
        sha256Hex("abc"));
  CHECK_FALSE(parseSha256Hex(sha256Hex("abc").substr(1)).ok());
  CHECK_FALSE(parseSha256Hex(std::string(63, 'a') + "g").ok());
}

TEST_CASE("journal and ledger writes under injected faults keep the last durable state") {
  TempDir tmp;
  sys::FaultInjectingEnv env;
  Journal journal(tmp / "journal.json", env);
  JournalRecord record;
  record.ref = {"r-1", 7, 3};
  record.service = "web";
  record.version = "1.2";
  record.step = Step::kFetch;
  REQUIRE(journal.write(record).ok());

  // The disk fills up while the next step is journaled: the error names the file and the cause,
  // and the journal still says the step before.
  record.step = Step::kUnpack;
  env.failNth(sys::FileOp::kWrite, 1, ENOSPC);
  auto full = journal.write(record);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().message.find("journal.json.tmp: write: No space left on device") !=
        std::string::npos);
  CHECK(journal.read()->value().step == Step::kFetch);

  // EIO at fsync: not renamed into place.
  env.failNth(sys::FileOp::kSync, 1, EIO);
  CHECK_FALSE(journal.write(record).ok());
  CHECK(journal.read()->value().step == Step::kFetch);

  // A crash right before the rename: what recover() would read is the step before.
  env.crashAt(sys::FileOp::kRename, 1);
  CHECK_FALSE(journal.write(record).ok());
  CHECK(journal.read()->value().step == Step::kFetch);
  env.clearFaults();

  REQUIRE(journal.write(record).ok());
  CHECK(journal.read()->value().step == Step::kUnpack);
  // Clearing removes the file and syncs its directory; a failed directory sync is reported.
  const int dirSyncs = env.count(sys::FileOp::kSyncDir);
  env.failNth(sys::FileOp::kSyncDir, 1, EIO);
  CHECK_FALSE(journal.clear().ok());
  CHECK(env.count(sys::FileOp::kSyncDir) == dirSyncs + 1);
  CHECK_FALSE(journal.read()->has_value());

  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  CommandResult first;
  first.command = {"r", 1, 1};
  first.outcome = Outcome::kSucceeded;
  REQUIRE(ledger.record(first).ok());
  CommandResult second = first;
  second.command = {"r", 2, 1};
  env.failNth(sys::FileOp::kSync, 1, EIO);
  auto failed = ledger.record(second);
  REQUIRE_FALSE(failed.ok());  // the caller sees the result was not saved
  CommandLedger reloaded(tmp / "ledger.json", env);
  REQUIRE(reloaded.load().ok());
  CHECK(reloaded.lastApplied() == CommandRef{"r", 1, 1});
}
