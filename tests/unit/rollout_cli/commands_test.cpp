// The `rollgate rollout` commands (and `rollgate abort` and `rollgate revert`) against a stand-in
// coordinator: a real CURVE ROUTER behind a real ZAP allowlist answering exactly the protocol in
// cli/rollout_commands.h (and cli/revert_command.cpp) with scripted documents. The commands run in-process with stdout and stderr captured; the tests
// assert the requests sent, what an operator sees and the exit code.
#include "cli/commands.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/keys.h"
#include "common/logging.h"
#include "common/transport.h"
#include "cli/rollout_commands.h"

namespace fs = std::filesystem;
using namespace rollgate;
using nlohmann::json;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rollgate-rollout-cli-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  REQUIRE(out.good());
}

json summary(const std::string& status, std::uint32_t look) {
  RolloutSummaryView s;
  s.id = "ro-7";
  s.service = "web";
  s.version = "1.2.0";
  s.status = status;
  s.step = 1;
  s.steps = 4;
  s.stage = "canary";
  s.region = "eu";
  s.phase = "analyzing";
  s.look = look;
  s.looks = 10;
  s.millisLeft = 5000;
  s.targets = {HostView{.host = "h1"}};
  s.comparison = {HostView{.host = "h2"}};
  s.endReason = status == "rolled_back" ? "critical check http_5xx failed" : "";
  return toJson(s);
}

// A stand-in for the coordinator's admin endpoint. DescribeRollout answers the scripted summaries
// in order (the last one repeats); an id other than ro-7 is an AdminError.
class FakeCoordinator {
 public:
  FakeCoordinator(const fs::path& dir, std::vector<json> describes)
      : dir_(dir), describes_(describes.begin(), describes.end()) {
    CurveKeyPair server = generateCurveKeyPair();
    CurveKeyPair operatorKeys = generateCurveKeyPair();
    REQUIRE(writeKeyPair((dir / "coordinator").string(), server, true).ok());
    REQUIRE(writeKeyPair((dir / "admin").string(), operatorKeys, true).ok());
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
    return {"--admin",
            endpoint_,
            "--key",
            (dir_ / "admin.key").string(),
            "--coordinator-key",
            (dir_ / "coordinator.pub").string()};
  }

  std::vector<AdminRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // DescribeRevert of v4 reports a failure on web-2 (else success on both hosts).
  std::atomic<bool> revertFails{false};

 private:
  void run() {
    while (!stop_) {
      zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t routing, payload;
      if (!socket_->recv(routing, zmq::recv_flags::dontwait)) continue;
      if (!socket_->recv(payload, zmq::recv_flags::dontwait)) continue;
      auto request = decodeAdminRequest(
          Bytes(static_cast<const std::uint8_t*>(payload.data()), payload.size()));
      AdminReply reply;
      if (!request) {
        reply.body = AdminError{"malformed request: " + request.error().message};
        send(routing, reply);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(*request);
      }
      reply.requestId = request->requestId;
      reply.body = answer(*request);
      send(routing, reply);
    }
  }

  decltype(AdminReply::body) answer(const AdminRequest& request) {
    if (const auto* piece = std::get_if<PushArtifact>(&request.body)) {
      return AdminOk{piece->final ? "stored web " + piece->version + " sha256 " + piece->sha256
                                  : "piece stored"};
    }
    if (const auto* start = std::get_if<StartRollout>(&request.body)) {
      if (start->canaryHost == "nowhere") return AdminError{"no host named nowhere"};
      if (start->dryRun) return AdminOk{"web " + start->version + " can start"};
      return JsonDocument{json{{"rollout", summary("installing", 0)}}.dump()};
    }
    if (std::holds_alternative<ListRollouts>(request.body)) {
      return JsonDocument{json{{"rollouts", {summary("analyzing", 2)}}}.dump()};
    }
    if (const auto* describe = std::get_if<DescribeRollout>(&request.body)) {
      if (describe->rolloutId != "ro-7") return AdminError{"no rollout " + describe->rolloutId};
      json current = describes_.front();
      if (describes_.size() > 1) describes_.pop_front();
      return JsonDocument{
          json{{"rollout", current},
               {"plan", json::array()},
               {"checks", json::array()},
               {"events", json::array({toJson(
                              EventView{.atMillis = 1000, .kind = "started", .text = "started"})})}}
              .dump()};
    }
    if (const auto* action = std::get_if<RolloutAction>(&request.body)) {
      if (action->rolloutId != "ro-7") return AdminError{"no rollout " + action->rolloutId};
      return AdminOk{"rollout ro-7: action " + std::to_string(static_cast<int>(action->action)) +
                     " accepted"};
    }
    if (std::holds_alternative<AbortRequest>(request.body)) {
      return JsonDocument{json{{"abort_id", 12},
                               {"reason", "bad"},
                               {"rollouts", json::array()},
                               {"stopped", {"ro-7", "ro-8"}},
                               {"already_aborting", {"ro-5"}},
                               {"targets", 3},
                               {"acknowledged", 3},
                               {"missing", json::array()},
                               {"elapsed_ms", 4},
                               {"ack_ms", {{"p50", 2}, {"p99", 3}, {"max", 3}}}}
                              .dump()};
    }
    if (const auto* revert = std::get_if<RevertRequest>(&request.body)) {
      if (revert->toVersion == "0.5") {
        return AdminError{"release 0.5 of service web: no host keeps it and the artifact store "
                          "has none"};
      }
      return JsonDocument{revertReport("running", revert->toVersion).dump()};
    }
    if (const auto* describe = std::get_if<DescribeRevert>(&request.body)) {
      if (describe->revertId != "v4") return AdminError{"no revert " + describe->revertId};
      return JsonDocument{revertReport(revertFails ? "failed" : "succeeded", "1.0").dump()};
    }
    return AdminError{"not in this test"};
  }

