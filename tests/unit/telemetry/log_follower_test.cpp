#include "agent/telemetry/log_follower.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/telemetry/test_files.h"

using rollgate::agent::FollowerOptions;
using rollgate::agent::FollowerState;
using rollgate::agent::LogFollower;
using rollgate::testing::LogWriter;
using rollgate::testing::TempDir;

namespace {

struct Collected {
  std::vector<std::string> lines;
  LogFollower::LineCallback callback() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

std::unique_ptr<LogFollower> follow(const std::string& path, Collected& out,
                                    std::optional<FollowerState> state = {},
                                    FollowerOptions options = {}) {
  auto follower = LogFollower::create(path, out.callback(), std::move(state), options);
  REQUIRE_MESSAGE(follower.ok(), (follower.ok() ? "" : follower.error().message));
  return std::move(follower).value();
}

// Waits (generous deadline) until the inotify fd is readable, then processes it. Proves the data
// arrived through inotify, not through the poll() backstop.
void waitReadable(LogFollower& follower) {
  pollfd item{follower.fd(), POLLIN, 0};
  const int ready = ::poll(&item, 1, 10000);
  REQUIRE_MESSAGE(ready == 1, "inotify fd did not become readable");
  follower.onReadable();
}

std::vector<std::string> numbered(const std::string& prefix, int count, int first = 0) {
  std::vector<std::string> out;
  for (int i = first; i < first + count; ++i) out.push_back(prefix + " " + std::to_string(i));
  return out;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("starts at the end of an existing file and follows appends through inotify") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  writer.lines("old", 5);
  Collected out;
  auto follower = follow(path, out);
  follower->poll();
  CHECK(out.lines.empty());  // no replay of history
  writer.lines("new", 3);
  waitReadable(*follower);
  CHECK(out.lines == numbered("new", 3));
  writer.lines("new", 2, 3);
  waitReadable(*follower);
  CHECK(out.lines == numbered("new", 5));
  CHECK(follower->linesEmitted() == 5);
}

TEST_CASE("a partial last line is held until its newline; starting mid-line skips that line") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  writer.raw("a\nb-started-before");
  Collected out;
  auto follower = follow(path, out);
  writer.raw("-end\nc");
  waitReadable(*follower);
  CHECK(out.lines.empty());  // the tail of "b" is not a line of its own, "c" is not complete
  writer.raw("d");
  follower->poll();
  CHECK(out.lines.empty());
  writer.raw("e\n");
  waitReadable(*follower);
  CHECK(out.lines == std::vector<std::string>{"cde"});
}

TEST_CASE("a file that does not exist yet is read from its start when it appears") {
  TempDir dir;
  const auto path = dir.file("later.log");
  Collected out;
  auto follower = follow(path, out);
  CHECK_FALSE(follower->fileOpen());
  follower->poll();
  {
    LogWriter writer(path);
    writer.lines("line", 4);
  }
  waitReadable(*follower);
  // The create event may arrive before the writes: drain until all four are in or time is up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.lines.size() < 4 && std::chrono::steady_clock::now() < deadline)
    waitReadable(*follower);
  CHECK(out.lines == numbered("line", 4));
}

TEST_CASE("a directory that does not exist yet is picked up by the poll() backstop") {
  TempDir dir;
  const auto path = dir.file("sub/access.log");
  Collected out;
  auto follower = follow(path, out);
  follower->poll();
  std::filesystem::create_directory(dir.file("sub"));
  follower->poll();  // now watches the directory
  LogWriter writer(path);
  writer.lines("x", 3);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.lines.size() < 3 && std::chrono::steady_clock::now() < deadline)
    waitReadable(*follower);
  CHECK(out.lines == numbered("x", 3));
}

