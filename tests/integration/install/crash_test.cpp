// SIGKILL of the installing process at every step (and in the middle of the download): after
// recover(), `current` is on a complete release, nginx serves it, nothing temporary is left, and
// the interrupted command's outcome is reported at once (and again on re-delivery).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/integration/install/fixture.h"

using namespace rollgate;
using namespace rollgate::install;
using namespace rollgate::testing;

namespace {

std::string driverPath() {
  const char* bin = std::getenv("ROLLGATE_BIN_DIR");
  return std::string(bin ? bin : ROLLGATE_BINARY_DIR "/bin") + "/install_crash_driver";
}

// Starts the driver paused at `step`; returns its pid once it has paused.
pid_t startPausedDriver(const std::vector<std::string>& args, const std::string& step,
                        const std::string& marker) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("ROLLGATE_TEST_PAUSE_AT", step.c_str(), 1);
    ::setenv("ROLLGATE_TEST_MARKER", marker.c_str(), 1);
    std::vector<char*> argv;
    std::string path = driverPath();
    argv.push_back(path.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(marker)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      FAIL("driver exited before pausing at " << step << " (status " << status << ")");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("driver did not pause at " << step);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

}  // namespace

TEST_CASE("SIGKILL at every step leaves current on a complete release; recover() reports it") {
  sys::PosixEnv env;
  if (skipWithoutSystemd()) return;
  REQUIRE_MESSAGE(std::filesystem::exists(driverPath()), driverPath());
  auto m = UserManager::start();
  REQUIRE_MESSAGE(m.ok(), m.error().message);
  auto& manager = **m;
  TempDir tmp;
  std::string root = tmp / "web";
  auto n = NginxUnit::start(manager, root + "/current/www");
  REQUIRE_MESSAGE(n.ok(), n.error().message);
  auto& nginx = **n;
  auto c = systemd::SystemdClient::connect({systemd::BusKind::kUser, manager.busAddress()});
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  auto& client = **c;
  Artifact v1 = makeRelease(tmp.path(), "1.0");
  Artifact v2 = makeRelease(tmp.path(), "2.0", true, "", 3 << 20);  // 3 MiB: several chunks
  FileSource source;

  struct Case {
    std::string step;
    Outcome outcome;
    std::string active;  // after recover()
  };
  for (const Case& k : std::vector<Case>{{"fetch-bytes", Outcome::kInterrupted, "1.0"},
                                         {"fetch", Outcome::kInterrupted, "1.0"},
                                         {"verify", Outcome::kInterrupted, "1.0"},
                                         {"unpack", Outcome::kInterrupted, "1.0"},
                                         {"switch", Outcome::kInterrupted, "1.0"},
                                         {"restart", Outcome::kInterrupted, "1.0"},
                                         {"health", Outcome::kInterrupted, "1.0"},
                                         {"done", Outcome::kSucceeded, "2.0"}}) {
    CAPTURE(k.step);
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    std::string ledgerPath = tmp / ("ledger-" + k.step + ".json");
    InstallerConfig config;
    config.service = "web";
    config.installRoot = root;
    config.unit = nginx.unit();
    config.healthUrl = nginx.url("/health.txt");
    config.healthTimeoutMillis = 5000;
    config.healthIntervalMillis = 50;
    std::atomic<bool> cancel{false};
    {
      CommandLedger ledger(ledgerPath, env);
      REQUIRE(ledger.load().ok());
      Installer installer(config, client, ledger, {&source}, env, testLogger());
      REQUIRE(installer.open().ok());
      auto r = installer.execute(installCommand(1, "web", "1.0", v1), {}, cancel);
      REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
    }
    std::string marker = tmp / ("paused-" + k.step);
    pid_t pid = startPausedDriver({root, ledgerPath, manager.busAddress(), nginx.unit(),
                                   nginx.url("/health.txt"), "file://" + v2.path, v2.sha256,
                                   std::to_string(v2.sizeBytes), "2.0", "2"},
                                  k.step, marker);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));

    // Right after the kill, before any recovery: `current` is a complete release.
    CommandLedger ledger(ledgerPath, env);
    REQUIRE(ledger.load().ok());
    Installer installer(config, client, ledger, {&source}, env, testLogger());
    REQUIRE(installer.open().ok());
    auto active = installer.store().activeRelease();
    REQUIRE(active.has_value());
    CHECK(readText(root + "/current/www/index.html") == "release " + *active + "\n");
    if (k.step == "fetch-bytes") {
      auto part = root + "/.rollgate/staging/" + v2.sha256 + ".part";
      REQUIRE(std::filesystem::exists(part));
      auto size = std::filesystem::file_size(part);
      CHECK(size > 0);
      CHECK(size < v2.sizeBytes);
    }

