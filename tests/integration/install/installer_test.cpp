// The installer against a real systemd user manager and a real nginx unit serving
// <root>/current/www: install, upgrade, roll back, refuse corrupt artifacts, switch back by itself
// when the unit fails to start or the health check fails, at-most-once commands.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "agent/install/http_status.h"
#include "common/sys/error.h"
#include "tests/integration/install/fixture.h"

using namespace rollgate;
using namespace rollgate::install;
using namespace rollgate::testing;

namespace {

struct Setup {
  std::unique_ptr<UserManager> manager;
  std::unique_ptr<NginxUnit> nginx;
  std::unique_ptr<systemd::SystemdClient> client;
  TempDir tmp;
  std::string root = tmp / "web";
  sys::PosixEnv env;
  std::unique_ptr<CommandLedger> ledger;
  FileSource fileSource;
  std::unique_ptr<Installer> installer;
  std::atomic<bool> cancel{false};
  uint64_t sequence = 0;

  // extraServiceLines: for the nginx unit ([Service] section).
  explicit Setup(const std::string& extraServiceLines = "",
                 std::vector<std::string> trustedKeys = {}) {
    auto m = UserManager::start();
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    manager = std::move(*m);
    std::string lines = extraServiceLines;
    for (size_t at; (at = lines.find("{root}")) != std::string::npos;) lines.replace(at, 6, root);
    auto n = NginxUnit::start(*manager, root + "/current/www", lines);
    REQUIRE_MESSAGE(n.ok(), n.error().message);
    nginx = std::move(*n);
    auto c = systemd::SystemdClient::connect({systemd::BusKind::kUser, manager->busAddress()});
    REQUIRE_MESSAGE(c.ok(), c.error().message);
    client = std::move(*c);
    ledger = std::make_unique<CommandLedger>(tmp / "ledger.json", env);
    REQUIRE(ledger->load().ok());
    InstallerConfig config;
    config.service = "web";
    config.installRoot = root;
    config.unit = nginx->unit();
    config.healthUrl = nginx->url("/health.txt");
    config.healthTimeoutMillis = 1500;
    config.healthIntervalMillis = 50;
    config.trustedKeyPaths = std::move(trustedKeys);
    config.restartTimeoutMillis = 20'000;
    installer = std::make_unique<Installer>(config, *client, *ledger,
                                            std::vector<ArtifactSource*>{&fileSource}, env,
                                            testLogger());
    auto opened = installer->open();
    REQUIRE_MESSAGE(opened.ok(), opened.error().message);
  }

  CommandResult run(const Command& command) {
    return installer->execute(command, {}, cancel);
  }
  CommandResult install(const std::string& version, const Artifact& a) {
    return run(installCommand(++sequence, "web", version, a));
  }
  std::string served(const std::string& path = "/index.html") {
    auto r = httpGet(nginx->url(path));
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    return std::to_string(r->status) + " " + r->body;
  }
  uint32_t mainPid() {
    auto s = client->unitStatus(nginx->unit());
    REQUIRE_MESSAGE(s.ok(), s.error().message);
    return s->mainPid;
  }
};

}  // namespace

