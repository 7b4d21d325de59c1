// CURVE key files and the allowlist: generated keys are valid and distinct, the secret file is
// written with mode 0600 and read back unchanged, bad key files are refused naming the path, an
// existing pair is never overwritten by accident, and the allowlist admits exactly the enrolled
// (name, key) pairs, including after a key is replaced or revoked.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/keys.h"
#include "common/transport.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate {
namespace {

using rollgate::testing::readFile;
using rollgate::testing::ScopedTempDir;
using rollgate::testing::writeFile;

unsigned modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

bool anyContains(const std::vector<std::string>& lines, const std::string& needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(needle) != std::string::npos; });
}

TEST_CASE("generated key pairs are valid Z85, distinct, and the public key derives from the secret") {
  CurveKeyPair a = generateCurveKeyPair();
  CurveKeyPair b = generateCurveKeyPair();
  CHECK(a.publicKey.size() == 40);
  CHECK(a.secretKey.size() == 40);
  CHECK(isValidZ85Key(a.publicKey));
  CHECK(isValidZ85Key(a.secretKey));
  CHECK(a.publicKey != b.publicKey);
  CHECK(a.secretKey != b.secretKey);
  auto derived = publicKeyFromSecret(a.secretKey);
  REQUIRE(derived.ok());
  CHECK(*derived == a.publicKey);
  CHECK_FALSE(publicKeyFromSecret("short").ok());
}

TEST_CASE("Z85 key validation") {
  CHECK(isValidZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
  CHECK_FALSE(isValidZ85Key(""));
  CHECK_FALSE(isValidZ85Key(std::string(39, 'a')));
  CHECK_FALSE(isValidZ85Key(std::string(41, 'a')));
  CHECK_FALSE(isValidZ85Key(std::string(39, 'a') + "\""));  // '"' is not in the Z85 alphabet
}

TEST_CASE("a key pair is written with mode 0600 for the secret and read back unchanged") {
  ScopedTempDir dir;
  CurveKeyPair pair = generateCurveKeyPair();
  REQUIRE(writeKeyPair(dir / "agent", pair, false).ok());
  CHECK(modeOf(dir / "agent.key") == 0600);
  CHECK(modeOf(dir / "agent.pub") == 0644);
  CHECK(readFile(dir / "agent.key") == pair.secretKey + "\n");
  auto secret = readKeyFile(dir / "agent.key");
  auto pub = readKeyFile(dir / "agent.pub");
  REQUIRE(secret.ok());
  REQUIRE(pub.ok());
  CHECK(*secret == pair.secretKey);
  CHECK(*pub == pair.publicKey);
  // No temporary files are left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 2);
}

TEST_CASE("an existing key pair is not overwritten unless asked") {
  ScopedTempDir dir;
  CurveKeyPair first = generateCurveKeyPair();
  CurveKeyPair second = generateCurveKeyPair();
  REQUIRE(writeKeyPair(dir / "op", first, false).ok());
  auto refused = writeKeyPair(dir / "op", second, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(dir / "op.key") != std::string::npos);
  CHECK(refused.error().message.find("already exists") != std::string::npos);
  CHECK(*readKeyFile(dir / "op.key") == first.secretKey);
  CHECK(*readKeyFile(dir / "op.pub") == first.publicKey);

  // Even when only the public half exists.
  ScopedTempDir other;
  writeFile(other / "op.pub", first.publicKey + "\n");
  CHECK_FALSE(writeKeyPair(other / "op", second, false).ok());

  REQUIRE(writeKeyPair(dir / "op", second, true).ok());
  CHECK(*readKeyFile(dir / "op.key") == second.secretKey);
  CHECK(modeOf(dir / "op.key") == 0600);
}

TEST_CASE("keygen command: writes once, leaves an existing key alone with if-missing, refuses otherwise") {
  ScopedTempDir dir;
  auto out = keygenCommand(dir / "k", false, false);
  REQUIRE(out.ok());
  auto pub = readKeyFile(dir / "k.pub");
  REQUIRE(pub.ok());
  CHECK(out->find(*pub) != std::string::npos);
  std::string secret = *readKeyFile(dir / "k.key");

  auto again = keygenCommand(dir / "k", true, false);
  REQUIRE(again.ok());
  CHECK(again->find("left unchanged") != std::string::npos);
  CHECK(*readKeyFile(dir / "k.key") == secret);

  CHECK_FALSE(keygenCommand(dir / "k", false, false).ok());
  CHECK(*readKeyFile(dir / "k.key") == secret);

  REQUIRE(keygenCommand(dir / "k", false, true).ok());
  CHECK(*readKeyFile(dir / "k.key") != secret);
}

TEST_CASE("invalid key files are refused naming the path and the problem") {
  ScopedTempDir dir;
  CurveKeyPair pair = generateCurveKeyPair();

  SUBCASE("whitespace around a key is accepted") {
    writeFile(dir / "ok.pub", "  \n" + pair.publicKey + " \r\n\n");
    auto key = readKeyFile(dir / "ok.pub");
    REQUIRE(key.ok());
    CHECK(*key == pair.publicKey);
  }
  SUBCASE("wrong length") {
    writeFile(dir / "short.pub", "abc\n");
    auto key = readKeyFile(dir / "short.pub");
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().message.find(dir / "short.pub") != std::string::npos);
    CHECK(key.error().message.find("got 3 characters") != std::string::npos);
  }
  SUBCASE("right length, not Z85") {
    writeFile(dir / "bad.pub", std::string(39, 'a') + "\"\n");
    auto key = readKeyFile(dir / "bad.pub");
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().message.find("Z85") != std::string::npos);
  }
  SUBCASE("two keys in one file") {
    writeFile(dir / "two.pub", pair.publicKey + "\n" + pair.publicKey + "\n");
    CHECK_FALSE(readKeyFile(dir / "two.pub").ok());
  }
  SUBCASE("empty file") {
    writeFile(dir / "empty.pub", "");
    CHECK_FALSE(readKeyFile(dir / "empty.pub").ok());
  }
  SUBCASE("missing file") {
    auto key = readKeyFile(dir / "missing.pub");
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().message.find(dir / "missing.pub") != std::string::npos);
  }
}