    auto recovered = installer.recover();
    REQUIRE_MESSAGE(recovered.ok(), recovered.error().message);
    REQUIRE(recovered->has_value());
    const CommandResult& result = **recovered;
    CAPTURE(eventsText(result));
    CHECK(result.outcome == k.outcome);
    CHECK(result.command == CommandRef{"rollout-crash", 2, 1});
    CHECK(result.activeRelease == k.active);
    CHECK(anyEventContains(result, "agent restarted during step"));
    CHECK(installer.store().activeRelease() == k.active);
    auto body = httpGet(nginx.url("/index.html"));
    REQUIRE(body.ok());
    CHECK(body->body == "release " + k.active + "\n");
    for (const auto& name : listTree(root + "/releases")) {
      CHECK_FALSE(name.starts_with(".tmp-"));
    }
    CHECK_FALSE(std::filesystem::exists(root + "/.rollgate/journal.json"));
    CHECK_FALSE(std::filesystem::exists(root + "/current.tmp"));
    // A second recover() finds nothing to do.
    auto again = installer.recover();
    REQUIRE(again.ok());
    CHECK_FALSE(again->has_value());
    // Re-delivery of the interrupted command returns the recorded outcome, does nothing.
    auto redelivered = installer.execute(
        installCommand(2, "web", "2.0", v2), {}, cancel);
    CHECK(redelivered.outcome == k.outcome);
    CHECK(installer.store().activeRelease() == k.active);

    if (k.step == "fetch-bytes") {
      // A new command for the same artifact resumes the partial download.
      uint64_t firstBytes = 0;
      auto resumed = installer.execute(
          [&] {
            Command cmd = installCommand(3, "web", "2.0", v2);
            cmd.ref.rolloutId = "rollout-crash";
            return cmd;
          }(),
          [&](const CommandResult& p) {
            if (firstBytes == 0 && p.bytesDone > 0) firstBytes = p.bytesDone;
          },
          cancel);
      REQUIRE_MESSAGE(resumed.outcome == Outcome::kSucceeded, eventsText(resumed));
      CHECK(firstBytes >= (1u << 20));  // started from the bytes already there
      CHECK(httpGet(nginx.url("/index.html"))->body == "release 2.0\n");
    }
  }
}

TEST_CASE("SIGKILL in the middle of an unpack leaves a temp dir that recover() removes") {
  sys::PosixEnv env;
  if (skipWithoutSystemd()) return;
  auto m = UserManager::start();
  REQUIRE_MESSAGE(m.ok(), m.error().message);
  auto& manager = **m;
  TempDir tmp;
  std::string root = tmp / "web";
  auto n = NginxUnit::start(manager, root + "/current/www");
  REQUIRE_MESSAGE(n.ok(), n.error().message);
  auto& nginx = **n;
  auto c = systemd::SystemdClient::connect({systemd::BusKind::kUser, manager.busAddress()});
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  FileSource source;
  InstallerConfig config;
  config.service = "web";
  config.installRoot = root;
  config.unit = nginx.unit();
  config.healthUrl = nginx.url("/health.txt");
  std::string ledgerPath = tmp / "ledger.json";
  std::atomic<bool> cancel{false};
  {
    CommandLedger ledger(ledgerPath, env);
    REQUIRE(ledger.load().ok());
    Installer installer(config, **c, ledger, {&source}, env, testLogger());
    REQUIRE(installer.open().ok());
    auto r = installer.execute(installCommand(1, "web", "1.0", makeRelease(tmp.path(), "1.0")),
                               {}, cancel);
    REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  }
  // Many entries so that the unpack takes a while.
  Artifact big;
  big.path = tmp / "many.tar.gz";
  {
    ArchiveBuilder b(big.path, Compression::kGzip);
    b.dir("www").file("www/index.html", "release 2.0\n").file("www/health.txt", "ok\n");
    for (int i = 0; i < 40'000; ++i) b.file("files/" + std::to_string(i), "x");
  }
  big.sha256 = toHex(*sha256File(big.path));
  big.sizeBytes = std::filesystem::file_size(big.path);
  std::string marker = tmp / "paused", resume = tmp / "resume";
  ::setenv("ROLLGATE_TEST_CONTINUE", resume.c_str(), 1);
  pid_t pid = startPausedDriver({root, ledgerPath, manager.busAddress(), nginx.unit(),
                                 nginx.url("/health.txt"), "file://" + big.path, big.sha256,
                                 std::to_string(big.sizeBytes), "2.0", "2"},
                                "unpack", marker);
  ::unsetenv("ROLLGATE_TEST_CONTINUE");
  writeText(resume, "go");
  // Kill as soon as the temporary release directory has some files in it.
  bool sawTemp = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!sawTemp && std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root + "/releases", ec)) {
      if (e.path().filename().string().starts_with(".tmp-2.0-") &&
          std::filesystem::exists(e.path() / "files/100")) {
        sawTemp = true;
      }
    }
    if (!sawTemp) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE_MESSAGE(sawTemp, "never saw the unpack in progress");
  CHECK_FALSE(std::filesystem::exists(root + "/releases/2.0"));

  CommandLedger ledger(ledgerPath, env);
  REQUIRE(ledger.load().ok());
  Installer installer(config, **c, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  CHECK(installer.store().activeRelease() == "1.0");
  auto recovered = installer.recover();
  REQUIRE(recovered.ok());
  REQUIRE(recovered->has_value());
  CHECK((*recovered)->outcome == Outcome::kInterrupted);
  CHECK(contains((*recovered)->message, "interrupted during unpack"));
  CHECK(listTree(root + "/releases") != std::vector<std::string>{});
  for (const auto& name : listTree(root + "/releases")) CHECK_FALSE(name.starts_with(".tmp-"));
  CHECK(installer.describe().releases == std::vector<std::string>{"1.0"});
  CHECK(httpGet(nginx.url("/index.html"))->body == "release 1.0\n");
}