TEST_CASE("install v1, upgrade to v2, roll back: nginx serves each release") {
  if (skipWithoutSystemd()) return;
  Setup s;
  Artifact v1 = makeRelease(s.tmp.path(), "1.9");
  Artifact v2 = makeRelease(s.tmp.path(), "1.10");

  auto r1 = s.install("1.9", v1);
  REQUIRE_MESSAGE(r1.outcome == Outcome::kSucceeded, eventsText(r1));
  CHECK(r1.activeRelease == "1.9");
  CHECK(anyEventContains(r1, "restarted " + s.nginx->unit()));
  CHECK(anyEventContains(r1, "healthy on 1.9"));
  CHECK(s.served() == "200 release 1.9\n");
  uint32_t pid1 = s.mainPid();
  CHECK(pid1 != 0);

  // 1.10 is newer than 1.9 (numeric-aware comparison).
  auto r2 = s.install("1.10", v2);
  REQUIRE_MESSAGE(r2.outcome == Outcome::kSucceeded, eventsText(r2));
  CHECK(r2.activeRelease == "1.10");
  CHECK(s.served() == "200 release 1.10\n");
  uint32_t pid2 = s.mainPid();
  CHECK(pid2 != 0);
  CHECK(pid2 != pid1);  // really restarted through systemd
  auto status = s.client->unitStatus(s.nginx->unit());
  REQUIRE(status.ok());
  CHECK(status->activeState == "active");
  CHECK(status->subState == "running");

  auto described = s.installer->describe();
  CHECK(described.activeRelease == "1.10");
  CHECK(described.releases == std::vector<std::string>{"1.10", "1.9"});

  auto rb = s.run(rollbackCommand(++s.sequence, "web"));
  REQUIRE_MESSAGE(rb.outcome == Outcome::kSucceeded, eventsText(rb));
  CHECK(rb.activeRelease == "1.9");
  CHECK(contains(rb.message, "rolled back to 1.9"));
  CHECK(s.served() == "200 release 1.9\n");

  // Named rollback forward again is an explicit command too.
  auto named = s.run(rollbackCommand(++s.sequence, "web", "1.10"));
  REQUIRE_MESSAGE(named.outcome == Outcome::kSucceeded, eventsText(named));
  CHECK(s.served() == "200 release 1.10\n");

  // At most once: re-delivery returns the recorded result, an older command is stale.
  uint32_t pidBefore = s.mainPid();
  auto again = s.run(rollbackCommand(s.sequence, "web", "1.10"));
  CHECK(again == named);
  Command old = rollbackCommand(99, "web", "1.9");
  old.ref.epoch = 0;  // an older coordinator epoch: stale whatever its sequence
  auto stale = s.run(old);
  CHECK(stale.outcome == Outcome::kStale);
  CHECK(contains(stale.message, "not newer than the last applied (epoch 1, sequence 4)"));
  CHECK(s.served() == "200 release 1.10\n");
  CHECK(s.mainPid() == pidBefore);  // nothing restarted
}

TEST_CASE("corrupt, unsigned, wrongly signed and older artifacts are refused; nothing changes") {
  if (skipWithoutSystemd()) return;
  TempDir keys;
  REQUIRE(generateKeyPair(keys / "build").ok());
  REQUIRE(generateKeyPair(keys / "intruder").ok());
  Setup s("", {keys / "build.pub"});
  Artifact v1 = makeRelease(s.tmp.path(), "2.0");
  signArtifact(v1, keys / "build.key");
  auto ok = s.install("2.0", v1);
  REQUIRE_MESSAGE(ok.outcome == Outcome::kSucceeded, eventsText(ok));
  CHECK(anyEventContains(ok, "and signature"));
  uint32_t pid = s.mainPid();

  auto expectRefused = [&](const CommandResult& r, const std::string& reason) {
    CAPTURE(eventsText(r));
    CHECK(r.outcome == Outcome::kFailed);
    CHECK(contains(r.message, reason));
    CHECK(r.activeRelease == "2.0");
    CHECK(s.installer->describe().releases == std::vector<std::string>{"2.0"});
    CHECK(listTree(s.root + "/.rollgate/staging").empty());
    CHECK(s.served() == "200 release 2.0\n");
    CHECK(s.mainPid() == pid);
  };

  Artifact v2 = makeRelease(s.tmp.path(), "2.1");
  signArtifact(v2, keys / "build.key");

  Artifact badHash = v2;
  badHash.sha256 = std::string(64, 'a');
  expectRefused(s.install("2.1", badHash), "sha256 mismatch");

  Artifact truncated = v2;
  truncated.path = s.tmp / "truncated.tar.gz";
  std::filesystem::copy_file(v2.path, truncated.path);
  std::filesystem::resize_file(truncated.path, v2.sizeBytes / 2);
  expectRefused(s.install("2.1", truncated), "truncated");

  Artifact wrongSig = v2;
  signArtifact(wrongSig, keys / "intruder.key");
  expectRefused(s.install("2.1", wrongSig), "does not verify");

  Artifact unsignedArtifact = v2;
  unsignedArtifact.signature.clear();
  expectRefused(s.install("2.1", unsignedArtifact), "unsigned");

  Artifact older = makeRelease(s.tmp.path(), "1.99");
  signArtifact(older, keys / "build.key");
  expectRefused(s.install("1.99", older), "older than the active release 2.0");

  // The genuine artifact still installs afterwards.
  auto good = s.install("2.1", v2);
  REQUIRE_MESSAGE(good.outcome == Outcome::kSucceeded, eventsText(good));
  CHECK(s.served() == "200 release 2.1\n");
}

