// The CLI's `artifact push`, `install`, `rollback` and `releases` against a stand-in coordinator:
// a real CURVE ROUTER behind a real ZAP allowlist, answering uploads with the real ArtifactStore
// and manual commands with scripted agent results (progress, then the outcome), exactly as the
// protocol in cli/install_commands.h says. The commands run in-process with stdout and
// stderr captured; the tests assert what an operator sees and the exit code.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "common/build_signature.h"
#include "common/codec.h"
#include "common/keys.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "common/transport.h"
#include "coordinator/artifact_store.h"
#include "coordinator/store/sqlite_store.h"
#include "cli/install_commands.h"

namespace fs = std::filesystem;
using namespace rollgate;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rollgate-artifact-cli-XXXXXX").string();
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

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  REQUIRE(out.good());
}

CommandResult result(Outcome outcome, std::string active, std::string message,
                     std::vector<std::string> events) {
  CommandResult r;
  r.command = CommandRef{"manual-1-1", 1, 1};
  r.service = "web";
  r.outcome = outcome;
  r.activeRelease = std::move(active);
  r.message = std::move(message);
  r.events = std::move(events);
  r.durationMillis = 2345;
  return r;
}

// A stand-in for the coordinator's admin endpoint.
class FakeCoordinator {
 public:
  explicit FakeCoordinator(const fs::path& dir) : dir_(dir) {
    CurveKeyPair server = generateCurveKeyPair();
    CurveKeyPair operatorKeys = generateCurveKeyPair();
    REQUIRE(writeKeyPair((dir / "coordinator").string(), server, true).ok());
    REQUIRE(writeKeyPair((dir / "admin").string(), operatorKeys, true).ok());
    auto db = coordinator::SqliteStore::open(dir.string());
    REQUIRE(db.ok());
    db_ = std::move(*db);
    auto store = coordinator::ArtifactStore::open(*db_, dir.string());
    REQUIRE(store.ok());
    store_ = std::move(*store);

    auto admins = std::make_shared<Allowlist>();
    admins->set("alice", operatorKeys.publicKey);
    zap_ = std::make_unique<ZapHandler>(context_, makeLogger("fake-coordinator", "warn"));
    zap_->addDomain(kAdminsDomain, admins);
    REQUIRE(zap_->start().ok());
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
    configureCurveServer(*socket_, server.secretKey, kAdminsDomain, kMaxAdminRequestBytes);
    socket_->bind("tcp://127.0.0.1:*");
    endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { run(); });
  }

  ~FakeCoordinator() {
    stop_ = true;
    thread_.join();
    socket_.reset();
    zap_.reset();
    context_.shutdown();
  }

  std::vector<std::string> adminFlags() const {
    return {"--admin", endpoint_, "--key", (dir_ / "admin.key").string(), "--coordinator-key",
            (dir_ / "coordinator.pub").string()};
  }

  // Requests seen so far (upload pieces without their data, to keep this small).
  std::vector<AdminRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Only while no command runs (the server thread touches the store only to answer a request).
  coordinator::ArtifactStore& store() { return *store_; }

 private:
  void run() {
    while (!stop_) {
      zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t routing, payload;
      if (!socket_->recv(routing, zmq::recv_flags::dontwait)) continue;
      if (!socket_->recv(payload, zmq::recv_flags::dontwait)) continue;
      PeerIdentity peer = peerIdentity(payload);
      auto request = decodeAdminRequest(
          Bytes(static_cast<const std::uint8_t*>(payload.data()), payload.size()));
      if (!request) {
        AdminReply reply;
        reply.body = AdminError{"malformed request: " + request.error().message};
        send(routing, 0, reply);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(*request);
        if (auto* piece = std::get_if<PushArtifact>(&requests_.back().body)) {
          pieceSizes_.push_back(piece->data.size());
          piece->data = std::to_string(piece->data.size());
        }
      }
      handle(routing, peer.name, *request);
    }
  }

  void send(const zmq::message_t& routing, std::uint64_t requestId, AdminReply reply) {
    reply.requestId = requestId;
    std::string bytes = encode(reply);
    socket_->send(zmq::buffer(routing.data(), routing.size()), zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(bytes), zmq::send_flags::none);
  }

  void handle(const zmq::message_t& routing, const std::string& operatorName,
              const AdminRequest& request) {
    AdminReply reply;
    if (const auto* piece = std::get_if<PushArtifact>(&request.body)) {
      auto stored = store_->receive(*piece, operatorName, 1000);
      if (stored) {
        reply.body = AdminOk{*stored};
      } else {
        reply.body = AdminError{stored.error().message};
      }
    } else if (const auto* manual = std::get_if<ManualCommand>(&request.body)) {
      if (manual->host != "h1") {
        reply.body = AdminError{"no host named " + manual->host};
      } else if (manual->kind == ManualCommand::Kind::kInstall && manual->version == "2.0") {
        std::uint64_t total = 3'000'000;
        for (std::uint64_t done = 0; done <= total; done += total / 4) {
          CommandResult progress = result(Outcome::kInProgress, "1.0", "download", {});
          progress.progress = true;
          progress.bytesDone = done;
          progress.bytesTotal = total;
          AdminReply interim;
          interim.final = false;
          interim.body = progress;
          send(routing, request.requestId, interim);
        }
        for (const char* step : {"verify", "unpack", "restart", "health check"}) {
          CommandResult progress = result(Outcome::kInProgress, "1.0", step, {});
          progress.progress = true;
          AdminReply interim;
          interim.final = false;
          interim.body = progress;
          send(routing, request.requestId, interim);
        }
        reply.body = result(Outcome::kSucceeded, "2.0", "installed web 2.0",
                            {"downloaded 3000000 bytes", "verified sha256", "unpacked",
                             "switched current to 2.0", "restarted web.service", "healthy"});
      } else if (manual->kind == ManualCommand::Kind::kInstall && manual->version == "3.0") {
        reply.body = result(Outcome::kRolledBack, "2.0",
                            "health check http://127.0.0.1:8080/health failed: HTTP 500",
                            {"switched current to 3.0", "restarted web.service",
                             "health check failed", "switched back to 2.0"});
      } else if (manual->kind == ManualCommand::Kind::kInstall) {
        reply.body = AdminError{"no artifact for web " + manual->version};
      } else if (manual->version.empty()) {
        reply.body = result(Outcome::kSucceeded, "1.0", "rolled back web to 1.0",
                            {"switched current to 1.0", "restarted web.service", "healthy"});
      } else {
        reply.body = result(Outcome::kFailed, "2.0",
                            "release " + manual->version + " is not on the host", {});
      }
    } else if (const auto* list = std::get_if<ListReleases>(&request.body)) {
      if (list->host != "h1") {
        reply.body = AdminError{"no host named " + list->host};
      } else {
        HostInfo host;
        host.name = "h1";
        host.connected = true;
        host.healthy = true;
        host.services = {ServiceRelease{"web", "2.0", {"3.0", "2.0", "1.0"}},
                         ServiceRelease{"api", "", {}}};
        reply.body = HostList{{host}, std::nullopt};
      }
    } else {
      reply.body = AdminError{"not in this test"};
    }
    send(routing, request.requestId, reply);
  }

  fs::path dir_;
  zmq::context_t context_{1};
  std::unique_ptr<coordinator::SqliteStore> db_;
  std::unique_ptr<coordinator::ArtifactStore> store_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<AdminRequest> requests_;

 public:
  std::vector<std::size_t> pieceSizes_;  // guarded by mutex_; read after a command finished
};

