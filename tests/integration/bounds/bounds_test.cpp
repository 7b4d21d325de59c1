// Real coordinator, agents and CLI (tests/support/fleet): what an agent reports is never dropped
// for its size, archive bounds stop an install before the host changes, versions outside
// docs/versions.md are refused where they enter, and a daemon's configuration mistakes end it
// with a message on stderr instead of silence.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>
#include <string>

#include "tests/support/fleet/fleet.h"

using namespace rollgate::testing;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A release directory tree packed with tar -czf.
std::string makeArchive(const TempDir& dir, const std::string& name,
                        const std::map<std::string, std::string>& files) {
  std::string root = dir.file("src-" + name);
  fs::create_directories(root);
  for (const auto& [path, content] : files) {
    fs::create_directories(fs::path(root + "/" + path).parent_path());
    writeFile(root + "/" + path, content);
  }
  std::string archive = dir.file(name + ".tar.gz");
  auto out = runCommand({"tar", "-czf", archive, "-C", root, "."});
  REQUIRE_MESSAGE(out.exitCode == 0, out.err);
  return archive;
}

std::string serviceToml(const std::string& name, const std::string& installRoot,
                        const std::string& extra) {
  return "\n[[service]]\nname = \"" + name + "\"\ninstall_root = \"" + installRoot +
         "\"\nrestart_command = [\"/bin/true\"]\n" + extra;
}

std::string currentTarget(const std::string& installRoot) {
  std::error_code ec;
  auto target = fs::read_symlink(installRoot + "/current", ec);
  return ec ? "" : target.string();
}