TEST_CASE(
    "rename rotation: the old inode is finished, late writes to it kept, the new file followed") {
  TempDir dir;
  const auto path = dir.file("access.log");
  const auto rotated = dir.file("access.log.1");
  auto oldWriter = std::make_unique<LogWriter>(path);
  Collected out;
  auto follower = follow(path, out, {}, FollowerOptions{.drainIdlePolls = 3});
  oldWriter->lines("old", 3);
  waitReadable(*follower);
  CHECK(out.lines.size() == 3);

  // logrotate: rename, create a new file; the server writes to the old fd until it reopens.
  std::filesystem::rename(path, rotated);
  oldWriter->lines("old", 2, 3);
  LogWriter newWriter(path);
  newWriter.lines("new", 4);
  oldWriter->lines("old", 1, 5);  // a late line on the old file after the new one has data
  follower->poll();
  CHECK(follower->rotations() == 1);
  // Old lines first (those before the switch), then the new file; nothing lost or doubled.
  std::vector<std::string> sorted = out.lines;
  std::sort(sorted.begin(), sorted.end());
  auto expected = concat(numbered("new", 4), numbered("old", 6));
  std::sort(expected.begin(), expected.end());
  CHECK(sorted == expected);
  CHECK(std::vector<std::string>(out.lines.begin(), out.lines.begin() + 6) == numbered("old", 6));

  // A write to the old file while it drains still arrives, through its inode watch.
  oldWriter->lines("old", 1, 6);
  waitReadable(*follower);
  CHECK(out.lines.back() == "old 6");
  oldWriter.reset();  // the server reopened its log
  CHECK(follower->drainingFiles() == 1);
  for (int i = 0; i < 4; ++i) follower->poll();  // idle polls retire the old file
  CHECK(follower->drainingFiles() == 0);
  newWriter.lines("new", 2, 4);
  waitReadable(*follower);
  CHECK(out.lines.size() == 13);
  CHECK(out.lines.back() == "new 5");
}

TEST_CASE("rename rotation with a partial last line in the old file emits it once, at retirement") {
  TempDir dir;
  const auto path = dir.file("access.log");
  auto oldWriter = std::make_unique<LogWriter>(path);
  Collected out;
  auto follower = follow(path, out, {}, FollowerOptions{.drainIdlePolls = 1});
  oldWriter->raw("one\ntwo-without-newline");
  std::filesystem::rename(path, dir.file("access.log.1"));
  LogWriter newWriter(path);
  newWriter.lines("new", 1);
  follower->poll();
  follower->poll();
  CHECK(out.lines == std::vector<std::string>{"one", "new 0", "two-without-newline"});
}

TEST_CASE("copytruncate: the truncated file is read again from its start") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  Collected out;
  auto follower = follow(path, out);
  writer.lines("before", 5);
  waitReadable(*follower);
  std::filesystem::copy_file(path, dir.file("access.log.1"));
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  writer.lines("after", 3);
  waitReadable(*follower);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.lines.size() < 8 && std::chrono::steady_clock::now() < deadline)
    waitReadable(*follower);
  CHECK(out.lines == concat(numbered("before", 5), numbered("after", 3)));
  CHECK(follower->truncations() == 1);
}

TEST_CASE("truncated and regrown past the old offset between two wake-ups is still detected") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  Collected out;
  auto follower = follow(path, out);
  writer.lines("a", 5);
  follower->poll();
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  writer.lines("a much longer line than before", 10);
  follower->poll();
  CHECK(out.lines == concat(numbered("a", 5), numbered("a much longer line than before", 10)));
  CHECK(follower->truncations() == 1);
}

TEST_CASE("copytruncate with a writer that does not append: the NUL hole is skipped") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path, /*append=*/false);
  Collected out;
  auto follower = follow(path, out);
  writer.lines("x", 3);
  follower->poll();
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  follower->poll();
  writer.lines("y", 1);  // lands at the old offset: the file starts with a hole of NULs
  follower->poll();
  CHECK(out.lines == concat(numbered("x", 3), numbered("y", 1)));
}

TEST_CASE("state survives a restart: lines written while stopped are read once") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  writer.lines("history", 10);
  std::optional<FollowerState> saved;
  {
    Collected out;
    auto follower = follow(path, out);
    writer.lines("seen", 5);
    writer.raw("half");
    follower->poll();
    CHECK(out.lines == numbered("seen", 5));
    saved = follower->state();
  }
  REQUIRE(saved);
  writer.raw("-done\n");
  writer.lines("while-stopped", 3);
  Collected out;
  auto follower = follow(path, out, saved);
  follower->poll();
  CHECK(out.lines == concat({"half-done"}, numbered("while-stopped", 3)));
}