struct CliRun {
  int code = 0;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `rollgate <args>` in-process the way main.cpp wires it, capturing stdout and stderr.
CliRun runCli(const fs::path& scratch, std::vector<std::string> args) {
  CLI::App app{"rollgate"};
  app.require_subcommand(1);
  app.fallthrough();
  cli::AdminOptions admin;
  cli::addAdminOptions(app, admin);
  cli::addArtifactCommands(app, admin);
  cli::addInstallCommands(app, admin);

  args.insert(args.begin(), "rollgate");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());

  fs::path outPath = scratch / "stdout", errPath = scratch / "stderr";
  std::fflush(stdout);
  std::fflush(stderr);
  int savedOut = ::dup(STDOUT_FILENO), savedErr = ::dup(STDERR_FILENO);
  int outFd = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int errFd = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(outFd, STDOUT_FILENO);
  ::dup2(errFd, STDERR_FILENO);
  CliRun run;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Error& e) {
    run.code = e.get_exit_code();
    if (run.code != 0 && std::string(e.what()) != "Runtime error") {
      std::fprintf(stderr, "%s\n", e.what());
    }
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(savedOut, STDOUT_FILENO);
  ::dup2(savedErr, STDERR_FILENO);
  ::close(savedOut);
  ::close(savedErr);
  ::close(outFd);
  ::close(errFd);
  run.out = slurp(outPath);
  run.err = slurp(errPath);
  return run;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("artifact push: pieces in order, signature on each, stored by the real store") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path / ".");
  std::string content = randomBytes(2 * kArtifactChunkBytes + 4321, 1);
  fs::path file = dir.path / "web-2.0.tar.gz";
  writeFile(file, content);
  REQUIRE(install::generateKeyPair((dir.path / "build").string()).ok());
  auto key = install::readSecretKey((dir.path / "build.key").string());
  REQUIRE(key.ok());
  auto digest = sha256File(file.string());
  REQUIRE(digest.ok());
  auto sig = install::signDigest(*digest, *key);
  REQUIRE(sig.ok());
  std::string sigText = install::formatSignature(*sig);
  writeFile(dir.path / "web-2.0.tar.gz.sig", sigText);  // picked up without --signature

  auto run = runCli(dir.path, concat(coordinator.adminFlags(),
                                     {"artifact", "push", file.string(), "--service", "web",
                                      "--version", "2.0"}));
  INFO("stderr: " << run.err);
  REQUIRE(run.code == 0);
  CHECK(run.out == "stored web 2.0 (" + std::to_string(content.size()) + " bytes, sha256 " +
                       sha256Hex(content) + "), signed\n");

  auto requests = coordinator.requests();
  REQUIRE(requests.size() == 3);
  std::uint64_t expectedOffset = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& piece = std::get<PushArtifact>(requests[i].body);
    CHECK(piece.offset == expectedOffset);
    CHECK(piece.totalBytes == content.size());
    CHECK(piece.sha256 == sha256Hex(content));
    CHECK(piece.signature == sigText);
    CHECK(piece.final == (i + 1 == requests.size()));
    std::size_t size = coordinator.pieceSizes_[i];
    CHECK(size <= kArtifactChunkBytes);
    expectedOffset += size;
  }
  CHECK(expectedOffset == content.size());

  auto info = coordinator.store().find("web", "2.0");
  REQUIRE(info.has_value());
  CHECK(info->pushedBy == "alice");
  CHECK(info->signature == sigText);
  auto parsed = install::parseSignature(info->signature);
  REQUIRE(parsed.ok());
  auto pub = install::readPublicKey((dir.path / "build.pub").string());
  REQUIRE(pub.ok());
  CHECK(install::verifyDigest(*digest, *parsed, *pub));

  SUBCASE("pushing the same file again reports it as already stored, --json") {
    auto again = runCli(dir.path, concat(coordinator.adminFlags(),
                                         {"artifact", "push", file.string(), "--service", "web",
                                          "--version", "2.0", "--json"}));
    REQUIRE(again.code == 0);
    auto json = nlohmann::json::parse(again.out);
    CHECK(json["service"] == "web");
    CHECK(json["version"] == "2.0");
    CHECK(json["sha256"] == sha256Hex(content));
    CHECK(json["size_bytes"] == content.size());
    CHECK(json["signed"] == true);
    CHECK(contains(json["message"].get<std::string>(), "already stored web 2.0"));
  }
  SUBCASE("other content under the same version fails, naming both digests") {
    std::string other = randomBytes(1000, 2);
    fs::path otherFile = dir.path / "other.tar.gz";
    writeFile(otherFile, other);
    auto refused = runCli(dir.path, concat(coordinator.adminFlags(),
                                           {"artifact", "push", otherFile.string(), "--service",
                                            "web", "--version", "2.0"}));
    CHECK(refused.code == 1);
    CHECK(refused.out.empty());
    CHECK(contains(refused.err, "already stored with sha256 " + sha256Hex(content)));
    CHECK(contains(refused.err, sha256Hex(other)));
    CHECK(coordinator.store().find("web", "2.0")->sha256 == sha256Hex(content));
  }
}