  // A revert report of v4 to `to`: web-1 and web-2, in flight, succeeded, or failed on web-2.
  static json revertReport(const std::string& status, const std::string& to) {
    bool done = status != "running";
    bool failed = status == "failed";
    json hosts = json::array();
    hosts.push_back({{"host", "web-1"}, {"from", "2.0"}, {"method", "install"},
                     {"status", done ? "succeeded" : "sent"}, {"message", "rolled back to " + to},
                     {"active_release", to}, {"elapsed_ms", 800}});
    hosts.push_back({{"host", "web-2"}, {"from", "2.0"}, {"method", "install"},
                     {"status", done ? (failed ? "failed" : "succeeded") : "pending"},
                     {"message", failed ? "rolled_back: health check failed" : ""},
                     {"active_release", failed ? "2.0" : to}, {"elapsed_ms", 0}});
    return {{"revert",
             {{"id", "v4"}, {"service", "web"}, {"to_version", to}, {"newest_active", "2.0"},
              {"status", status}, {"elapsed_ms", done ? 1500 : 10},
              {"aborted_rollouts", {"ro-7"}},
              {"counts", {{"pending", done ? 0 : 1}, {"sent", done ? 0 : 1},
                          {"succeeded", done ? (failed ? 1 : 2) : 0}, {"failed", failed ? 1 : 0}}},
              {"hosts", hosts}}}};
  }


  void send(const zmq::message_t& routing, const AdminReply& reply) {
    std::string bytes = encode(reply);
    socket_->send(zmq::buffer(routing.data(), routing.size()), zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(bytes), zmq::send_flags::none);
  }

  fs::path dir_;
  std::deque<json> describes_;  // only the server thread touches it
  zmq::context_t context_{1};
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<AdminRequest> requests_;
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
  cli::addRolloutCommands(app, admin);
  cli::addAbortCommands(app, admin);
  cli::addRevertCommand(app, admin);

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

TEST_CASE("rollout start: pushes the artifact, sends the plan and gates text, prints the id") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  writeFile(dir.path / "web.tar", "not really a tarball");
  writeFile(dir.path / "plan.toml", "[canary]\nwarmup_seconds = 2\n");
  writeFile(dir.path / "gates.toml", "# defaults\n");
  auto run = runCli(dir.path, concat(coordinator.adminFlags(),
                                     {"rollout", "start", "--service", "web", "--version", "1.2.0",
                                      "--artifact", (dir.path / "web.tar").string(), "--plan",
                                      (dir.path / "plan.toml").string(), "--gates",
                                      (dir.path / "gates.toml").string(), "--canary-host", "h1"}));
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(run.out ==
        "rollout ro-7 started: web 1.2.0, 4 steps\n"
        "first: step 1/4 canary in eu, targets h1, comparison h2\n");
  auto requests = coordinator.requests();
  REQUIRE(requests.size() == 3);
  const auto* check = std::get_if<StartRollout>(&requests[0].body);
  REQUIRE(check != nullptr);
  CHECK(*check ==
        StartRollout{"web", "1.2.0", "[canary]\nwarmup_seconds = 2\n", "# defaults\n", "h1", true});
  const auto* piece = std::get_if<PushArtifact>(&requests[1].body);
  REQUIRE(piece != nullptr);
  CHECK(piece->final);
  CHECK(piece->service == "web");
  CHECK(piece->version == "1.2.0");
  CHECK(contains(run.err, "artifact web 1.2.0 stored (sha256 " + piece->sha256 + ")"));
  const auto* start = std::get_if<StartRollout>(&requests[2].body);
  REQUIRE(start != nullptr);
  CHECK(*start == StartRollout{"web", "1.2.0", "[canary]\nwarmup_seconds = 2\n", "# defaults\n",
                               "h1", false});
}

