// Fleet-wide reverts: the pure plan and state machine (revert_job.h: the target, who gets what,
// the batch window, what each answer means, the durable form), the driver over a store that
// fails on demand (reverts.h: recorded before anything is sent, refs saved before commands leave,
// a restarted coordinator re-sends in-flight commands under their refs, a running rollout of the
// service is stopped), and the SQLite backend's reverts table across a reopen.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coordinator/revert_job.h"
#include "coordinator/reverts.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace rollgate::coordinator {
namespace {

using testing::Parts;
using testing::TempDir;

constexpr std::uint64_t kNow = 1'763'700'000'000ull;

HostInfo host(const std::string& name, const std::string& active, std::vector<std::string> releases,
              const std::string& service = "web") {
  HostInfo info;
  info.name = name;
  info.services.push_back(ServiceRelease{service, active, std::move(releases)});
  return info;
}

ArtifactLookup storeWith(std::vector<std::string> versions) {
  return [versions](const std::string& service, const std::string& version) {
    std::optional<ArtifactInfo> out;
    for (const auto& v : versions) {
      if (v == version) out = ArtifactInfo{service, v, std::string(64, 'b'), 42, "", 0, "alice"};
    }
    return out;
  };
}

RevertRequest request(const std::string& to = "", std::uint32_t hosts = 0,
                      std::uint32_t percent = 0) {
  return RevertRequest{"web", to, hosts, percent, false, "bad build", "", ""};
}

const RevertHost& hostOf(const RevertState& state, const std::string& name) {
  for (const auto& h : state.hosts) {
    if (h.name == name) return h;
  }
  FAIL("no host " << name);
  return state.hosts.front();
}

CommandResult answer(const CommandRef& ref, Outcome outcome, const std::string& active) {
  CommandResult result;
  result.command = ref;
  result.service = "web";
  result.outcome = outcome;
  result.activeRelease = active;
  result.message = outcomeName(outcome);
  return result;
}

TEST_CASE("the default target is the newest release older than the newest active one") {
  std::vector<HostInfo> fleet = {host("a", "2.0", {"2.0", "1.10", "1.9"}),
                                 host("b", "1.10", {"1.10", "1.9"}), host("c", "2.0", {"2.0"}),
                                 host("other", "9.0", {"9.0", "8.0"}, "db")};
  auto state = planRevert(request(), fleet, storeWith({"1.10"}), kNow);
  REQUIRE_MESSAGE(state.ok(), (state.ok() ? "" : state.error().message));
  CHECK(state->toVersion == "1.10");  // 1.10 > 1.9 numerically
  CHECK(state->newestActive == "2.0");
  REQUIRE(state->hosts.size() == 3);  // only hosts that declare the service
  // With the artifact stored, every host installs it as a revert (fetched only where missing),
  // even b, which the registry shows on it already.
  for (const auto& h : state->hosts) {
    CHECK(h.method == RevertMethod::kInstall);
    CHECK(h.status == RevertHostStatus::kPending);
  }
  CHECK(hostOf(*state, "b").fromRelease == "1.10");
  CHECK(state->batchSize == 3);  // default: every host at once
  CHECK_FALSE(state->finished());
  // Without it, hosts that keep the release roll back to it; c cannot get it.
  auto noArtifact = planRevert(request(), fleet, storeWith({}), kNow);
  REQUIRE(noArtifact.ok());
  CHECK(hostOf(*noArtifact, "a").method == RevertMethod::kRollback);
  CHECK(hostOf(*noArtifact, "b").method == RevertMethod::kRollback);
  CHECK(hostOf(*noArtifact, "c").status == RevertHostStatus::kFailed);
}

TEST_CASE("planning refuses what cannot be reverted, naming the service and the release") {
  std::vector<HostInfo> fleet = {host("a", "2.0", {"2.0", "1.0"}), host("b", "2.0", {"2.0"})};
  struct Case {
    RevertRequest request;
    std::vector<HostInfo> fleet;
    std::string expected;
  } cases[] = {
      {request("0.9"), fleet,
       "release 0.9 of service web: no host keeps it and the artifact store has none"},
      {request("3.0"), fleet, "release 3.0 of service web is newer than 2.0"},
      {request(),
       {host("a", "2.0", {"2.0"})},
       "no host of service web keeps a release older than 2.0; name one with --to VERSION"},
      {request(), {host("a", "1.0", {"1.0"}, "db")}, "no host declares service web"},
      {request("", 0, 150), fleet, "--batch 150%"},
  };
  for (const auto& c : cases) {
    auto state = planRevert(c.request, c.fleet, storeWith({}), kNow);
    REQUIRE_FALSE(state.ok());
    CHECK_MESSAGE(state.error().message.find(c.expected) != std::string::npos,
                  state.error().message);
  }
}

TEST_CASE("a host that lacks the target while the store has none is failed, the others go") {
  auto state =
      planRevert(request("1.0"), {host("a", "2.0", {"2.0", "1.0"}), host("b", "2.0", {"2.0"})},
                 storeWith({}), kNow);
  REQUIRE(state.ok());
  CHECK(hostOf(*state, "a").method == RevertMethod::kRollback);
  CHECK(hostOf(*state, "b").status == RevertHostStatus::kFailed);
  CHECK(hostOf(*state, "b").message.find("does not keep release 1.0") != std::string::npos);
}

TEST_CASE("batch sizes: a number of hosts, a percentage rounded up, or every host") {
  CHECK(revertBatchSize(request("", 3), 20) == 3);
  CHECK(revertBatchSize(request("", 0, 25), 20) == 5);
  CHECK(revertBatchSize(request("", 0, 10), 3) == 1);
  CHECK(revertBatchSize(request("", 0, 100), 7) == 7);
  CHECK(revertBatchSize(request(), 20) == 20);
  CHECK(revertBatchSize(request("", 50), 4) == 50);
}

TEST_CASE("at most a batch is in flight; answers free room; the revert ends with the last") {
  std::vector<HostInfo> fleet;
  for (const char* name : {"a", "b", "c", "d", "e"})
    fleet.push_back(host(name, "2.0", {"2.0", "1.0"}));
  auto planned = planRevert(request("1.0", 2), fleet, storeWith({}), kNow);
  REQUIRE(planned.ok());
  RevertState state = *planned;
  state.id = "v1";
  auto send = [&] {
    std::vector<std::string> sent;
    for (std::size_t i : dueHosts(state)) {
      state.hosts[i].ref = CommandRef{"v1", i + 1, 7};
      state.hosts[i].status = RevertHostStatus::kSent;
      sent.push_back(state.hosts[i].name);
    }
    return sent;
  };
  CHECK(send() == std::vector<std::string>{"a", "b"});
  CHECK(send().empty());
  // Not this revert's command: ignored.
  CHECK_FALSE(applyRevertResult(state, "a",
                                answer(CommandRef{"r4", 1, 7}, Outcome::kSucceeded, "1.0"), kNow));
  CHECK_FALSE(applyRevertResult(state, "c",
                                answer(CommandRef{"v1", 3, 7}, Outcome::kSucceeded, "1.0"), kNow));
  CHECK(applyRevertResult(state, "a", answer(*hostOf(state, "a").ref, Outcome::kSucceeded, "1.0"),
                          kNow + 10));
  CHECK(send() == std::vector<std::string>{"c"});
  // A failure does not stop the others.
  CHECK(applyRevertResult(state, "b", answer(*hostOf(state, "b").ref, Outcome::kRolledBack, "2.0"),
                          kNow + 20));
  CHECK(hostOf(state, "b").status == RevertHostStatus::kFailed);
  CHECK(hostOf(state, "b").message.find("rolled_back") != std::string::npos);
  CHECK(send() == std::vector<std::string>{"d"});
  // A re-delivered command answered stale while the host is on the target counts as done.
  CHECK(applyRevertResult(state, "c", answer(*hostOf(state, "c").ref, Outcome::kStale, "1.0"),
                          kNow + 30));
  CHECK(hostOf(state, "c").status == RevertHostStatus::kSucceeded);
  CHECK(send() == std::vector<std::string>{"e"});
  CHECK(applyRevertResult(state, "d", answer(*hostOf(state, "d").ref, Outcome::kInterrupted, "2.0"),
                          kNow + 40));
  CHECK(hostOf(state, "d").status == RevertHostStatus::kFailed);
  CHECK(revertStatus(state) == "running");
  CHECK(applyRevertResult(state, "e", answer(*hostOf(state, "e").ref, Outcome::kSucceeded, "1.0"),
                          kNow + 50));
  CHECK(state.finished());
  CHECK(state.finishedMillis == kNow + 50);
  CHECK(revertStatus(state) == "failed");
  // Answered hosts do not take a second answer.
  CHECK_FALSE(applyRevertResult(
      state, "e", answer(*hostOf(state, "e").ref, Outcome::kFailed, "2.0"), kNow + 60));

  auto report = nlohmann::json::parse(revertReport(state, kNow + 100))["revert"];
  CHECK(report["status"] == "failed");
  CHECK(report["counts"]["succeeded"] == 3);
  CHECK(report["counts"]["failed"] == 2);
  CHECK(report["elapsed_ms"] == 50);
  CHECK(report["hosts"].size() == 5);
  CHECK_FALSE(report["hosts"][0].contains("ref"));
}

TEST_CASE("a host that does not answer in time is failed, so the revert can end") {
  auto planned = planRevert(request("1.0"),
                            {host("a", "2.0", {"2.0", "1.0"}), host("b", "2.0", {"2.0", "1.0"})},
                            storeWith({}), kNow);
  REQUIRE(planned.ok());
  RevertState state = *planned;
  for (std::size_t i : dueHosts(state)) {
    state.hosts[i].ref = CommandRef{"v1", i + 1, 7};
    state.hosts[i].status = RevertHostStatus::kSent;
    state.hosts[i].sentMillis = kNow;
  }
  REQUIRE(applyRevertResult(state, "a", answer(*hostOf(state, "a").ref, Outcome::kSucceeded, "1.0"),
                            kNow + 5));
  CHECK(expireSilentHosts(state, kNow + kRevertAnswerMillis - 1).empty());
  CHECK_FALSE(state.finished());
  CHECK(expireSilentHosts(state, kNow + kRevertAnswerMillis) == std::vector<std::string>{"b"});
  CHECK(hostOf(state, "b").status == RevertHostStatus::kFailed);
  CHECK(hostOf(state, "b").message.find("no answer within 600 s") != std::string::npos);
  CHECK(state.finished());
  CHECK(revertStatus(state) == "failed");
}

TEST_CASE("the commands: an explicit rollback, or an install flagged as a revert") {
  std::vector<HostInfo> fleet = {host("a", "2.0", {"2.0", "1.0"}), host("b", "2.0", {"2.0"})};
  auto kept = planRevert(request("1.0"), fleet, storeWith({}), kNow);
  REQUIRE(kept.ok());
  kept->id = "v3";
  Command rollback = revertCommand(*kept, hostOf(*kept, "a"));
  CHECK(rollback.ref.rolloutId == "v3");
  CHECK(std::get<RollBackRelease>(rollback.body) == RollBackRelease{"1.0", true});
  auto planned = planRevert(request("1.0"), fleet, storeWith({"1.0"}), kNow);
  REQUIRE(planned.ok());
  Command install = revertCommand(*planned, hostOf(*planned, "b"));
  const auto& body = std::get<InstallRelease>(install.body);
  CHECK(body.version == "1.0");
  CHECK(body.revert);
  CHECK(body.activate);
  CHECK(body.source == "coordinator");
}

TEST_CASE("the durable form round-trips, and a corrupt one names the key") {
  auto planned =
      planRevert(request("1.0", 1), {host("a", "2.0", {"2.0", "1.0"}), host("b", "2.0", {"2.0"})},
                 storeWith({"1.0"}), kNow);
  REQUIRE(planned.ok());
  planned->id = "v9";
  planned->seq = 9;
  planned->requestedBy = "alice";
  planned->abortedRollouts = {"r3"};
  planned->artifact->signature = std::string("\x01\xff", 2);
  // The durable form keeps what the install command needs, not who pushed the artifact when.
  planned->artifact->pushedBy.clear();
  planned->artifact->pushedMillis = 0;
  planned->hosts[0].ref = CommandRef{"v9", 4, 7};
  planned->hosts[0].status = RevertHostStatus::kSent;
  auto back = revertFromJson(revertToJson(*planned));
  REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
  CHECK(*back == *planned);
  auto corrupt = nlohmann::json::parse(revertToJson(*planned));
  corrupt["hosts"][0]["status"] = "sideways";
  auto bad = revertFromJson(corrupt.dump());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("hosts.status: unknown value 'sideways'") != std::string::npos);
}