TEST_CASE("artifact push: an empty file is one final piece; large files show progress") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path / ".");
  fs::path empty = dir.path / "empty.tar";
  writeFile(empty, "");
  auto run = runCli(dir.path, concat(coordinator.adminFlags(),
                                     {"artifact", "push", empty.string(), "--service", "web",
                                      "--version", "0.1", "--json"}));
  INFO("stderr: " << run.err);
  REQUIRE(run.code == 0);
  auto requests = coordinator.requests();
  REQUIRE(requests.size() == 1);
  CHECK(std::get<PushArtifact>(requests[0].body).final);
  CHECK(std::get<PushArtifact>(requests[0].body).totalBytes == 0);
  auto json = nlohmann::json::parse(run.out);
  CHECK(json["size_bytes"] == 0);
  CHECK(json["signed"] == false);
  CHECK(run.err.empty());  // no progress for small files

  std::string big = randomBytes(6 * kArtifactChunkBytes, 3);
  fs::path bigFile = dir.path / "big.tar";
  writeFile(bigFile, big);
  auto large = runCli(dir.path, concat(coordinator.adminFlags(),
                                       {"artifact", "push", bigFile.string(), "--service", "web",
                                        "--version", "0.2"}));
  REQUIRE(large.code == 0);
  CHECK(contains(large.err, "uploading: 100%"));
  CHECK(contains(large.err, "MB/s"));
  auto chunk = coordinator.store().readChunk(sha256Hex(big), 5 * kArtifactChunkBytes,
                                             kArtifactChunkBytes);
  REQUIRE(chunk.ok());
  CHECK(*chunk == big.substr(5 * kArtifactChunkBytes));
}