TEST_CASE("allowlist: set, admits, lookups, key replacement and removal") {
  Allowlist list;
  std::string k1 = generateCurveKeyPair().publicKey;
  std::string k2 = generateCurveKeyPair().publicKey;
  std::string k3 = generateCurveKeyPair().publicKey;

  CHECK_FALSE(list.admits("web-1", k1));
  list.set("web-1", k1);
  list.set("web-2", k2);
  CHECK(list.admits("web-1", k1));
  CHECK(list.admits("web-2", k2));
  CHECK_FALSE(list.admits("web-1", k2));  // a known key under another host's name
  CHECK_FALSE(list.admits("web-3", k1));
  CHECK(list.nameForKey(k2) == std::optional<std::string>("web-2"));
  CHECK(list.keyForName("web-1") == std::optional<std::string>(k1));
  CHECK_FALSE(list.nameForKey(k3).has_value());

  // Re-enrolling a name with a new key: the old key stops working at once.
  list.set("web-1", k3);
  CHECK(list.admits("web-1", k3));
  CHECK_FALSE(list.admits("web-1", k1));
  CHECK_FALSE(list.nameForKey(k1).has_value());
  CHECK(list.nameForKey(k3) == std::optional<std::string>("web-1"));

  CHECK(list.remove("web-2"));
  CHECK_FALSE(list.remove("web-2"));
  CHECK_FALSE(list.admits("web-2", k2));
  CHECK_FALSE(list.nameForKey(k2).has_value());
  CHECK(list.entries() == std::map<std::string, std::string>{{"web-1", k3}});

  list.replace({{"db-1", k1}, {"db-2", k2}});
  CHECK_FALSE(list.admits("web-1", k3));
  CHECK_FALSE(list.nameForKey(k3).has_value());
  CHECK(list.admits("db-1", k1));
  CHECK(list.nameForKey(k2) == std::optional<std::string>("db-2"));
  CHECK(list.entries().size() == 2);
}

TEST_CASE("allowlist directory: good keys are loaded, bad names and bad keys are skipped and listed") {
  ScopedTempDir dir;
  CurveKeyPair a = generateCurveKeyPair();
  CurveKeyPair b = generateCurveKeyPair();
  writeFile(dir / "web-eu-1.pub", a.publicKey + "\n");
  writeFile(dir / "db.eu_2.pub", b.publicKey + "\n");
  writeFile(dir / "-dash.pub", a.publicKey + "\n");        // name must start with a letter/digit
  writeFile(dir / "has space.pub", a.publicKey + "\n");    // not a valid name
  writeFile(dir / "broken.pub", "not a key\n");            // valid name, invalid key
  writeFile(dir / "README.txt", "not a key file, ignored");
  writeFile(dir / "web-eu-1.key", a.secretKey + "\n");      // secret keys are not read
  writeFile(dir / ".pub", a.publicKey + "\n");              // no name at all: ignored

  std::vector<std::string> problems;
  auto entries = Allowlist::readDirectory(dir.path(), &problems);
  CHECK(entries == std::map<std::string, std::string>{{"web-eu-1", a.publicKey},
                                                      {"db.eu_2", b.publicKey}});
  INFO("problems: " << [&] {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    return all;
  }());
  CHECK(problems.size() == 3);
  CHECK(anyContains(problems, dir / "-dash.pub"));
  CHECK(anyContains(problems, dir / "has space.pub"));
  CHECK(anyContains(problems, dir / "broken.pub"));
  CHECK_FALSE(anyContains(problems, "README"));

  // Without a problems list it still skips the bad files.
  CHECK(Allowlist::readDirectory(dir.path(), nullptr).size() == 2);
}

TEST_CASE("allowlist directory that does not exist is empty and not a problem") {
  ScopedTempDir dir;
  std::vector<std::string> problems;
  CHECK(Allowlist::readDirectory(dir / "absent", &problems).empty());
  CHECK(problems.empty());
}

}  // namespace
}  // namespace rollgate