TEST_CASE("rollout start: unreadable files are usage errors; a refusal is the coordinator's line") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  writeFile(dir.path / "web.tar", "x");
  auto missingPlan = runCli(
      dir.path,
      concat(coordinator.adminFlags(),
             {"rollout", "start", "--service", "web", "--version", "1.2.0", "--artifact",
              (dir.path / "web.tar").string(), "--plan", (dir.path / "nope.toml").string()}));
  CHECK(missingPlan.code == cli::kExitUsage);
  CHECK(missingPlan.err == "rollgate: plan file " + (dir.path / "nope.toml").string() +
                               ": cannot open: No such file or directory\n");
  auto missingArtifact = runCli(
      dir.path,
      concat(coordinator.adminFlags(), {"rollout", "start", "--service", "web", "--version",
                                        "1.2.0", "--artifact", (dir.path / "nope.tar").string()}));
  CHECK(missingArtifact.code == cli::kExitUsage);
  CHECK(contains(missingArtifact.err, "nope.tar"));
  CHECK(coordinator.requests().empty());

  auto refused = runCli(
      dir.path, concat(coordinator.adminFlags(),
                       {"rollout", "start", "--service", "web", "--version", "1.2.0", "--artifact",
                        (dir.path / "web.tar").string(), "--canary-host", "nowhere"}));
  CHECK(refused.code == cli::kExitFailure);
  CHECK(contains(refused.err, "rollgate: no host named nowhere\n"));
  CHECK(refused.out.empty());
  // Refused before the upload: the only request was the check.
  auto requests = coordinator.requests();
  REQUIRE(requests.size() == 1);
  const auto* check = std::get_if<StartRollout>(&requests[0].body);
  REQUIRE(check != nullptr);
  CHECK(check->dryRun);
}

TEST_CASE("rollout start --wait follows the rollout and exits 1 when it is rolled back") {
  TempDir dir;
  json rolledBack = summary("rolled_back", 3);
  rolledBack["phase"] = "failed";
  FakeCoordinator coordinator(dir.path,
                              {summary("analyzing", 2), summary("analyzing", 3), rolledBack});
  writeFile(dir.path / "web.tar", "x");
  auto run = runCli(dir.path, concat(coordinator.adminFlags(),
                                     {"rollout", "start", "--service", "web", "--version", "1.2.0",
                                      "--artifact", (dir.path / "web.tar").string(), "--wait",
                                      "--interval", "0.05"}));
  INFO(run.out);
  INFO(run.err);
  CHECK(run.code == cli::kExitFailure);
  CHECK(contains(run.out, "rollout ro-7 started: web 1.2.0, 4 steps\n"));
  CHECK(contains(run.out, "step 1/4 canary in eu: analyzing, look 2/10, 5s left [analyzing]\n"));
  CHECK(contains(run.out, "step 1/4 canary in eu: failed [rolled_back]\n"));
  CHECK(contains(run.out, "rollout ro-7 ended rolled_back: critical check http_5xx failed\n"));
}

TEST_CASE("watch (top level and under rollout) exits 0 once the rollout succeeded") {
  TempDir dir;
  json succeeded = summary("succeeded", 10);
  succeeded["phase"] = "passed";
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 9), succeeded});
  auto run =
      runCli(dir.path, concat(coordinator.adminFlags(), {"watch", "ro-7", "--interval", "0.05"}));
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(contains(run.out, "rollout ro-7 ended succeeded\n"));
  auto again = runCli(dir.path, concat(coordinator.adminFlags(),
                                       {"rollout", "watch", "ro-7", "--interval", "0.05"}));
  CHECK(again.code == 0);
  auto unknown = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "watch", "ro-9"}));
  CHECK(unknown.code == cli::kExitFailure);
  CHECK(unknown.err == "rollgate: no rollout ro-9\n");
}