// ---- the driver, over a store that fails on demand

void onTarget(Parts& parts, const std::string& host, const std::vector<std::string>& releases,
              const std::string& active) {
  Hello hello{host,
              "eu-west",
              "eu-west-a",
              "0.1.0",
              {ServiceRelease{"web", active, releases}},
              parts.clock.nowMillis(),
              CommandRef{}};
  parts.registry.onHello(host, hello, "conn-" + host, parts.clock.nowMillis());
}

TEST_CASE("a revert is recorded before anything is sent; a ref that cannot be saved waits") {
  Parts parts;
  for (const char* h : {"web-1", "web-2", "web-3", "web-4"})
    onTarget(parts, h, {"2.0", "1.0"}, "2.0");
  parts.store.failing = {"saveRevert"};
  auto refused = parts.reverts->start(request("1.0", 2), "alice");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("cannot record the revert") != std::string::npos);
  CHECK(parts.outbox.sent<Command>().empty());

  parts.store.failing.clear();
  auto started = parts.reverts->start(request("1.0", 2), "alice");
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  auto report = nlohmann::json::parse(*started)["revert"];
  std::string id = report["id"];
  CHECK(id == "v1");
  auto commands = parts.outbox.sent<Command>();
  REQUIRE(commands.size() == 2);  // the batch
  // Each command's ref was saved before it left.
  auto stored = revertFromJson(parts.store.reverts.at(id).stateJson);
  REQUIRE(stored.ok());
  for (const auto& command : commands) {
    bool saved = false;
    for (const auto& h : stored->hosts) saved |= h.ref && *h.ref == command.ref;
    CHECK(saved);
    CHECK(std::get<RollBackRelease>(command.body) == RollBackRelease{"1.0", true});
  }
  // A rollout of the service is refused while the revert runs, naming it.
  AdminRequest rollout;
  rollout.body = StartRollout{"web", "3.0", "", "", "", true};
  auto refusedRollout = parts.admin->handle("bob", "op", rollout);
  REQUIRE(refusedRollout.has_value());
  CHECK(std::get<AdminError>(refusedRollout->body).message ==
        "revert v1 of service web is still running; rollgate revert status v1");
  // A second revert of the same service is refused while this one runs.
  auto second = parts.reverts->start(request("1.0"), "bob");
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("revert v1 of service web") != std::string::npos);

  // web-1 answers; the store fails: the next host is NOT sent until its ref is saved.
  parts.store.failing = {"saveRevert"};
  parts.commands->onResult("web-1", answer(commands[0].ref, Outcome::kSucceeded, "1.0"));
  CHECK(parts.outbox.sent<Command>().size() == 2);
  parts.reverts->tick();
  CHECK(parts.outbox.sent<Command>().size() == 2);
  parts.store.failing.clear();
  parts.reverts->tick();
  REQUIRE(parts.outbox.sent<Command>().size() == 3);
  auto described = parts.reverts->describe(id);
  REQUIRE(described.ok());
  auto now = nlohmann::json::parse(*described)["revert"];
  CHECK(now["counts"]["succeeded"] == 1);
  CHECK(now["counts"]["sent"] == 2);
  CHECK(parts.reverts->describe("v77").error().message == "no revert v77");
}