TEST_CASE("artifact push: bad input is a usage error; no coordinator is 'unavailable'") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path / ".");
  fs::path file = dir.path / "web.tar";
  writeFile(file, "content");
  auto flags = coordinator.adminFlags();

  auto missing = runCli(dir.path, concat(flags, {"artifact", "push", (dir.path / "nope").string(),
                                                 "--service", "web", "--version", "1"}));
  CHECK(missing.code == 2);
  CHECK(contains(missing.err, "nope: No such file or directory"));

  writeFile(dir.path / "bad.sig", "not a signature\n");
  auto badSig = runCli(dir.path, concat(flags, {"artifact", "push", file.string(), "--service",
                                                "web", "--version", "1", "--signature",
                                                (dir.path / "bad.sig").string()}));
  CHECK(badSig.code == 2);
  CHECK(contains(badSig.err, "bad.sig"));

  auto badVersion = runCli(dir.path, concat(flags, {"artifact", "push", file.string(), "--service",
                                                    "web", "--version", "../1"}));
  CHECK(badVersion.code == 2);
  CHECK(contains(badVersion.err, "--version: version '../1': must start with a letter or a digit"));
  CHECK(coordinator.requests().empty());

  // Nobody listening: the command gives up after --timeout and says where it looked.
  auto unreachable = runCli(dir.path, {"--admin", "tcp://127.0.0.1:9", "--key",
                                       (dir.path / "admin.key").string(), "--coordinator-key",
                                       (dir.path / "coordinator.pub").string(), "--timeout", "0.3",
                                       "artifact", "push", file.string(), "--service", "web",
                                       "--version", "1"});
  CHECK(unreachable.code == 3);
  CHECK(contains(unreachable.err, "tcp://127.0.0.1:9"));
}

