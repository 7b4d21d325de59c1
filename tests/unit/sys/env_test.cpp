// The system layer: atomic writes keep the old file through every injected fault (ENOSPC while
// writing, EIO at fsync, a crash before the rename), report what failed, and sync what they
// claim; the fault double counts and injects as documented; time and sleep go through the clock.
#include "common/sys/env.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "common/clock.h"
#include "common/sys/error.h"
#include "common/sys/fault_env.h"
#include "tests/unit/install/temp_dir.h"

using namespace rollgate;
using rollgate::sys::FaultInjectingEnv;
using rollgate::sys::FileOp;
using rollgate::testing::readText;
using rollgate::testing::TempDir;
using rollgate::testing::writeText;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "atomic write: new content, the mode asked for, no temp file, file and directory synced") {
  TempDir tmp;
  FaultInjectingEnv env;
  const std::string path = tmp / "state.json";
  writeText(path, "old");
  REQUIRE(sys::writeFileAtomically(env, path, "new content", 0600).ok());
  CHECK(readText(path) == "new content");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(env.count(FileOp::kCreate) == 1);
  CHECK(env.count(FileOp::kSync) == 1);
  CHECK(env.count(FileOp::kRename) == 1);
  CHECK(env.count(FileOp::kSyncDir) == 1);

  sys::PosixEnv posix;
  REQUIRE(sys::writeFileAtomically(posix, path, "", 0644).ok());
  CHECK(readText(path).empty());
}

TEST_CASE("atomic write: ENOSPC while writing keeps the old file and names the temp file") {
  TempDir tmp;
  FaultInjectingEnv env;
  const std::string path = tmp / "journal.json";
  writeText(path, "old");
  env.failNth(FileOp::kWrite, 1, ENOSPC);
  auto status = sys::writeFileAtomically(env, path, "new");
  REQUIRE_FALSE(status.ok());
  CHECK(contains(status.error().message, path + ".tmp: write: No space left on device"));
  CHECK(readText(path) == "old");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(env.count(FileOp::kRename) == 0);  // never replaced the old file
  // The fault was for one call: the next write goes through.
  REQUIRE(sys::writeFileAtomically(env, path, "new").ok());
  CHECK(readText(path) == "new");
}

TEST_CASE("atomic write: EIO at fsync keeps the old file and is reported, never renamed") {
  TempDir tmp;
  FaultInjectingEnv env;
  const std::string path = tmp / "ledger.json";
  writeText(path, "old");
  env.failNth(FileOp::kSync, 1, EIO);
  auto status = sys::writeFileAtomically(env, path, "new");
  REQUIRE_FALSE(status.ok());
  CHECK(contains(status.error().message, "fsync: Input/output error"));
  CHECK(readText(path) == "old");
  CHECK(env.count(FileOp::kRename) == 0);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("atomic write: a crash just before the rename leaves the old file intact") {
  TempDir tmp;
  FaultInjectingEnv env;
  const std::string path = tmp / "journal.json";
  writeText(path, "old");
  env.crashAt(FileOp::kRename, 1);
  auto status = sys::writeFileAtomically(env, path, "new");
  REQUIRE_FALSE(status.ok());
  CHECK(env.crashed());
  CHECK(readText(path) == "old");
  // The process "died": the temp file it could not clean up is all that is left of the write.
  CHECK(readText(path + ".tmp") == "new");
  // After the crash nothing reaches the disk any more, even calls of another kind.
  CHECK_FALSE(env.removeFile(path).ok());
  CHECK(std::filesystem::exists(path));
}

TEST_CASE("atomic write: a crash at the directory fsync comes after the rename") {
  TempDir tmp;
  FaultInjectingEnv env;
  const std::string path = tmp / "journal.json";
  writeText(path, "old");
  env.crashAt(FileOp::kSyncDir, 1);
  auto status = sys::writeFileAtomically(env, path, "new");
  REQUIRE_FALSE(status.ok());      // not durable yet, so not reported as done
  CHECK(readText(path) == "new");  // whole new content, never a mix
  env.clearFaults();
  CHECK_FALSE(env.crashed());
}

TEST_CASE("fault double: the n-th call fails once, failAlways until cleared, counts every call") {
  TempDir tmp;
  FaultInjectingEnv env;
  env.failNth(FileOp::kSyncDir, 2, EIO);
  CHECK(env.syncDir(tmp.path()).ok());
  auto second = env.syncDir(tmp.path());
  REQUIRE_FALSE(second.ok());
  CHECK(contains(second.error().message, tmp.path()));
  CHECK(contains(second.error().message, "(injected)"));
  CHECK(env.syncDir(tmp.path()).ok());
  CHECK(env.count(FileOp::kSyncDir) == 3);

  env.failAlways(FileOp::kCreate, EACCES);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(env.newWritableFile(tmp / "x", 0644).ok());
  CHECK_FALSE(std::filesystem::exists(tmp / "x"));
  env.clearFaults();
  CHECK(env.newWritableFile(tmp / "x", 0644).ok());
}

TEST_CASE("posix env: missing files, directories, fsyncDirectory errors name the path") {
  TempDir tmp;
  sys::PosixEnv env;
  auto missing = env.readFileIfExists(tmp / "missing");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  writeText(tmp / "file", "x");
  CHECK(env.readFileIfExists(tmp / "file")->value() == "x");
  CHECK(env.createDir(tmp / "d", 0755).ok());
  CHECK(env.createDir(tmp / "d", 0755).ok());  // already there
  auto overFile = env.createDir(tmp / "file", 0755);
  REQUIRE_FALSE(overFile.ok());
  CHECK(contains(overFile.error().message, "not a directory"));
  CHECK(env.removeFile(tmp / "missing").ok());
  auto rename = env.renameFile(tmp / "missing", tmp / "other");
  REQUIRE_FALSE(rename.ok());
  CHECK(contains(rename.error().message, "missing -> "));
  auto sync = sys::fsyncDirectory(tmp / "no-such-dir");
  REQUIRE_FALSE(sync.ok());
  CHECK(contains(sync.error().message, "no-such-dir"));
  CHECK(contains(sync.error().message, "No such file or directory"));
  CHECK(sys::fsyncDirectory(tmp.path()).ok());
  CHECK(sys::parentDir("/a/b/c.json") == "/a/b");
  CHECK(sys::parentDir("c.json") == ".");
  CHECK(sys::parentDir("/c.json") == "/");
}

TEST_CASE("time and sleep go through the clock: the fault double's sleep returns at once") {
  FaultInjectingEnv env(5'000);
  const auto before = std::chrono::steady_clock::now();
  env.sleepMillis(60'000);
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(5));
  CHECK(env.nowMillis() == 65'000);
  CHECK(env.steadyMillis() == 65'000);
  CHECK(env.clock().sleptMillis() == 60'000);
  FakeClock clock(100);
  clock.advanceMillis(5);
  clock.sleepMillis(10);
  CHECK(clock.nowMillis() == 115);
  CHECK(clock.sleptMillis() == 10);
  SystemClock system;
  CHECK(system.nowMillis() > 1'600'000'000'000u);
}

TEST_CASE("errnoMessage is strerror's text") {
  CHECK(sys::errnoMessage(ENOSPC) == "No space left on device");
  CHECK(sys::errnoMessage(EIO) == "Input/output error");
  CHECK_FALSE(sys::errnoMessage(123456).empty());
}