TEST_CASE("a restarted coordinator re-sends in-flight commands under their refs and finishes") {
  Parts parts;
  for (const char* h : {"web-1", "web-2", "web-3"}) onTarget(parts, h, {"2.0", "1.0"}, "2.0");
  auto started = parts.reverts->start(request("1.0", 2), "alice");
  REQUIRE(started.ok());
  auto before = parts.outbox.sent<Command>();
  REQUIRE(before.size() == 2);

  // A new coordinator over the same store (new dispatcher and driver).
  parts.outbox.toAgents.clear();
  CommandDispatcher commands(parts.registry, parts.store, parts.outbox, parts.clock, parts.logger);
  Reverts restarted(parts.store, parts.registry, *parts.artifacts, *parts.rollouts, commands,
                    parts.clock, parts.logger);
  REQUIRE(restarted.open().ok());
  auto resent = parts.outbox.sent<Command>();
  REQUIRE(resent.size() == 2);
  CHECK(resent[0].ref == before[0].ref);
  CHECK(resent[1].ref == before[1].ref);
  CHECK(restarted.runningFor("web") == std::optional<std::string>("v1"));
  // Hosts answer on their connections ("conn-<host>"); each answer frees room for the next host
  // (web-3, then web-4, still on 1.0 as far as the registry knows).
  std::size_t answered = 0;
  while (answered < parts.outbox.toAgents.size()) {
    auto [routingId, message] = parts.outbox.toAgents[answered++];
    const auto* command = std::get_if<Command>(&message);
    if (command == nullptr) continue;
    commands.onResult(routingId.substr(5), answer(command->ref, Outcome::kSucceeded, "1.0"));
  }
  CHECK(parts.outbox.sent<Command>().size() == 4);
  auto report = nlohmann::json::parse(*restarted.describe("v1"))["revert"];
  CHECK(report["status"] == "succeeded");
  CHECK(report["counts"]["succeeded"] == 4);
  CHECK(parts.store.reverts.at("v1").finished);
  CHECK_FALSE(restarted.runningFor("web").has_value());
}

