// The console over real HTTPS against a real coordinator (curl and openssl s_client as clients):
// 401 without a session, sign-in with tokens from `rollgate console token`, 403 for a viewer's
// action and for an action without its CSRF token, actions in the event log with the operator's
// name, cookie flags and security headers, TLS 1.2+ with modern ciphers only, a request-size
// limit, and slow clients that hold every connection without stalling the coordinator's loop.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "tests/integration/console/console_support.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

std::string missingTools() {
  for (const char* tool : {"curl", "openssl", "sqlite3"}) {
    if (runCommand({"sh", "-c", std::string("command -v ") + tool}).exitCode != 0) {
      return std::string(tool) + " is not installed";
    }
  }
  return "";
}

// Whether openssl s_client completes a handshake with the given options.
bool handshake(int port, std::vector<std::string> options) {
  std::vector<std::string> argv = {"openssl", "s_client", "-connect",
                                   "127.0.0.1:" + std::to_string(port), "-brief"};
  argv.insert(argv.end(), options.begin(), options.end());
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  auto out = runCommand({"sh", "-c", cmd + "</dev/null"});
  return out.exitCode == 0 && out.err.find("CONNECTION ESTABLISHED") != std::string::npos;
}

int connectRaw(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TEST_CASE("console over HTTPS: sign-in, roles, CSRF, event log, TLS and limits") {
  if (!requireOrSkip(missingTools())) return;
  const int port = freePort();
  LocalFleet fleet(consoleToml(port, "threads = 12\ntimeout_seconds = 2\nmax_request_bytes = 4096\n"));
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  REQUIRE(waitUntil([&] { return https(port, "/").status == 200; }));

  // The self-signed pair was generated in the state directory, readable by its owner only.
  for (const char* name : {"console-cert.pem", "console-key.pem"}) {
    struct stat st {};
    REQUIRE(::stat(fleet.dir().file(std::string("state/") + name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }

  // No session: 401 everywhere under /api/ but sign-in.
  for (const char* path : {"/api/rollouts", "/api/fleet", "/api/session", "/api/rollouts/r1",
                           "/api/stream?topic=rollouts", "/api/backtests", "/api/backtests/b1"}) {
    CHECK_MESSAGE(https(port, path).status == 401, path);
  }
  TempDir jars("rollgate-jars");
  const std::string none = jars.file("none");
  CHECK(postJson(port, "/api/action", none, R"({"action":"freeze"})").status == 401);

  // Tokens from the CLI; a wrong one is refused.
  const std::string viewerToken = issueToken(fleet, "vera", "viewer");
  const std::string operatorToken = issueToken(fleet, "olga", "operator");
  REQUIRE(!viewerToken.empty());
  REQUIRE(!operatorToken.empty());
  CHECK(postJson(port, "/api/login", none, R"({"token":"rgc_)" + std::string(64, '0') + R"("})")
            .status == 401);
  CHECK(postJson(port, "/api/login", none, R"({"token":"not a token"})").status == 401);
  // The token itself is not in the store: only its SHA-256.
  auto dump = runCommand({"sqlite3", fleet.dir().file("state/coordinator.db"),
                          "SELECT sha256, operator, role FROM console_tokens"});
  CHECK(dump.out.find(operatorToken.substr(4)) == std::string::npos);
  CHECK(dump.out.find("olga|operator") != std::string::npos);

  // A viewer reads, and is refused an action (403) even with its CSRF token.
  const std::string viewerJar = jars.file("viewer");
  auto viewer = postJson(port, "/api/login", viewerJar, R"({"token":")" + viewerToken + R"("})");
  REQUIRE(viewer.status == 200);
  CHECK(viewer.headers.find("HttpOnly") != std::string::npos);
  CHECK(viewer.headers.find("Secure") != std::string::npos);
  CHECK(viewer.headers.find("SameSite=Strict") != std::string::npos);
  CHECK(viewer.headers.find("Content-Security-Policy") != std::string::npos);
  CHECK(viewer.headers.find("X-Content-Type-Options: nosniff") != std::string::npos);
  const std::string viewerCsrf = viewer.json().value("csrf", std::string());
  CHECK(https(port, "/api/rollouts", viewerJar).status == 200);
  auto refused = postJson(port, "/api/action", viewerJar, R"({"action":"freeze","reason":"x"})",
                          viewerCsrf);
  CHECK(refused.status == 403);
  CHECK(refused.body.find("viewer") != std::string::npos);

  // An operator: refused without the CSRF token or with a wrong one; done with it.
  const std::string operatorJar = jars.file("operator");
  auto op = postJson(port, "/api/login", operatorJar, R"({"token":")" + operatorToken + R"("})");
  REQUIRE(op.status == 200);
  const std::string csrf = op.json().value("csrf", std::string());
  REQUIRE(csrf.size() == 64);
  const std::string freeze = R"({"action":"freeze","reason":"<script>window.x=1</script> change freeze"})";
  CHECK(postJson(port, "/api/action", operatorJar, freeze).status == 403);
  CHECK(postJson(port, "/api/action", operatorJar, freeze, viewerCsrf).status == 403);
  auto hosts = fleet.hosts();
  CHECK_FALSE(hosts.contains("freeze"));
  auto done = postJson(port, "/api/action", operatorJar, freeze, csrf);
  CHECK_MESSAGE(done.status == 200, done.body);
  hosts = fleet.hosts();
  REQUIRE(hosts.contains("freeze"));
  CHECK(hosts["freeze"].dump().find("olga") != std::string::npos);
  // The reason comes back as JSON text, as given; the page shows it as text (browser test).
  REQUIRE(waitUntil([&] {
    return https(port, "/api/rollouts", operatorJar).json()["freeze"].is_object();
  }));
  CHECK(https(port, "/api/rollouts", operatorJar).json()["freeze"]["reason"] ==
        "<script>window.x=1</script> change freeze");
  CHECK(postJson(port, "/api/action", operatorJar, R"({"action":"unfreeze"})", csrf).status == 200);
  CHECK(postJson(port, "/api/action", operatorJar, R"({"action":"explode"})", csrf).status == 400);
  CHECK(postJson(port, "/api/action", operatorJar, R"({"action":"pause","rollout":"r404"})", csrf)
            .status == 409);
  auto events = runCommand({"sqlite3", fleet.dir().file("state/coordinator.db"),
                            "SELECT kind || ': ' || message FROM events WHERE kind IN "
                            "('console_action', 'freeze', 'unfreeze', 'console_token')"});
  CHECK(events.out.find("console_action: freeze by olga (console)") != std::string::npos);
  CHECK(events.out.find("console_action: unfreeze by olga (console)") != std::string::npos);
  CHECK(events.out.find("console_action: pause r404 by olga (console)") != std::string::npos);
  CHECK(events.out.find("freeze: <script>window.x=1</script> change freeze (olga)") !=
        std::string::npos);
  CHECK(events.out.find("console token for vera (viewer) issued by admin") != std::string::npos);
  // Backtest runs: one from the CLI and one from the console are kept and listed with their
  // reports; a gates text that does not parse is refused, naming where it came from.
  auto fromCli = fleet.cli({"backtest", "--json"});
  REQUIRE_MESSAGE(fromCli.exitCode == 0, fromCli.err << fromCli.out);
  const std::string cliRun = nlohmann::json::parse(fromCli.out, nullptr, false).value("run", "");
  CHECK(cliRun == "b1");
  auto fromConsole = postJson(port, "/api/action", operatorJar,
                              R"({"action":"backtest","service":"web"})", csrf);
  CHECK_MESSAGE(fromConsole.status == 200, fromConsole.body);
  CHECK(fromConsole.json()["document"].value("run", "") == "b2");
  auto badGates = postJson(port, "/api/action", operatorJar,
                           R"({"action":"backtest","gates":"[[check]]\nname = 3\n"})", csrf);
  CHECK(badGates.status == 409);
  CHECK(badGates.body.find("gates from the console") != std::string::npos);
  nlohmann::json runs;
  REQUIRE(waitUntil([&] {
    runs = https(port, "/api/backtests", viewerJar).json();
    if (!runs.is_object() || runs["backtests"].size() != 3) return false;
    for (const auto& run : runs["backtests"]) {
      if (run.value("status", "") == "running") return false;  // the worker has not finished
    }
    return true;
  }));
  // Newest first: the refused one, the console's, the CLI's.
  CHECK(runs["backtests"][0]["status"] == "failed");
  CHECK(runs["backtests"][1]["id"] == "b2");
  CHECK(runs["backtests"][1]["requestedBy"] == "olga");
  CHECK(runs["backtests"][1]["request"].get<std::string>().find("service web") != std::string::npos);
  CHECK(runs["backtests"][2]["id"] == "b1");
  CHECK(runs["backtests"][2]["requestedBy"] == "admin");
  CHECK(runs["backtests"][2]["status"] == "done");
  auto one = https(port, "/api/backtests/b1", viewerJar);
  CHECK(one.status == 200);
  CHECK(one.json()["report"]["storage"]["source"] == "store");
  CHECK(one.json()["report"]["emptyRange"].get<std::string>().find("no rollouts") !=
        std::string::npos);
  CHECK(https(port, "/api/backtests/b404", viewerJar).status == 404);
  events = runCommand({"sqlite3", fleet.dir().file("state/coordinator.db"),
                       "SELECT kind || ': ' || message FROM events WHERE kind = 'console_action'"});
  CHECK(events.out.find("console_action: backtest of web by olga (console)") != std::string::npos);

  // Signing out ends the session.
  CHECK(postJson(port, "/api/logout", operatorJar, "{}").status == 200);
  CHECK(https(port, "/api/session", operatorJar).status == 401);

  // TLS: 1.2 and 1.3 with forward-secret AEAD ciphers only. The client offers what it is told to
  // (SECLEVEL=0), so a refusal is the server's.
  CHECK(handshake(port, {"-tls1_3"}));
  CHECK(handshake(port, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}));
  CHECK_FALSE(handshake(port, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}));
  CHECK_FALSE(handshake(port, {"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}));
  CHECK_FALSE(handshake(port, {"-tls1_2", "-cipher", "AES128-SHA@SECLEVEL=0"}));
  CHECK_FALSE(handshake(port, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA@SECLEVEL=0"}));
  // Plain HTTP to the HTTPS port gets no HTTP answer.
  CHECK(https(port, "/", "", {}, "http").status == 0);

  // A body over max_request_bytes: 413, and nothing happens.
  const std::string big = R"({"token":")" + std::string(8000, 'a') + R"("})";
  CHECK(postJson(port, "/api/login", none, big).status == 413);

  // Slow clients: more idle connections than the console has threads. The coordinator's loop
  // (the CLI) answers all along; each connection is closed after timeout_seconds, after which
  // the console answers again while the idle sockets are still open on this side.
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) {
    int fd = connectRaw(port);
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  auto cli = fleet.cli({"hosts", "--json"});
  CHECK(cli.exitCode == 0);
  CHECK(waitUntil([&] { return https(port, "/api/rollouts", viewerJar).status == 200; },
                  std::chrono::seconds(60), std::chrono::milliseconds(200)));
  for (int fd : idle) {
    char byte = 0;
    CHECK(::recv(fd, &byte, 1, 0) == 0);  // closed by the server (read timeout), not by us
    ::close(fd);
  }
  CHECK(fleet.coordinatorRunning());
}