TEST_CASE("install: progress on stderr, the outcome on stdout, exit 0 only on success") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path / ".");
  auto flags = coordinator.adminFlags();

  auto ok = runCli(dir.path, concat(flags, {"install", "--host", "h1", "--service", "web",
                                            "--version", "2.0"}));
  INFO("stderr: " << ok.err);
  CHECK(ok.code == 0);
  CHECK(contains(ok.out, "install web 2.0 on h1: succeeded; active release 2.0\n"));
  CHECK(contains(ok.out, "  - switched current to 2.0\n"));
  CHECK(contains(ok.out, "duration: 2.3 s\n"));
  CHECK(contains(ok.err, "download: 50% (1.5 of 3.0 MB)"));
  CHECK(contains(ok.err, "download: 100% (3.0 of 3.0 MB)"));
  CHECK(contains(ok.err, "health check"));
  const ManualCommand request = std::get<ManualCommand>(coordinator.requests().back().body);
  CHECK(request.kind == ManualCommand::Kind::kInstall);
  CHECK(request.host == "h1");
  CHECK(request.service == "web");
  CHECK(request.version == "2.0");

  auto rolledBack = runCli(dir.path, concat(flags, {"install", "--host", "h1", "--service", "web",
                                                    "--version", "3.0"}));
  CHECK(rolledBack.code == 1);
  CHECK(contains(rolledBack.out, "install web 3.0 on h1: ROLLED BACK: the new release failed and "
                                 "h1 is back on 2.0"));
  CHECK(contains(rolledBack.out, "health check http://127.0.0.1:8080/health failed: HTTP 500"));
  CHECK(contains(rolledBack.out, "  - switched back to 2.0\n"));

  auto json = runCli(dir.path, concat(flags, {"install", "--host", "h1", "--service", "web",
                                              "--version", "3.0", "--json"}));
  CHECK(json.code == 1);
  auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["outcome"] == "rolled_back");
  CHECK(doc["succeeded"] == false);
  CHECK(doc["active_release"] == "2.0");
  CHECK(doc["events"].size() == 4);
  CHECK(doc["duration_ms"] == 2345);
  CHECK(doc["host"] == "h1");

  auto refused = runCli(dir.path, concat(flags, {"install", "--host", "h1", "--service", "web",
                                                 "--version", "9.9"}));
  CHECK(refused.code == 1);
  CHECK(refused.out.empty());
  CHECK(contains(refused.err, "install web on h1: no artifact for web 9.9"));

  auto unknownHost = runCli(dir.path, concat(flags, {"install", "--host", "ghost", "--service",
                                                     "web", "--version", "2.0"}));
  CHECK(unknownHost.code == 1);
  CHECK(contains(unknownHost.err, "no host named ghost"));

  auto missingVersion = runCli(dir.path, concat(flags, {"install", "--host", "h1", "--service",
                                                        "web"}));
  CHECK(missingVersion.code != 0);
}

TEST_CASE("rollback: to the previous release, or a named one") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path / ".");
  auto flags = coordinator.adminFlags();

  auto previous = runCli(dir.path, concat(flags, {"rollback", "--host", "h1", "--service", "web"}));
  CHECK(previous.code == 0);
  CHECK(contains(previous.out, "rollback of web on h1: succeeded; active release 1.0"));
  const ManualCommand request = std::get<ManualCommand>(coordinator.requests().back().body);
  CHECK(request.kind == ManualCommand::Kind::kRollback);
  CHECK(request.version.empty());

  auto named = runCli(dir.path, concat(flags, {"rollback", "--host", "h1", "--service", "web",
                                               "--to", "0.5", "--json"}));
  CHECK(named.code == 1);
  auto doc = nlohmann::json::parse(named.out);
  CHECK(doc["outcome"] == "failed");
  CHECK(doc["command"] == "rollback");
  CHECK(doc["message"] == "release 0.5 is not on the host");
  CHECK(std::get<ManualCommand>(coordinator.requests().back().body).version == "0.5");
}

TEST_CASE("releases: the active release marked among the releases on disk") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path / ".");
  auto flags = coordinator.adminFlags();

  auto table = runCli(dir.path, concat(flags, {"releases", "--host", "h1"}));
  CHECK(table.code == 0);
  CHECK(table.out ==
        "host h1: connected, healthy\n"
        "SERVICE  RELEASE  ACTIVE\n"
        "web      3.0      \n"
        "web      2.0      *\n"
        "web      1.0      \n"
        "api      -        \n");

  auto json = runCli(dir.path, concat(flags, {"releases", "--host", "h1", "--json"}));
  CHECK(json.code == 0);
  auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["host"] == "h1");
  REQUIRE(doc["services"].size() == 2);
  CHECK(doc["services"][0]["active_release"] == "2.0");
  CHECK(doc["services"][0]["releases"] == nlohmann::json::array({"3.0", "2.0", "1.0"}));

  auto unknown = runCli(dir.path, concat(flags, {"releases", "--host", "ghost"}));
  CHECK(unknown.code == 1);
  CHECK(contains(unknown.err, "no host named ghost"));
}