TEST_CASE("watch and start --wait give up after an explicit --timeout, naming the rollout") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 2)});  // never ends
  auto watch = runCli(dir.path, concat(coordinator.adminFlags(), {"watch", "ro-7", "--interval",
                                                                  "0.05", "--timeout", "1"}));
  INFO(watch.err);
  CHECK(watch.code == cli::kExitFailure);
  CHECK(watch.err ==
        "rollgate: rollout ro-7 is still analyzing after --timeout 1 s; it goes on (rollgate "
        "rollout watch ro-7)\n");
  writeFile(dir.path / "web.tar", "x");
  auto start = runCli(dir.path, concat(coordinator.adminFlags(),
                                       {"rollout", "start", "--service", "web", "--version",
                                        "1.2.0", "--artifact", (dir.path / "web.tar").string(),
                                        "--wait", "--interval", "0.05", "--timeout", "1"}));
  CHECK(start.code == cli::kExitFailure);
  CHECK(contains(start.err, "rollout ro-7 is still analyzing after --timeout 1 s"));
}

TEST_CASE("pause, resume, promote, rollback send their action and print the reply") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  const std::pair<const char*, RolloutAction::Action> actions[] = {
      {"pause", RolloutAction::Action::kPause},
      {"resume", RolloutAction::Action::kResume},
      {"promote", RolloutAction::Action::kPromote},
      {"rollback", RolloutAction::Action::kRollback}};
  for (const auto& [name, action] : actions) {
    auto run = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", name, "ro-7"}));
    CHECK(run.code == 0);
    CHECK(run.out ==
          "rollout ro-7: action " + std::to_string(static_cast<int>(action)) + " accepted\n");
    auto requests = coordinator.requests();
    REQUIRE(!requests.empty());
    CHECK(requests.back().body == decltype(AdminRequest::body){RolloutAction{"ro-7", action}});
  }
  auto unknown = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "pause", "ro-9"}));
  CHECK(unknown.code == cli::kExitFailure);
  CHECK(unknown.err == "rollgate: no rollout ro-9\n");
}

TEST_CASE("list, status, explain and history print tables, or one JSON document with --json") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  auto list = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "list"}));
  CHECK(list.code == 0);
  CHECK(contains(list.out, "ro-7"));
  CHECK(list.out.rfind("ID  ", 0) == 0);
  auto listJson = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "list", "--json"}));
  CHECK(json::parse(listJson.out).at("rollouts").at(0).at("id") == "ro-7");

  auto status = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "status", "ro-7"}));
  CHECK(status.code == 0);
  CHECK(status.out.rfind("rollout ro-7: web 1.2.0, analyzing\n", 0) == 0);
  auto statusJson =
      runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "status", "ro-7", "--json"}));
  CHECK(json::parse(statusJson.out).at("rollout").at("status") == "analyzing");

  auto explain = runCli(dir.path, concat(coordinator.adminFlags(), {"explain", "ro-7"}));
  CHECK(explain.code == 0);
  CHECK(contains(explain.out, "before the first step:\n    00:00:01  started\n"));
  auto explainJson =
      runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "explain", "ro-7", "--json"}));
  CHECK(json::parse(explainJson.out).at("events").size() == 1);

  auto historyJson =
      runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "history", "ro-7", "--json"}));
  auto history = json::parse(historyJson.out);
  CHECK(history.at("id") == "ro-7");
  CHECK(history.at("events").at(0).at("text") == "started");
}

TEST_CASE("no coordinator: read commands are 'unavailable' (exit 3)") {
  TempDir dir;
  std::vector<std::string> flags;
  {
    FakeCoordinator gone(dir.path, {summary("analyzing", 1)});
    flags = gone.adminFlags();
  }
  auto run = runCli(dir.path, concat(concat(flags, {"--timeout", "0.5"}), {"rollout", "list"}));
  CHECK(run.code == cli::kExitUnavailable);
  CHECK(run.err.rfind("rollgate: ", 0) == 0);
}