TEST_CASE("a unit that fails to start and a failing health check each switch back by themselves") {
  if (skipWithoutSystemd()) return;
  // The unit refuses to start when the active release carries a file named BROKEN.
  Setup s("ExecStartPre=/bin/sh -c 'test ! -e {root}/current/BROKEN'\n");
  Artifact v1 = makeRelease(s.tmp.path(), "3.0");
  auto r1 = s.install("3.0", v1);
  REQUIRE_MESSAGE(r1.outcome == Outcome::kSucceeded, eventsText(r1));
  CHECK(s.served() == "200 release 3.0\n");

  SUBCASE("unit fails to start") {
    Artifact broken = makeRelease(s.tmp.path(), "3.1", true, "BROKEN");
    auto r = s.install("3.1", broken);
    CAPTURE(eventsText(r));
    CHECK(r.outcome == Outcome::kRolledBack);
    CHECK(r.activeRelease == "3.0");
    CHECK(anyEventContains(r, "switched current to 3.1"));
    CHECK(anyEventContains(r, "job failed"));
    CHECK(anyEventContains(r, "switched back to 3.0"));
    CHECK(anyEventContains(r, "restarted " + s.nginx->unit() + " on 3.0"));
    CHECK(s.served() == "200 release 3.0\n");
    auto status = s.client->unitStatus(s.nginx->unit());
    REQUIRE(status.ok());
    CHECK(status->activeState == "active");
    // The failed release stays installed (for inspection) but is not active.
    CHECK(s.installer->describe().releases == std::vector<std::string>{"3.1", "3.0"});
  }
  SUBCASE("health check fails") {
    Artifact unhealthy = makeRelease(s.tmp.path(), "3.2", false);
    auto r = s.install("3.2", unhealthy);
    CAPTURE(eventsText(r));
    CHECK(r.outcome == Outcome::kRolledBack);
    CHECK(r.activeRelease == "3.0");
    CHECK(anyEventContains(r, "restarted " + s.nginx->unit() + " on 3.2"));
    CHECK(anyEventContains(r, "not healthy within 1500 ms (last: HTTP 404)"));
    CHECK(anyEventContains(r, "switched back to 3.0"));
    CHECK(anyEventContains(r, "healthy on 3.0"));
    CHECK(s.served() == "200 release 3.0\n");
  }
}