TEST_CASE("truncated while stopped (shorter, or regrown longer): read from 0") {
  for (const bool regrow : {false, true}) {
    CAPTURE(regrow);
    TempDir dir;
    const auto path = dir.file("access.log");
    LogWriter writer(path);
    std::optional<FollowerState> saved;
    {
      Collected out;
      auto follower = follow(path, out);
      writer.lines("before", 5);
      follower->poll();
      saved = follower->state();
    }
    REQUIRE(::truncate(path.c_str(), 0) == 0);
    const int count = regrow ? 20 : 2;
    writer.lines("after", count);
    Collected out;
    auto follower = follow(path, out, saved);
    follower->poll();
    CHECK(out.lines == numbered("after", count));
    CHECK(follower->truncations() == 1);
  }
}

TEST_CASE(
    "rotated while stopped: the old file is finished from the saved offset, then the new one") {
  TempDir dir;
  const auto path = dir.file("access.log");
  auto oldWriter = std::make_unique<LogWriter>(path);
  std::optional<FollowerState> saved;
  {
    Collected out;
    auto follower = follow(path, out);
    oldWriter->lines("seen", 5);
    follower->poll();
    saved = follower->state();
  }
  oldWriter->lines("unseen-old", 2);
  std::filesystem::rename(path, dir.file("access.log.1"));
  oldWriter.reset();
  LogWriter newWriter(path);
  newWriter.lines("new", 3);
  Collected out;
  auto follower = follow(path, out, saved);
  follower->poll();
  CHECK(out.lines == concat(numbered("unseen-old", 2), numbered("new", 3)));
}

TEST_CASE("inode reuse: a new file with the saved inode number but other content is read from 0") {
  TempDir dir;
  const auto path = dir.file("access.log");
  std::optional<FollowerState> saved;
  {
    LogWriter writer(path);
    Collected out;
    auto follower = follow(path, out);
    writer.lines("first-file", 5);
    follower->poll();
    saved = follower->state();
  }
  std::filesystem::remove(path);
  LogWriter writer(path);
  writer.lines("second-file-with-longer-lines", 6);
  // Whether the kernel hands out the same inode number again is up to the file system; make the
  // saved state claim the new inode, which is exactly what reuse looks like to the follower.
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  saved->inode = st.st_ino;
  saved->device = st.st_dev;
  Collected out;
  auto follower = follow(path, out, saved);
  follower->poll();
  CHECK(out.lines == numbered("second-file-with-longer-lines", 6));
}

TEST_CASE("a deleted and re-created log (no rename) is followed into the new file") {
  TempDir dir;
  const auto path = dir.file("access.log");
  auto writer = std::make_unique<LogWriter>(path);
  Collected out;
  auto follower = follow(path, out);
  writer->lines("a", 2);
  follower->poll();
  std::filesystem::remove(path);
  writer = std::make_unique<LogWriter>(path);
  writer->lines("b", 2);
  follower->poll();
  CHECK(out.lines == concat(numbered("a", 2), numbered("b", 2)));
}

TEST_CASE("over-long lines are cut to maxLineBytes and counted") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  Collected out;
  auto follower =
      follow(path, out, {}, FollowerOptions{.maxLineBytes = 10, .readChunkBytes = 4096});
  writer.raw(std::string(25, 'x') + "\nshort\n");
  follower->poll();
  CHECK(out.lines == std::vector<std::string>{std::string(10, 'x'), "short"});
  CHECK(follower->overlongLines() == 1);
}

TEST_CASE("lines spanning read chunks are joined exactly") {
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path);
  Collected out;
  auto follower = follow(path, out, {}, FollowerOptions{.readChunkBytes = 4096});
  std::string big;
  for (int i = 0; i < 5000; ++i) big += "line " + std::to_string(i) + "\n";
  writer.raw(big);
  follower->poll();
  CHECK(out.lines == numbered("line", 5000));
}