TEST_CASE("a revert stops a running rollout of the service; a staged one asks to abort it") {
  Parts parts;
  auto summary = parts.startRollout();
  std::string rollout = summary.value("id", "");
  REQUIRE(parts.rollouts->activeIds() == std::vector<std::string>{rollout});
  // The canary has 2.0 (as if installed); every host keeps 1.0.
  onTarget(parts, "web-1", {"2.0", "1.0"}, "2.0");
  parts.store.artifacts.push_back(
      ArtifactInfo{"web", "1.0", std::string(64, 'c'), 900, "", parts.clock.nowMillis(), "alice"});
  RevertRequest staged{"web", "1.0", 0, 0, true, "", "", ""};
  auto refused = parts.reverts->start(staged, "alice");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(
            "rollout " + rollout + " of the service is still running; rollgate abort " + rollout) !=
        std::string::npos);
  parts.store.artifacts.pop_back();
  auto started = parts.reverts->start(request("1.0"), "alice");
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  auto report = nlohmann::json::parse(*started)["revert"];
  CHECK(report["aborted_rollouts"] == nlohmann::json::array({rollout}));
  CHECK(parts.statusOf(rollout) == "rolling_back");  // aborted: undoing its canary
  CHECK(report["counts"]["sent"] == 4);  // web-2..4 too: the registry may be a heartbeat old
}