TEST_CASE("hosts without systemd: a restart command stands in") {
  sys::PosixEnv env;
  if (skipWithoutSystemd()) return;
  TempDir tmp;
  FileSource source;
  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  std::string marker = tmp / "restarted";
  systemd::CommandServiceManager good({"/bin/sh", "-c", "echo x >> " + marker}, env);
  InstallerConfig config;
  config.service = "web";
  config.installRoot = tmp / "root";
  config.unit = "web.service";
  Installer installer(config, good, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  std::atomic<bool> cancel{false};
  auto r = installer.execute(installCommand(1, "web", "1.0", makeRelease(tmp.path(), "1.0")), {},
                             cancel);
  REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  CHECK(readText(marker) == "x\n");

  systemd::CommandServiceManager failing({"/bin/false"}, env);
  Installer second(config, failing, ledger, {&source}, env, testLogger());
  REQUIRE(second.open().ok());
  auto r2 = second.execute(installCommand(2, "web", "1.1", makeRelease(tmp.path(), "1.1")), {},
                           cancel);
  CAPTURE(eventsText(r2));
  CHECK(r2.outcome == Outcome::kRolledBack);
  CHECK(r2.activeRelease == "1.0");
  CHECK(anyEventContains(r2, "job failed"));
}

namespace {
struct TmpfsMount {
  std::string path;
  bool mounted = false;
  TmpfsMount(const std::string& p, const std::string& options) : path(p) {
    std::filesystem::create_directories(path);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};
}  // namespace

TEST_CASE("install root on a small full tmpfs fails cleanly and names the path") {
  sys::PosixEnv env;
  if (skipWithoutSystemd()) return;  // needs root for mount
  TempDir tmp;
  TmpfsMount disk(tmp / "disk", "size=1m");
  REQUIRE_MESSAGE(disk.mounted, "mount -t tmpfs -o size=1m failed: " << rollgate::sys::errnoMessage(errno));
  FileSource source;
  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  systemd::CommandServiceManager restart({"/bin/true"}, env);
  InstallerConfig config;
  config.service = "web";
  config.installRoot = disk.path + "/web";
  config.unit = "web.service";
  // The full disk, not the ratio bound (unpack_bounds_test), must stop the 3 MiB of zeros below.
  config.unpackLimits.maxUnpackRatio = 0;
  Installer installer(config, restart, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  std::atomic<bool> cancel{false};
  auto r1 = installer.execute(installCommand(1, "web", "1.0", makeRelease(tmp.path(), "1.0")),
                              {}, cancel);
  REQUIRE_MESSAGE(r1.outcome == Outcome::kSucceeded, eventsText(r1));
  auto before = listTree(config.installRoot);

  SUBCASE("the download does not fit") {
    Artifact big = makeRelease(tmp.path(), "1.1", true, "", 2 << 20);  // incompressible 2 MiB
    auto r = installer.execute(installCommand(2, "web", "1.1", big), {}, cancel);
    CAPTURE(eventsText(r));
    CHECK(r.outcome == Outcome::kFailed);
    CHECK(contains(r.message, config.installRoot + "/.rollgate/staging/" + big.sha256 + ".part"));
    CHECK(contains(r.message, "No space left on device"));
  }
  SUBCASE("the unpacked release does not fit") {
    Artifact bomb;
    bomb.path = tmp / "zeros.tar.gz";
    {
      ArchiveBuilder b(bomb.path, Compression::kGzip);
      b.dir("www").file("www/index.html", "release 1.2\n").file("www/zeros", std::string(3 << 20, '\0'));
    }
    bomb.sha256 = toHex(*sha256File(bomb.path));
    bomb.sizeBytes = std::filesystem::file_size(bomb.path);
    auto r = installer.execute(installCommand(3, "web", "1.2", bomb), {}, cancel);
    CAPTURE(eventsText(r));
    CHECK(r.outcome == Outcome::kFailed);
    CHECK(contains(r.message, "entry 'www/zeros'"));
    CHECK(contains(r.message, "No space left on device"));
  }
  // Nothing half-installed: the tree is as before (current on 1.0, no temp dirs, no staging).
  CHECK(listTree(config.installRoot) == before);
  CHECK(installer.store().activeRelease() == "1.0");
  CHECK(readText(config.installRoot + "/current/www/index.html") == "release 1.0\n");
}

TEST_CASE("http source: full download, resume with a Range request, errors name the URL") {
  if (skipWithoutSystemd()) return;
  auto m = UserManager::start();
  REQUIRE_MESSAGE(m.ok(), m.error().message);
  TempDir tmp;
  std::filesystem::create_directories(tmp / "served");
  Artifact a = makeRelease(tmp / "served", "5.0", true, "", 3 << 20);
  auto n = NginxUnit::start(**m, tmp / "served");
  REQUIRE_MESSAGE(n.ok(), n.error().message);
  auto& nginx = **n;
  std::string url = nginx.url("/" + std::filesystem::path(a.path).filename().string());
  HttpSource http;
  CHECK(http.handles(url));
  CHECK_FALSE(http.handles("file:///x"));
  std::atomic<bool> cancel{false};

  std::string staging = tmp / "full.part";
  uint64_t lastDone = 0, lastTotal = 0;
  auto full = http.fetch({url, a.sha256, a.sizeBytes, staging},
                         [&](uint64_t done, uint64_t total) {
                           lastDone = done;
                           lastTotal = total;
                         },
                         cancel);
  REQUIRE_MESSAGE(full.ok(), full.error().message);
  CHECK(toHex(*sha256File(staging)) == a.sha256);
  CHECK(lastDone == a.sizeBytes);
  CHECK(lastTotal == a.sizeBytes);

  // Resume: the staging file already holds the first MiB.
  std::string partial = tmp / "partial.part";
  std::filesystem::copy_file(a.path, partial);
  std::filesystem::resize_file(partial, 1 << 20);
  uint64_t firstDone = 0;
  auto resumed = http.fetch({url, a.sha256, a.sizeBytes, partial},
                            [&](uint64_t done, uint64_t) {
                              if (firstDone == 0) firstDone = done;
                            },
                            cancel);
  REQUIRE_MESSAGE(resumed.ok(), resumed.error().message);
  CHECK(toHex(*sha256File(partial)) == a.sha256);
  CHECK(firstDone >= (1u << 20));
  // nginx logs a request once its response is sent: the line can come after the client is done.
  bool partialServed = false;
  for (int i = 0; i < 250 && !partialServed; ++i) {
    partialServed = contains(readText(nginx.prefix() + "/access.log"), "\" 206 ");
    if (!partialServed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_MESSAGE(partialServed, readText(nginx.prefix() + "/access.log"));

  auto missing = http.fetch({nginx.url("/nope.tar.gz"), a.sha256, 0, tmp / "nope.part"}, {},
                            cancel);
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().message, nginx.url("/nope.tar.gz")));
  CHECK(contains(missing.error().message, "404"));

  auto tooMuch = http.fetch({url, a.sha256, 1000, tmp / "small.part"}, {}, cancel);
  REQUIRE_FALSE(tooMuch.ok());
  CHECK(contains(tooMuch.error().message, "more data than the announced 1000 bytes"));
  CHECK(std::filesystem::file_size(tmp / "small.part") <= 1000);

  auto refused = http.fetch({"http://127.0.0.1:1/x", a.sha256, 0, tmp / "refused.part"}, {},
                            cancel);
  REQUIRE_FALSE(refused.ok());
  CHECK(contains(refused.error().message, "http://127.0.0.1:1/x"));
}

TEST_CASE("health requests over a plain socket: status of a real nginx, errors name the URL") {
  if (skipWithoutSystemd()) return;
  auto m = UserManager::start();
  REQUIRE_MESSAGE(m.ok(), m.error().message);
  TempDir tmp;
  std::filesystem::create_directories(tmp / "served");
  writeText(tmp / "served/health.txt", "ok\n");
  auto n = NginxUnit::start(**m, tmp / "served");
  REQUIRE_MESSAGE(n.ok(), n.error().message);
  auto& nginx = **n;
  auto ok = httpGetStatus(nginx.url("/health.txt"), 5000);
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);
  CHECK(*ok == 200);
  CHECK(*httpGetStatus(nginx.url("/missing"), 5000) == 404);
  CHECK(contains(readText(nginx.prefix() + "/access.log"), "GET /health.txt HTTP/1.1\" 200"));

  auto refused = httpGetStatus("http://127.0.0.1:1/health", 5000);
  REQUIRE_FALSE(refused.ok());
  CHECK(contains(refused.error().message, "http://127.0.0.1:1/health: connect: Connection refused"));

  // A loopback listener that never accepts (the kernel completes the connection): its URL.
  auto listenLoopback = [](int& fd) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/health";
  };
  int silentFd = -1;
  std::string silent = listenLoopback(silentFd);
  auto timedOut = httpGetStatus(silent, 300);
  ::close(silentFd);
  REQUIRE_FALSE(timedOut.ok());
  CHECK(timedOut.error().message == silent + ": no answer: timed out");

  // Something that is not HTTP on the port: the answer is quoted.
  int sshFd = -1;
  std::string ssh = listenLoopback(sshFd);
  std::thread speaker([&] {
    int peer = ::accept(sshFd, nullptr, nullptr);
    const char banner[] = "SSH-2.0-OpenSSH_9.2\r\n";
    (void)!::write(peer, banner, sizeof banner - 1);
    ::close(peer);
  });
  auto notHttp = httpGetStatus(ssh, 5000);
  speaker.join();
  ::close(sshFd);
  REQUIRE_FALSE(notHttp.ok());
  CHECK(notHttp.error().message == ssh + ": not an HTTP status line: 'SSH-2.0-OpenSSH_9.2'");

  // https:// goes through libcurl, loaded for the request.
  auto tls = httpGetStatus("https://127.0.0.1:1/health", 5000);
  REQUIRE_FALSE(tls.ok());
  CHECK(contains(tls.error().message, "https://127.0.0.1:1/health: "));
}

TEST_CASE("cancellation during the download stops the install; nothing is installed") {
  sys::PosixEnv env;
  TempDir tmp;
  FileSource source;
  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  systemd::CommandServiceManager restart({"/bin/true"}, env);
  InstallerConfig config;
  config.service = "web";
  config.installRoot = tmp / "root";
  Installer installer(config, restart, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  std::atomic<bool> cancel{false};
  Artifact big = makeRelease(tmp.path(), "1.0", true, "", 4 << 20);
  auto r = installer.execute(installCommand(1, "web", "1.0", big),
                             [&](const CommandResult& p) {
                               if (p.bytesDone > 0) cancel = true;
                             },
                             cancel);
  CAPTURE(eventsText(r));
  CHECK(r.outcome == Outcome::kCancelled);
  CHECK(installer.describe().releases.empty());
  CHECK_FALSE(installer.store().activeRelease().has_value());
  // The partial download is kept so the next attempt resumes.
  CHECK(std::filesystem::exists(config.installRoot + "/.rollgate/staging/" + big.sha256 + ".part"));
  cancel = false;
  auto retry = installer.execute(installCommand(2, "web", "1.0", big), {}, cancel);
  REQUIRE_MESSAGE(retry.outcome == Outcome::kSucceeded, eventsText(retry));
  CHECK(installer.store().activeRelease() == "1.0");
}

TEST_CASE("a corrupt journal is reported once, moved aside, and current is left alone") {
  sys::PosixEnv env;
  TempDir tmp;
  FileSource source;
  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  systemd::CommandServiceManager restart({"/bin/true"}, env);
  InstallerConfig config;
  config.service = "web";
  config.installRoot = tmp / "root";
  Installer installer(config, restart, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  std::atomic<bool> cancel{false};
  auto r = installer.execute(installCommand(1, "web", "1.0", makeRelease(tmp.path(), "1.0")), {},
                             cancel);
  REQUIRE(r.outcome == Outcome::kSucceeded);
  writeText(config.installRoot + "/.rollgate/journal.json", "{\"command\": tru");
  auto first = installer.recover();
  REQUIRE_FALSE(first.ok());
  CHECK(contains(first.error().message, "corrupt journal"));
  CHECK(contains(first.error().message, "current on 1.0"));
  CHECK(std::filesystem::exists(config.installRoot + "/.rollgate/journal.json.corrupt"));
  auto second = installer.recover();
  REQUIRE(second.ok());
  CHECK_FALSE(second->has_value());
  CHECK(installer.store().activeRelease() == "1.0");
}

TEST_CASE("install without activation, activate later, retention keeps the last N") {
  sys::PosixEnv env;
  TempDir tmp;
  FileSource source;
  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  std::string marker = tmp / "restarts";
  systemd::CommandServiceManager restart({"/bin/sh", "-c", "echo x >> " + marker}, env);
  InstallerConfig config;
  config.service = "web";
  config.installRoot = tmp / "root";
  config.unit = "web.service";
  config.keepReleases = 2;
  Installer installer(config, restart, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  std::atomic<bool> cancel{false};
  uint64_t seq = 0;
  for (const char* v : {"1.0", "1.1", "1.2"}) {
    auto r = installer.execute(installCommand(++seq, "web", v, makeRelease(tmp.path(), v)), {},
                               cancel);
    REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  }
  CHECK(installer.describe().releases == std::vector<std::string>{"1.2", "1.1"});

  // Pre-stage 1.3 without switching or restarting.
  Command staged = installCommand(++seq, "web", "1.3", makeRelease(tmp.path(), "1.3"));
  std::get<InstallRelease>(staged.body).activate = false;
  auto r = installer.execute(staged, {}, cancel);
  REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  CHECK(r.activeRelease == "1.2");
  CHECK(readText(marker) == "x\nx\nx\n");
  // Retention never prunes the active release even though two newer ones exist.
  CHECK(installer.describe().releases == std::vector<std::string>{"1.3", "1.2"});

  Command activate;
  activate.ref = {"rollout-test", ++seq, 1};
  activate.service = "web";
  activate.body = ActivateRelease{"1.3"};
  r = installer.execute(activate, {}, cancel);
  REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  CHECK(r.activeRelease == "1.3");
  CHECK(readText(marker) == "x\nx\nx\nx\n");
  // Activating an older release is not a rollback: refused.
  activate.ref.sequence = ++seq;
  activate.body = ActivateRelease{"1.2"};
  r = installer.execute(activate, {}, cancel);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(contains(r.message, "older than the active release 1.3"));
  // A rollback to a release that is gone fails and changes nothing.
  r = installer.execute(rollbackCommand(++seq, "web", "1.0"), {}, cancel);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(contains(r.message, "release 1.0 is not installed"));
  CHECK(installer.store().activeRelease() == "1.3");

  Command restartOnly;
  restartOnly.ref = {"rollout-test", ++seq, 1};
  restartOnly.service = "web";
  restartOnly.body = RestartBaseline{};
  r = installer.execute(restartOnly, {}, cancel);
  CHECK(r.outcome == Outcome::kSucceeded);
  CHECK(readText(marker) == "x\nx\nx\nx\nx\n");

  Command otherService = rollbackCommand(++seq, "api");
  r = installer.execute(otherService, {}, cancel);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(contains(r.message, "service 'api'"));
}

TEST_CASE("http source: a server that ignores Range gets the whole file again, not a corrupt one") {
  // python3's http.server is the server that ignores Range.
  if (!requireOrSkip(::access("/usr/bin/python3", X_OK) == 0 ? "" : "/usr/bin/python3")) return;
  TempDir tmp;
  std::filesystem::create_directories(tmp / "served");
  Artifact a = makeRelease(tmp / "served", "6.0", true, "", 1 << 20);
  auto port = freeLoopbackPort();
  REQUIRE(port.ok());
  pid_t server = ::fork();
  REQUIRE(server >= 0);
  if (server == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    std::string p = std::to_string(*port), dir = tmp / "served";
    ::execl("/usr/bin/python3", "python3", "-m", "http.server", "--bind", "127.0.0.1",
            "--directory", dir.c_str(), p.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{server};
  std::string base = "http://127.0.0.1:" + std::to_string(*port) + "/";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!httpGet(base, 500)) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "python3 http.server did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string partial = tmp / "partial.part";
  std::filesystem::copy_file(a.path, partial);
  std::filesystem::resize_file(partial, 4096);
  HttpSource http;
  std::atomic<bool> cancel{false};
  auto r = http.fetch({base + std::filesystem::path(a.path).filename().string(), a.sha256,
                       a.sizeBytes, partial},
                      {}, cancel);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(std::filesystem::file_size(partial) == a.sizeBytes);
  CHECK(toHex(*sha256File(partial)) == a.sha256);
}

TEST_CASE("only a revert or an explicit rollback takes a host to an older release") {
  sys::PosixEnv env;
  TempDir tmp;
  FileSource source;
  CommandLedger ledger(tmp / "ledger.json", env);
  REQUIRE(ledger.load().ok());
  systemd::CommandServiceManager restart({"/bin/true"}, env);
  InstallerConfig config;
  config.service = "web";
  config.installRoot = tmp / "root";
  config.unit = "web.service";
  Installer installer(config, restart, ledger, {&source}, env, testLogger());
  REQUIRE(installer.open().ok());
  std::atomic<bool> cancel{false};
  uint64_t seq = 0;
  Artifact v1 = makeRelease(tmp.path(), "1.0");
  for (const char* v : {"1.0", "1.1", "2.0"}) {
    auto r = installer.execute(installCommand(++seq, "web", v, makeRelease(tmp.path(), v)), {},
                               cancel);
    REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  }
  // A rollback that is not explicit may not go back.
  Command quiet = rollbackCommand(++seq, "web", "1.1");
  std::get<RollBackRelease>(quiet.body).isExplicit = false;
  auto r = installer.execute(quiet, {}, cancel);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(contains(r.message, "older than the active release 2.0"));
  CHECK(installer.store().activeRelease() == "2.0");
  // An install of an older release is refused unless it is a revert.
  Command plain = installCommand(++seq, "web", "1.0", v1);
  r = installer.execute(plain, {}, cancel);
  CHECK(r.outcome == Outcome::kFailed);
  CHECK(contains(r.message, "rollgate revert"));
  Command revert = installCommand(++seq, "web", "1.0", v1);
  std::get<InstallRelease>(revert.body).revert = true;
  r = installer.execute(revert, {}, cancel);
  REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  CHECK(r.activeRelease == "1.0");
  CHECK(contains(r.message, "rolled back to 1.0"));
  // The explicit rollback goes back too.
  r = installer.execute(rollbackCommand(++seq, "web", "2.0"), {}, cancel);
  REQUIRE(r.outcome == Outcome::kSucceeded);
  r = installer.execute(rollbackCommand(++seq, "web", "1.1"), {}, cancel);
  REQUIRE_MESSAGE(r.outcome == Outcome::kSucceeded, eventsText(r));
  CHECK(installer.store().activeRelease() == "1.1");
}