TEST_CASE("two rotations between two looks: the file in between is found beside the path") {
  // logrotate's two naming schemes: numbered (access.log.1, .2) and dateext (access.log-DATE).
  struct Naming {
    std::string name;
    const char* first;   // where the followed file goes at the first rotation
    const char* second;  // where it goes at the second one
    const char* middle;  // where the file in between goes at the second one
  };
  for (const Naming& naming :
       {Naming{"numbered", "access.log.1", "access.log.2", "access.log.1"},
        Naming{"dateext", "access.log-20261201", "access.log-20261201", "access.log-20261202"}}) {
    CAPTURE(naming.name);
    TempDir dir;
    const auto path = dir.file("access.log");
    // Older rotated files, and a compressed one, are history: never read.
    LogWriter(dir.file("access.log.3")).lines("ancient", 4);
    LogWriter(dir.file("access.log-20261130")).lines("ancient", 4);
    auto first = std::make_unique<LogWriter>(path);
    Collected out;
    auto follower = follow(path, out, {}, FollowerOptions{.drainIdlePolls = 2});
    first->lines("a", 3);
    follower->poll();
    REQUIRE(out.lines == numbered("a", 3));

    // Both rotations happen before the follower looks again: the middle file is never at the
    // path when it checks.
    std::filesystem::rename(path, dir.file(naming.first));
    first->lines("a", 2, 3);
    auto middle = std::make_unique<LogWriter>(path);
    middle->lines("b", 4);
    if (std::string(naming.first) != naming.second) {
      std::filesystem::rename(dir.file(naming.first), dir.file(naming.second));
    }
    std::filesystem::rename(path, dir.file(naming.middle));
    LogWriter(dir.file("access.log.4.gz")).raw("\x1f\x8b compressed\n");
    middle->lines("b", 1, 4);  // a late write to the middle file, through its old fd
    LogWriter last(path);
    last.lines("c", 5);
    follower->poll();

    CHECK(follower->rotations() == 2);
    CHECK(out.lines == concat(concat(numbered("a", 5), numbered("b", 5)), numbered("c", 5)));
    CHECK(follower->drainingFiles() == 2);
    middle->lines("b", 1, 5);  // still drained while its writer holds it
    follower->poll();
    CHECK(out.lines.size() == 16);
    CHECK(out.lines.back() == "b 5");
    for (int i = 0; i < 3; ++i) follower->poll();
    CHECK(follower->drainingFiles() == 0);
    last.lines("c", 1, 5);
    follower->poll();
    CHECK(out.lines.size() == 17);
    CHECK(out.lines.back() == "c 5");
    CHECK(follower->linesEmitted() == 17);
  }
}

TEST_CASE("a rotation with no file in between reads no sibling, old or new") {
  TempDir dir;
  const auto path = dir.file("access.log");
  auto first = std::make_unique<LogWriter>(path);
  Collected out;
  auto follower = follow(path, out);
  first->lines("a", 2);
  follower->poll();
  // A copy made beside the path (copytruncate's) before the rotation is not a file in between.
  std::filesystem::copy_file(path, dir.file("access.log.1"));
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  first->lines("a", 1, 2);
  follower->poll();
  std::filesystem::rename(path, dir.file("access.log.2"));
  LogWriter second(path);
  second.lines("b", 3);
  follower->poll();
  CHECK(out.lines == concat(numbered("a", 3), numbered("b", 3)));
  CHECK(follower->rotations() == 1);
}

TEST_CASE("copytruncate with a writer that does not append, past the line cap: no line lost") {
  // The writer keeps its offset, so after each truncation its next line lands behind a hole of
  // NULs as long as the file was (here > 64 KiB, the line cap).
  TempDir dir;
  const auto path = dir.file("access.log");
  LogWriter writer(path, /*append=*/false);
  Collected out;
  auto follower = follow(path, out);
  const std::string padding(100, 'p');
  std::vector<std::string> expected;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) {
      const std::string line = "r" + std::to_string(round) + " " + std::to_string(i) + padding;
      writer.raw(line + "\n");
      expected.push_back(line);
    }
    follower->poll();
    REQUIRE(::truncate(path.c_str(), 0) == 0);
    writer.lines("after-truncation-" + std::to_string(round), 2);
    for (const auto& line : numbered("after-truncation-" + std::to_string(round), 2))
      expected.push_back(line);
    follower->poll();
    CHECK(follower->truncations() == static_cast<std::uint64_t>(round + 1));
  }
  CHECK(out.lines.size() == 3 * 1002);
  CHECK(out.lines == expected);
  CHECK(follower->overlongLines() == 0);
  CHECK(follower->linesEmitted() == 3 * 1002);
}
