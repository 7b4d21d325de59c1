// `rollgate sign`: keygen, sign, verify through the CLI11 command as an operator runs it.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "tests/unit/install/temp_dir.h"

using rollgate::testing::TempDir;

namespace {
// Runs `rollgate <args>`; returns the exit code a user would see (0 or CLI::RuntimeError's code).
int run(std::vector<std::string> args) {
  CLI::App app("rollgate");
  rollgate::cli::addSignCommand(app);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code();
  }
  return 0;
}
}  // namespace

TEST_CASE("rollgate sign keygen / sign / verify") {
  TempDir tmp;
  std::string file = tmp / "build.tar.gz";
  rollgate::testing::writeText(file, "the build");
  CHECK(run({"sign", "keygen", "--out", tmp / "ci"}) == 0);
  struct stat st;
  REQUIRE(::stat((tmp / "ci.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((tmp / "ci.pub").c_str(), &st) == 0);
  CHECK(run({"sign", "keygen", "--out", tmp / "ci"}) == rollgate::cli::kExitFailure);

  CHECK(run({"sign", file, "--key", tmp / "ci.key"}) == 0);
  CHECK(rollgate::testing::readText(file + ".sig").starts_with("rollgate-signature ed25519\n"));
  CHECK(run({"sign", "verify", file, "--pub", tmp / "ci.pub"}) == 0);

  CHECK(run({"sign", "keygen", "--out", tmp / "other"}) == 0);
  CHECK(run({"sign", "verify", file, "--pub", tmp / "other.pub"}) == rollgate::cli::kExitFailure);
  rollgate::testing::writeText(file, "the build, tampered");
  CHECK(run({"sign", "verify", file, "--pub", tmp / "ci.pub"}) == rollgate::cli::kExitFailure);
  CHECK(run({"sign", file, "--key", tmp / "missing.key"}) == rollgate::cli::kExitUsage);
  CHECK(run({"sign", file}) == rollgate::cli::kExitUsage);
  CHECK(run({"sign", "verify", file, "--pub", tmp / "ci.key"}) == rollgate::cli::kExitUsage);
}