TEST_CASE("abort --all names the rollouts it stopped and those already aborting") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  auto run = runCli(dir.path, concat(coordinator.adminFlags(), {"abort", "--all"}));
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(run.out ==
        "abort 12: 3 of 3 hosts acknowledged in 4 ms (p50 2 ms, p99 3 ms)\n"
        "stopped rollouts: ro-7, ro-8\n"
        "already aborting: ro-5\n");
  auto asJson = runCli(dir.path, concat(coordinator.adminFlags(), {"abort", "--all", "--json"}));
  CHECK(asJson.code == 0);
  auto parsed = json::parse(asJson.out);
  CHECK(parsed["stopped"] == json::array({"ro-7", "ro-8"}));
  CHECK(parsed["already_aborting"] == json::array({"ro-5"}));
}

TEST_CASE("revert: sends the request, prints the report; --wait polls until every host answered") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  auto started = runCli(dir.path, concat(coordinator.adminFlags(),
                                         {"revert", "--service", "web", "--to", "1.0", "--batch",
                                          "25%", "--reason", "bad", "--json"}));
  REQUIRE_MESSAGE(started.code == 0, started.err);
  CHECK(coordinator.requests().back().body ==
        decltype(AdminRequest::body){RevertRequest{"web", "1.0", 0, 25, false, "bad", "", ""}});
  auto report = json::parse(started.out);
  CHECK(report["revert"]["status"] == "running");

  auto waited = runCli(dir.path, concat(coordinator.adminFlags(),
                                        {"revert", "--service", "web", "--batch", "3", "--wait",
                                         "--interval", "0.05"}));
  REQUIRE_MESSAGE(waited.code == 0, waited.err);
  CHECK(std::get<RevertRequest>(coordinator.requests().front().body).batchPercent == 25);
  CHECK(std::holds_alternative<DescribeRevert>(coordinator.requests().back().body));
  CHECK(contains(waited.out, "revert v4 of web to 1.0 (newest active was 2.0): succeeded, 2 of 2 "
                             "hosts on 1.0 in 1.50 s"));
  CHECK(contains(waited.out, "stopped rollouts: ro-7"));
  CHECK(contains(waited.out, "web-2"));

  coordinator.revertFails = true;
  auto failed = runCli(dir.path, concat(coordinator.adminFlags(),
                                        {"revert", "--service", "web", "--wait", "--json",
                                         "--interval", "0.05"}));
  CHECK(failed.code == cli::kExitFailure);
  CHECK(json::parse(failed.out)["revert"]["status"] == "failed");
}

TEST_CASE("revert: bad input is a usage error; refusals and unknown ids are the coordinator's line") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  for (const char* batch : {"0", "0%", "101%", "five", "%"}) {
    auto bad = runCli(dir.path, concat(coordinator.adminFlags(),
                                       {"revert", "--service", "web", "--batch", batch}));
    CHECK(bad.code == cli::kExitUsage);
    CHECK(contains(bad.err, std::string("--batch '") + batch + "'"));
  }
  auto noService = runCli(dir.path, concat(coordinator.adminFlags(), {"revert"}));
  CHECK(noService.code == cli::kExitUsage);
  CHECK(contains(noService.err, "--service is required"));
  auto planWithoutStaged = runCli(
      dir.path, concat(coordinator.adminFlags(), {"revert", "--service", "web", "--plan", "p"}));
  CHECK(planWithoutStaged.code == cli::kExitUsage);
  CHECK(contains(planWithoutStaged.err, "--plan and --gates go with --staged"));
  auto unknown = runCli(dir.path, concat(coordinator.adminFlags(),
                                         {"revert", "--service", "web", "--to", "0.5", "--json"}));
  CHECK(unknown.code == cli::kExitFailure);
  CHECK(unknown.err ==
        "rollgate: release 0.5 of service web: no host keeps it and the artifact store has none\n");
  CHECK(unknown.out.empty());
  auto status = runCli(dir.path, concat(coordinator.adminFlags(), {"revert", "status", "v9"}));
  CHECK(status.code == cli::kExitFailure);
  CHECK(status.err == "rollgate: no revert v9\n");
  auto shown = runCli(dir.path, concat(coordinator.adminFlags(), {"revert", "status", "v4"}));
  CHECK(shown.code == 0);
  CHECK(contains(shown.out, "web-1"));
}

TEST_CASE("rollout actions print {ok, message} with --json") {
  TempDir dir;
  FakeCoordinator coordinator(dir.path, {summary("analyzing", 1)});
  auto run = runCli(dir.path, concat(coordinator.adminFlags(), {"rollout", "pause", "ro-7", "--json"}));
  REQUIRE(run.code == 0);
  auto doc = json::parse(run.out);
  CHECK(doc["ok"] == true);
  CHECK(doc["message"] == "rollout ro-7: action 0 accepted");
}