// Names under releases/ (a refused unpack leaves no .tmp-* behind).
std::vector<std::string> releaseDirs(const std::string& installRoot) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(installRoot + "/releases", ec)) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("an agent's huge failure report reaches the operator cut with a marker, at once") {
  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  const std::string webRoot = fleet.dir().file("srv-web");
  const std::string apiRoot = fleet.dir().file("srv-api");
  fs::create_directories(webRoot);
  fs::create_directories(apiRoot);
  // Nothing listens on the health port, so the health check fails and its error, which quotes
  // the URL, is 20 kB: more than a result's message may carry (8192 bytes).
  const std::string hugeUrl =
      "http://127.0.0.1:" + std::to_string(freePort()) + "/" + std::string(20'000, 'h');
  AgentSpec spec("web-1", "eu-west", "eu-west-a");
  spec.extraToml = "systemd = \"none\"\n" +
                   serviceToml("web", webRoot,
                               "health_url = \"" + hugeUrl + "\"\nhealth_timeout_seconds = 1\n") +
                   serviceToml("api", apiRoot,
                               "max_unpacked_bytes = 1048576\nmax_unpack_ratio = 0\n");
  fleet.addAgent(spec);
  fleet.startAgent("web-1");
  REQUIRE(fleet.waitForHealthy({"web-1"}));

  auto push = [&](const std::string& file, const std::string& service, const std::string& version) {
    return fleet.cli({"artifact", "push", file, "--service", service, "--version", version});
  };
  auto install = [&](const std::string& service, const std::string& version) {
    // A timeout far longer than the test's: a result that never arrives would fail the test
    // (its CTest timeout) instead of passing on a timeout message.
    return fleet.cli({"install", "--host", "web-1", "--service", service, "--version", version,
                      "--timeout-seconds", "3600"});
  };

  SUBCASE("a failed health check with a 20 kB URL") {
    auto v1 = makeArchive(fleet.dir(), "web-1.0.0", {{"index.html", "one\n"}});
    REQUIRE(push(v1, "web", "1.0.0").exitCode == 0);
    auto failed = install("web", "1.0.0");
    std::string said = failed.out + failed.err;
    CAPTURE(said.substr(0, 2000));
    CHECK(failed.exitCode == 1);
    CHECK(contains(said, "health check http://127.0.0.1:"));
    CHECK(contains(said, "\xE2\x80\xA6 [truncated "));
    CHECK_FALSE(contains(said, "timed out"));
    CHECK(said.size() < 20'000);
    // The coordinator accepted the result: nothing dropped as malformed.
    std::string log = readFile(fleet.coordinatorLog());
    CHECK_FALSE(contains(log, "dropped"));
    CHECK(contains(readFile(fleet.agentLog("web-1")), "result cut to the wire's limits"));
  }

  SUBCASE("archives over a configured bound and without files leave the release unchanged") {
    auto v1 = makeArchive(fleet.dir(), "api-1.0.0", {{"bin/api", "#!/bin/sh\n"}});
    REQUIRE(push(v1, "api", "1.0.0").exitCode == 0);
    auto first = install("api", "1.0.0");
    REQUIRE_MESSAGE(first.exitCode == 0, first.out << first.err);
    REQUIRE(currentTarget(apiRoot) == "releases/1.0.0");

    // 1 MiB + 1 byte of data: one byte over max_unpacked_bytes = 1048576.
    auto big = makeArchive(fleet.dir(), "api-1.1.0",
                           {{"bin/api", "#!/bin/sh\n"}, {"data", std::string((1 << 20) + 1 - 10, 'd')}});
    REQUIRE(push(big, "api", "1.1.0").exitCode == 0);
    auto over = install("api", "1.1.0");
    std::string said = over.out + over.err;
    CAPTURE(said);
    CHECK(over.exitCode == 1);
    CHECK(contains(said, "unpack artifact api 1.1.0"));
    CHECK(contains(said, "unpacked size would reach 1048577 bytes"));
    CHECK(contains(said, "over max_unpacked_bytes = 1048576 bytes"));
    CHECK(currentTarget(apiRoot) == "releases/1.0.0");
    CHECK(releaseDirs(apiRoot) == std::vector<std::string>{"1.0.0"});

    // Exactly at the bound: installed.
    auto at = makeArchive(fleet.dir(), "api-1.2.0",
                          {{"bin/api", "#!/bin/sh\n"}, {"data", std::string((1 << 20) - 10, 'd')}});
    REQUIRE(push(at, "api", "1.2.0").exitCode == 0);
    auto fits = install("api", "1.2.0");
    CHECK_MESSAGE(fits.exitCode == 0, fits.out << fits.err);
    CHECK(currentTarget(apiRoot) == "releases/1.2.0");

    // A tar with no entries at all.
    std::string emptyDir = fleet.dir().file("empty-src");
    fs::create_directories(emptyDir);
    std::string empty = fleet.dir().file("empty.tar.gz");
    REQUIRE(runCommand({"tar", "-czf", empty, "-C", emptyDir, "--files-from", "/dev/null"}).exitCode == 0);
    REQUIRE(push(empty, "api", "1.3.0").exitCode == 0);
    auto none = install("api", "1.3.0");
    CHECK(none.exitCode == 1);
    CHECK(contains(none.out + none.err, "the archive has no files"));
    CHECK(currentTarget(apiRoot) == "releases/1.2.0");
    CHECK(releaseDirs(apiRoot) == std::vector<std::string>{"1.0.0", "1.2.0"});
  }

  SUBCASE("a version outside the grammar is refused where it enters, before any upload") {
    auto v1 = makeArchive(fleet.dir(), "web-rc", {{"index.html", "rc\n"}});
    auto pushed = push(v1, "web", "1.0~rc1");
    CHECK(pushed.exitCode == 2);
    CHECK(contains(pushed.err, "version '1.0~rc1': '~' is not allowed"));
    writeFile(fleet.dir().file("plan.toml"), "");
    writeFile(fleet.dir().file("gates.toml"), "");
    auto started = fleet.cli({"rollout", "start", "--service", "web", "--version", "1.0~rc1",
                              "--artifact", v1, "--plan", fleet.dir().file("plan.toml"),
                              "--gates", fleet.dir().file("gates.toml")});
    CHECK(started.exitCode == 2);
    CHECK(contains(started.err, "version '1.0~rc1': '~' is not allowed"));
    auto installed = install("web", "1.0~rc1");
    CHECK(installed.exitCode == 2);
    CHECK(contains(installed.err, "version '1.0~rc1': '~' is not allowed"));
  }
}

TEST_CASE("configuration mistakes stop a daemon with a message, never silently") {
  LocalFleet fleet;
  const std::string coordinator = binDir() + "/rollgate-coordinator";
  const std::string config = fleet.coordinatorConfig();
  const std::string original = readFile(config);
  auto run = [&] { return runCommand({coordinator, "--config", config}); };

  SUBCASE("an unknown log_level") {
    writeFile(config, original + "log_level = \"verbose\"\n");
    auto out = run();
    CHECK(out.exitCode == 2);
    CHECK(contains(out.err, config));
    CHECK(contains(out.err, "'coordinator.log_level'"));
    CHECK(contains(out.err, "trace, debug, info, warn, error, critical, off"));
  }
  SUBCASE("a missing key file, with logging off") {
    writeFile(config, original + "log_level = \"off\"\n");
    fs::remove(fleet.dir().file("coordinator.key"));
    auto out = run();
    CHECK(out.exitCode == 1);
    CHECK(contains(out.err, fleet.dir().file("coordinator.key")));
  }
  SUBCASE("a secret key readable by others") {
    const std::string key = fleet.dir().file("coordinator.key");
    REQUIRE(::chmod(key.c_str(), 0644) == 0);
    auto out = run();
    CHECK(out.exitCode == 1);
    CHECK(contains(out.err, "secret key file " + key + " has mode 0644"));
    CHECK(contains(out.err, "chmod 600 " + key));
  }
  SUBCASE("an agent whose key is group-writable") {
    fleet.startCoordinator();
    REQUIRE(fleet.waitForCoordinator());
    fleet.addAgent(AgentSpec("web-1", "eu-west", "eu-west-a"));
    const std::string key = fleet.dir().file("web-1.key");
    REQUIRE(::chmod(key.c_str(), 0620) == 0);
    auto out = runCommand({binDir() + "/rollgate-agent", "--config", fleet.agentConfig("web-1")});
    CHECK(out.exitCode == 1);
    CHECK(contains(out.err, "secret key file " + key + " has mode 0620"));
  }
}

TEST_CASE("the daemons' state is private whatever the umask they are started with") {
  LocalFleet fleet;
  mode_t old = ::umask(0);
  fleet.startCoordinator();
  ::umask(old);
  REQUIRE(fleet.waitForCoordinator());
  fleet.addAgent(AgentSpec("web-1", "eu-west", "eu-west-a"));
  old = ::umask(0);
  fleet.startAgent("web-1");
  ::umask(old);
  REQUIRE(fleet.waitForHealthy({"web-1"}));
  CHECK(modeOf(fleet.dir().file("web-1-state")) == 0700);
  const std::string state = fleet.dir().file("state");
  CHECK(modeOf(state) == 0700);
  CHECK(modeOf(state + "/artifacts") == 0700);
  for (const auto& entry : fs::directory_iterator(state)) {
    if (!entry.is_regular_file()) continue;
    CAPTURE(entry.path().string());
    CHECK(modeOf(entry.path().string()) == 0600);  // coordinator.db, -wal, -shm, the lock
  }
  CHECK(fs::exists(state + "/coordinator.db"));
}