TEST_CASE("a staged revert is a rollout of the older release whose installs are flagged") {
  Parts parts;
  for (const char* h : {"web-1", "web-2", "web-3", "web-4"})
    onTarget(parts, h, {"3.0", "2.0"}, "3.0");
  // The artifact store has 2.0 (Parts pushed it); a staged revert without it is refused.
  auto missing = parts.reverts->start(RevertRequest{"web", "1.0", 0, 0, true, "", "", ""}, "al");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("release 1.0 of service web: no host keeps it") !=
        std::string::npos);
  auto started = parts.reverts->start(RevertRequest{"web", "2.0", 0, 0, true, "", "", ""}, "al");
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  auto reply = nlohmann::json::parse(*started);
  CHECK(reply["staged"] == true);
  CHECK(reply["rollout"]["version"] == "2.0");
  auto commands = parts.outbox.sent<Command>();
  REQUIRE(commands.size() == 1);  // the canary
  const auto& install = std::get<InstallRelease>(commands[0].body);
  CHECK(install.version == "2.0");
  CHECK(install.revert);
  // The same older version as a plain rollout is refused at once (dry run too), pointing to revert.
  Parts fresh;
  for (const char* h : {"web-1", "web-2"}) onTarget(fresh, h, {"3.0", "2.0"}, "3.0");
  auto older = fresh.start(StartRollout{"web", "2.0", "", "", "", true}, "al");
  REQUIRE_FALSE(older.ok());
  CHECK(older.error().message.find("version 2.0 of service web is older than 3.0, active on host "
                                   "web-1") != std::string::npos);
  CHECK(older.error().message.find("rollgate revert --service web --to 2.0") != std::string::npos);
}

TEST_CASE("the SQLite store keeps reverts across a reopen and lists the unfinished ones") {
  TempDir dir;
  {
    auto store = SqliteStore::open(dir.path.string());
    REQUIRE(store.ok());
    CHECK(*(*store)->nextRevertSeq() == 1);
    REQUIRE((*store)->saveRevert(RevertRecord{"v1", 1, "web", true, "{\"a\":1}"}).ok());
    REQUIRE((*store)->saveRevert(RevertRecord{"v2", 2, "db", false, "{\"b\":2}"}).ok());
    REQUIRE((*store)->saveRevert(RevertRecord{"v2", 2, "db", false, "{\"b\":3}"}).ok());
  }
  auto store = SqliteStore::open(dir.path.string());
  REQUIRE(store.ok());
  CHECK(*(*store)->nextRevertSeq() == 3);
  auto unfinished = (*store)->unfinishedReverts();
  REQUIRE(unfinished.ok());
  REQUIRE(unfinished->size() == 1);
  CHECK((*unfinished)[0] == RevertRecord{"v2", 2, "db", false, "{\"b\":3}"});
  auto one = (*store)->loadRevert("v1");
  REQUIRE(one.ok());
  REQUIRE(one->has_value());
  CHECK((*one)->finished);
  CHECK_FALSE((*(*store)->loadRevert("v3")).has_value());
}

}  // namespace
}  // namespace rollgate::coordinator
