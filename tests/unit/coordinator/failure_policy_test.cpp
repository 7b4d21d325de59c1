// The coordinator's failure policies for durable writes, shown with a store that fails on demand
// (FakeStore) and an outbox that records what would have been sent: an abort that cannot be saved
// is refused and not sent; abort acknowledgements that cannot be saved are kept and saved at a
// later batch; a command whose ref cannot be saved is not sent, the rollout pauses, and the
// command goes out once its ref is saved; an event or check that cannot be saved pauses the
// rollout; a freeze that cannot be saved is refused; an enrolment whose event cannot be saved
// says so in its reply. Also what a saved freeze shows (host and rollout listings) and holds
// (`--hold-running` pauses the running rollouts and names them).
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/abort_coordinator.h"
#include "coordinator/admin_api.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/rollouts.h"
#include "coordinator/trains.h"
#include "tests/unit/coordinator/coordinator_parts.h"

namespace rollgate::coordinator {
namespace {

using testing::FakeStore;
using testing::Parts;

TEST_CASE("a rollout's first command is sent with a saved ref when the store works") {
  Parts parts;
  auto summary = parts.startRollout();
  std::string id = summary.value("id", "");
  auto commands = parts.outbox.sent<Command>();
  REQUIRE(commands.size() == 1);
  CHECK(commands[0].ref.rolloutId == id);
  CHECK(commands[0].ref.epoch == 7);
  REQUIRE(parts.store.rollouts.count(id) == 1);
  const auto& refs = parts.store.rollouts[id].commandRefs;
  REQUIRE(refs.size() == 1);
  CHECK(refs.begin()->second.sequence == commands[0].ref.sequence);
  CHECK(parts.statusOf(id) != "waiting_for_operator");
}

TEST_CASE("a command whose ref cannot be saved is not sent; the rollout pauses; it goes out once "
          "the ref is saved") {
  Parts parts;
  parts.store.failing = {"saveCommandRefs"};
  auto summary = parts.startRollout();
  std::string id = summary.value("id", "");
  CHECK(parts.outbox.sent<Command>().empty());
  CHECK(parts.store.rollouts[id].commandRefs.empty());
  CHECK(parts.statusOf(id) == "waiting_for_operator");
  bool pauseRecorded = false;
  for (const auto& e : parts.store.events) {
    if (e.rolloutId == id && e.message.find("paused by the coordinator (cannot save a command's "
                                            "ref)") != std::string::npos) {
      pauseRecorded = true;
    }
  }
  CHECK(pauseRecorded);

  // Still failing: tick retries and still sends nothing.
  parts.clock.advanceMillis(1000);
  parts.rollouts->tick();
  CHECK(parts.outbox.sent<Command>().empty());

  // The store works again: the next tick saves the ref, then sends the command under it.
  parts.store.failing.clear();
  parts.clock.advanceMillis(1000);
  parts.rollouts->tick();
  auto commands = parts.outbox.sent<Command>();
  REQUIRE(commands.size() == 1);
  REQUIRE(parts.store.rollouts[id].commandRefs.size() == 1);
  CHECK(parts.store.rollouts[id].commandRefs.begin()->second.sequence == commands[0].ref.sequence);
  // Held until an operator resumes it.
  CHECK(parts.statusOf(id) == "waiting_for_operator");
  CHECK(parts.rollouts->act(RolloutAction{id, RolloutAction::Action::kResume}, "alice").ok());
}

TEST_CASE("a rollout whose events cannot be saved is paused, not carried on") {
  Parts parts;
  parts.store.failing = {"recordEvent"};
  auto summary = parts.startRollout();
  std::string id = summary.value("id", "");
  CHECK(parts.statusOf(id) == "waiting_for_operator");
  CHECK(parts.store.failedCalls > 0);
  // The pause itself is in the saved state, so a restart resumes it paused.
  CHECK(parts.store.rollouts[id].stateJson.find("\"operatorPause\":true") != std::string::npos);
}

// A window of `release` on `host` ending now: 1,000 requests, all 2xx, with latencies.
TelemetryWindow windowOf(const std::string& release, std::uint64_t endMillis) {
  TelemetryWindow w;
  w.service = "web";
  w.release = release;
  w.startMillis = endMillis - 1000;
  w.endMillis = endMillis;
  w.requests = 1000;
  w.status2xx = 1000;
  for (std::uint32_t i = 0; i < 100; ++i) w.latencySampleMicros.push_back(40'000 + 100 * i);
  w.cpuMillis = 100;
  w.memoryBytes = 100'000'000;
  w.unitActive = true;
  return w;
}

TEST_CASE("a rollout whose check results cannot be saved is paused, not carried on") {
  Parts parts;
  auto summary = parts.startRollout(
      "window_seconds = 1\n[canary]\nwarmup_seconds = 0\nanalysis_seconds = 5\n"
      "baseline_restart = false\n");
  std::string id = summary.value("id", "");
  auto commands = parts.outbox.sent<Command>();
  REQUIRE(commands.size() == 1);
  CommandResult installed;
  installed.command = commands[0].ref;
  installed.service = "web";
  installed.outcome = Outcome::kSucceeded;
  installed.activeRelease = "2.0";
  parts.commands->onResult("web-1", installed);
  REQUIRE(parts.statusOf(id) == "analyzing");

  parts.store.failing = {"recordCheck"};
  for (int i = 0; i < 6 && parts.store.failedCalls == 0; ++i) {
    parts.clock.advanceMillis(1000);
    parts.rollouts->onTelemetry("web-1", windowOf("2.0", parts.clock.nowMillis()));
    parts.rollouts->onTelemetry("web-2", windowOf("1.0", parts.clock.nowMillis()));
    parts.rollouts->tick();
  }
  REQUIRE(parts.store.failedCalls > 0);  // a look was taken and its checks were not saved
  CHECK(parts.store.checks.empty());
  CHECK(parts.statusOf(id) == "waiting_for_operator");
  bool pauseRecorded = false;
  for (const auto& e : parts.store.events) {
    if (e.message.find("paused by the coordinator (cannot save the result of check") !=
        std::string::npos) {
      pauseRecorded = true;
    }
  }
  CHECK(pauseRecorded);
}

TEST_CASE("a rollout whose state cannot be saved is paused") {
  Parts parts;
  parts.store.failing = {"saveRollout"};
  auto summary = parts.startRollout();
  std::string id = summary.value("id", "");
  CHECK(parts.statusOf(id) == "waiting_for_operator");
  // Nothing claimed that was not saved: the store has the state it was created with.
  CHECK(parts.store.rollouts[id].status == "installing");
  auto stored = rollout::stateFromJson(parts.store.rollouts[id].stateJson);
  REQUIRE(stored.ok());
  CHECK_FALSE(stored->operatorPause);
}

TEST_CASE("a coordinator killed right after creating a rollout resumes it and sends its install") {
  Parts parts;
  // Nothing written after the rollout's creation reaches the store, as when the coordinator is
  // killed there: its state, its command's ref, its events.
  parts.store.failing = {"saveRollout", "saveCommandRefs", "recordEvent", "appendJournal"};
  auto summary = parts.startRollout();
  std::string id = summary.value("id", "");
  CHECK(parts.outbox.sent<Command>().empty());  // the ref could not be saved: nothing left
  parts.store.failing.clear();
  parts.clock.advanceMillis(2000);
  parts.outbox.toAgents.clear();
  parts.restart();
  CHECK(parts.rollouts->activeIds() == std::vector<std::string>{id});
  CHECK(parts.statusOf(id) == "installing");
  auto commands = parts.outbox.sent<Command>();
  REQUIRE(commands.size() == 1);
  CHECK(commands[0].ref.rolloutId == id);
  CHECK(std::holds_alternative<InstallRelease>(commands[0].body));
  CHECK(parts.store.rollouts[id].commandRefs.size() == 1);
}

TEST_CASE("an unfinished rollout whose state cannot be read is ended as failed, saying why") {
  Parts parts;
  RolloutRecord broken;
  broken.id = "r1";
  broken.seq = 1;
  broken.service = "web";
  broken.version = "2.0";
  broken.status = "pending";
  broken.stateJson = "{}";
  parts.store.rollouts["r1"] = broken;
  parts.outbox.toAgents.clear();
  parts.restart();
  CHECK(parts.rollouts->activeIds().empty());
  const RolloutRecord& ended = parts.store.rollouts["r1"];
  CHECK(ended.finished);
  CHECK(ended.status == "failed");
  CHECK(ended.stateJson == "{}");  // kept as it was, for reading
  bool told = false;
  for (const auto& e : parts.store.events) {
    if (e.rolloutId == "r1" && e.kind == "finished" &&
        e.message.find("cannot resume after a coordinator restart (status was pending)") !=
            std::string::npos) {
      told = true;
    }
  }
  CHECK(told);
  // Its next start is not held up by it, and gets the next id.
  auto next = parts.startRollout();
  CHECK(next.value("id", "") == "r2");
}

TEST_CASE("an abort that cannot be saved is refused and nothing is sent") {
  Parts parts;
  parts.store.failing = {"saveAbort"};
  auto reply = parts.aborts->start("alice", ReplyTo{"op", 1}, AbortRequest{"", true, "bad build"});
  REQUIRE(reply.has_value());
  const auto* error = std::get_if<AdminError>(&reply->body);
  REQUIRE(error != nullptr);
  CHECK(error->message == "cannot record the abort: saveAbort: disk full (injected)");
  CHECK(parts.outbox.broadcasts.empty());
  CHECK(parts.outbox.sent<Abort>().empty());
  CHECK(parts.store.aborts.empty());
}

TEST_CASE("abort acknowledgements that cannot be saved are kept and saved at a later batch") {
  Parts parts;
  auto reply = parts.aborts->start("alice", ReplyTo{"op", 1}, AbortRequest{"", true, "bad build"});
  CHECK_FALSE(reply.has_value());  // the report follows when the hosts acknowledge
  CHECK(parts.outbox.broadcasts.size() == 1);
  auto sent = parts.outbox.sent<Abort>();
  REQUIRE(sent.size() == 4);
  std::uint64_t abortId = sent[0].abortId;
  REQUIRE(parts.store.aborts.count(abortId) == 1);

  parts.store.failing = {"saveAbort"};
  parts.clock.advanceMillis(5);
  parts.aborts->onAck("web-2", AckAbort{abortId, {}});
  parts.aborts->saveBatch();
  CHECK(parts.aborts->unsaved() == 1);
  CHECK(parts.store.aborts[abortId].ackedAtMillis.empty());
  parts.aborts->saveBatch();  // still failing: still kept
  CHECK(parts.aborts->unsaved() == 1);

  parts.store.failing.clear();
  parts.aborts->saveBatch();
  CHECK(parts.aborts->unsaved() == 0);
  CHECK(parts.store.aborts[abortId].ackedAtMillis.count("web-2") == 1);
}

TEST_CASE("abort acknowledgements are saved once they pause, or every 2 s while they keep coming") {
  Parts parts;
  std::vector<std::string> more;  // hosts whose acks keep coming
  for (int i = 0; i < 20; ++i) {
    more.push_back("web-more-" + std::to_string(i));
    Hello hello{more.back(), "eu-west", "eu-west-a", "0.1.0", {}, parts.clock.nowMillis(), {}};
    parts.registry.onHello(more.back(), hello, "conn-" + more.back(), parts.clock.nowMillis());
  }
  auto reply = parts.aborts->start("alice", ReplyTo{"op", 1}, AbortRequest{"", true, "bad build"});
  CHECK_FALSE(reply.has_value());
  auto sent = parts.outbox.sent<Abort>();
  REQUIRE(sent.size() == 24);
  const std::uint64_t abortId = sent[0].abortId;
  const std::uint64_t quiet = AbortCoordinator::kAckQuietMillis;
  auto due = [&] { return parts.aborts->saveDue(parts.clock.steadyMillis()); };

  CHECK_FALSE(due());  // nothing acknowledged
  parts.aborts->onAck("web-1", AckAbort{abortId, {}});
  CHECK_FALSE(due());  // a burst of acks may be under way: saving now would hold it up
  parts.clock.advanceMillis(quiet - 1);
  CHECK_FALSE(due());
  parts.clock.advanceMillis(1);
  CHECK(due());  // they paused
  parts.aborts->saveBatch();
  CHECK_FALSE(due());
  CHECK(parts.store.aborts[abortId].ackedAtMillis.count("web-1") == 1);

  // Acks that keep coming are saved at least every kMaxUnsavedMillis.
  std::uint64_t waited = 0;
  for (const auto& host : more) {
    parts.aborts->onAck(host, AckAbort{abortId, {}});
    if (due()) break;
    parts.clock.advanceMillis(quiet / 2);
    waited += quiet / 2;
  }
  CHECK(due());
  CHECK(waited >= AbortCoordinator::kMaxUnsavedMillis);
  CHECK(waited < AbortCoordinator::kMaxUnsavedMillis + quiet);

  // A failed save is tried again kAckQuietMillis later, not at every turn of the loop.
  parts.store.failing = {"saveAbort"};
  parts.aborts->saveBatch();
  CHECK(parts.aborts->unsaved() == 1);
  CHECK_FALSE(due());
  parts.clock.advanceMillis(quiet);
  CHECK(due());
}

TEST_CASE("abort --all names the rollouts it stopped; a second names them as already aborting") {
  Parts parts;
  std::string id = parts.startRollout().value("id", "");
  // Every host acknowledges the abort `nth` (1-based) sent; returns the operator's report.
  auto report = [&](std::size_t nth) {
    auto aborts = parts.outbox.sent<Abort>();
    REQUIRE(aborts.size() >= 4 * nth);
    std::uint64_t abortId = aborts[4 * nth - 1].abortId;
    for (const char* host : {"web-1", "web-2", "web-3", "web-4"})
      parts.aborts->onAck(host, AckAbort{abortId, {}});
    REQUIRE(parts.outbox.replies.size() == nth);
    const auto* doc = std::get_if<JsonDocument>(&parts.outbox.replies.back().body);
    REQUIRE(doc != nullptr);
    return nlohmann::json::parse(doc->text);
  };
  CHECK_FALSE(parts.aborts->start("alice", ReplyTo{"op", 1}, AbortRequest{"", true, "bad build"}));
  auto first = report(1);
  CHECK(first["stopped"] == nlohmann::json::array({id}));
  CHECK(first["already_aborting"].empty());
  // web-1 has not answered its rollback yet: the rollout is still aborting.
  REQUIRE(parts.statusOf(id) == "rolling_back");
  CHECK_FALSE(parts.aborts->start("bob", ReplyTo{"op", 2}, AbortRequest{"", true, "again"}));
  auto second = report(2);
  CHECK(second["stopped"].empty());
  CHECK(second["already_aborting"] == nlohmann::json::array({id}));
  bool recorded = false;
  for (const auto& e : parts.store.events) {
    if (e.kind == "abort" && e.message.find("already aborting " + id) != std::string::npos)
      recorded = true;
  }
  CHECK(recorded);
}

TEST_CASE("normal state changes are logged at info; undoing a rollout at warning") {
  Parts parts;
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  sink->set_pattern("%l %v");
  parts.logger->sinks().assign({sink});  // only into `log`
  parts.logger->set_level(spdlog::level::info);
  std::string id = parts.startRollout().value("id", "");
  REQUIRE(parts.rollouts->act(RolloutAction{id, RolloutAction::Action::kRollback}, "alice").ok());
  parts.logger->flush();
  INFO(log.str());
  CHECK(log.str().find("info rollout " + id + ": pending -> installing") != std::string::npos);
  CHECK(log.str().find("warning rollout " + id + ": installing -> rolling_back") !=
        std::string::npos);
}

TEST_CASE("a freeze that cannot be saved is refused and not broadcast") {
  Parts parts;
  parts.store.failing = {"setFrozen"};
  AdminRequest request;
  request.requestId = 3;
  request.body = FreezeRequest{true, "release day", false};
  auto reply = parts.admin->handle("alice", "op", request);
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<AdminError>(reply->body));
  CHECK(parts.outbox.broadcasts.empty());
  CHECK_FALSE(parts.admin->frozen().has_value());

  parts.store.failing.clear();
  reply = parts.admin->handle("alice", "op", request);
  REQUIRE(reply.has_value());
  CHECK(std::holds_alternative<AdminOk>(reply->body));
  CHECK(parts.outbox.broadcasts.size() == 1);
  REQUIRE(parts.store.freeze.has_value());
  CHECK(*parts.store.freeze == FreezeState{"alice", "release day", parts.clock.nowMillis()});
  const auto* freeze = std::get_if<Freeze>(&parts.outbox.broadcasts[0].body);
  REQUIRE(freeze != nullptr);
  CHECK(freeze->reason == "release day (alice)");
}

TEST_CASE("a freeze is shown in the host and rollout listings, with who, why and since when") {
  Parts parts;
  AdminRequest list;
  list.body = ListHosts{};
  auto hosts = parts.admin->handle("bob", "op", list);
  REQUIRE(hosts.has_value());
  REQUIRE(std::holds_alternative<HostList>(hosts->body));
  CHECK_FALSE(std::get<HostList>(hosts->body).freeze.has_value());
  list.body = ListRollouts{};
  auto rollouts = parts.admin->handle("bob", "op", list);
  REQUIRE(rollouts.has_value());
  CHECK_FALSE(
      nlohmann::json::parse(std::get<JsonDocument>(rollouts->body).text).contains("freeze"));

  AdminRequest freeze;
  freeze.body = FreezeRequest{true, "incident 42", false};
  REQUIRE(parts.admin->handle("alice", "op", freeze).has_value());
  const FreezeState expected{"alice", "incident 42", parts.clock.nowMillis()};
  parts.clock.advanceMillis(5'000);

  list.body = ListHosts{};
  hosts = parts.admin->handle("bob", "op", list);
  REQUIRE(hosts.has_value());
  REQUIRE(std::holds_alternative<HostList>(hosts->body));
  CHECK(std::get<HostList>(hosts->body).freeze == expected);
  CHECK(std::get<HostList>(hosts->body).hosts.size() == 4);
  list.body = ListRollouts{};
  rollouts = parts.admin->handle("bob", "op", list);
  REQUIRE(rollouts.has_value());
  auto doc = nlohmann::json::parse(std::get<JsonDocument>(rollouts->body).text);
  CHECK(doc["freeze"] == nlohmann::json{{"by", "alice"},
                                        {"reason", "incident 42"},
                                        {"sinceMillis", expected.sinceMillis}});
  CHECK(doc["rollouts"].is_array());

  // A restarted coordinator shows the same freeze.
  AdminApi restarted(AdminApiParts{
      parts.config, parts.store, parts.registry, parts.agents, parts.telemetry, *parts.artifacts,
      *parts.rollouts, *parts.commands, *parts.aborts, *parts.reverts, parts.outbox, parts.clock,
      parts.logger});
  REQUIRE(restarted.restore().ok());
  CHECK(restarted.frozen() == expected);

  AdminRequest unfreeze;
  unfreeze.body = FreezeRequest{false, "", false};
  REQUIRE(parts.admin->handle("alice", "op", unfreeze).has_value());
  list.body = ListHosts{};
  hosts = parts.admin->handle("bob", "op", list);
  REQUIRE(hosts.has_value());
  CHECK_FALSE(std::get<HostList>(hosts->body).freeze.has_value());
}

TEST_CASE("a dry-run start checks without the artifact and starts nothing; a freeze refuses it") {
  Parts parts;
  parts.store.artifacts.clear();  // not uploaded yet: a dry run does not need it
  AdminRequest check;
  check.body = StartRollout{"web", "2.0", "", "", "web-1", true};
  auto reply = parts.admin->handle("alice", "op", check);
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<AdminOk>(reply->body));
  CHECK(std::get<AdminOk>(reply->body).message.find("web 2.0 can start") != std::string::npos);
  CHECK(parts.store.rollouts.empty());
  CHECK(parts.outbox.sent<Command>().empty());
  CHECK(parts.rollouts->activeIds().empty());

  check.body = StartRollout{"web", "2.0", "this is not toml [", "", "web-1", true};
  reply = parts.admin->handle("alice", "op", check);
  REQUIRE(reply.has_value());
  CHECK(std::holds_alternative<AdminError>(reply->body));

  AdminRequest freeze;
  freeze.body = FreezeRequest{true, "incident 42", false};
  REQUIRE(parts.admin->handle("alice", "op", freeze).has_value());
  check.body = StartRollout{"web", "2.0", "", "", "web-1", true};
  reply = parts.admin->handle("alice", "op", check);
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<AdminError>(reply->body));
  CHECK(std::get<AdminError>(reply->body).message.find("frozen fleet-wide (incident 42 (alice))") !=
        std::string::npos);
  CHECK(parts.store.rollouts.empty());
}

TEST_CASE("freeze --hold-running pauses the running rollouts and its reply names them") {
  Parts parts;
  std::string id = parts.startRollout().value("id", "");
  REQUIRE_FALSE(id.empty());
  REQUIRE(parts.statusOf(id) != "waiting_for_operator");

  AdminRequest plain;
  plain.body = FreezeRequest{true, "quiet period", false};
  auto reply = parts.admin->handle("alice", "op", plain);
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<AdminOk>(reply->body));
  CHECK(std::get<AdminOk>(reply->body).message.find("paused") == std::string::npos);
  CHECK(parts.statusOf(id) != "waiting_for_operator");  // a plain freeze lets it run

  AdminRequest incident;
  incident.body = FreezeRequest{true, "incident 42", true};
  reply = parts.admin->handle("alice", "op", incident);
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<AdminOk>(reply->body));
  const std::string message = std::get<AdminOk>(reply->body).message;
  CHECK(message.find("incident 42 (alice)") != std::string::npos);
  CHECK(message.find("paused running rollouts: " + id) != std::string::npos);
  CHECK(parts.statusOf(id) == "waiting_for_operator");

  // Held again: nothing left to pause, and the one already paused is named as not paused.
  reply = parts.admin->handle("alice", "op", incident);
  REQUIRE(reply.has_value());
  const std::string again = std::get<AdminOk>(reply->body).message;
  CHECK(again.find("no running rollout to pause") != std::string::npos);
  CHECK(again.find("not paused: " + id) != std::string::npos);
}

TEST_CASE("an enrolment whose event cannot be saved is done and its reply says it is not logged") {
  Parts parts;
  parts.store.failing = {"recordEvent"};
  AdminRequest request;
  request.body = EnrollHost{"web-9", std::string(40, 'A')};
  auto reply = parts.admin->handle("alice", "op", request);
  REQUIRE(reply.has_value());
  const auto* ok = std::get_if<AdminOk>(&reply->body);
  REQUIRE(ok != nullptr);
  CHECK(ok->message == "enrolled host web-9 (not recorded in the event log: recordEvent: disk "
                       "full (injected))");
  CHECK(parts.agents.keyForName("web-9").has_value());
}

TEST_CASE("pause, resume and roll back of a rollout that does not exist name it") {
  Parts parts;
  for (auto action : {RolloutAction::Action::kPause, RolloutAction::Action::kResume,
                      RolloutAction::Action::kRollback}) {
    auto reply = parts.rollouts->act(RolloutAction{"r404", action}, "alice");
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().message == "no rollout r404");
  }
}

TEST_CASE("a host that misses its rollback's timeout is switched back when it says hello again") {
  Parts parts;
  auto summary = parts.startRollout("rollback_timeout_seconds = 5\n");
  std::string id = summary.value("id", "");
  // web-1 never answers its install; the operator rolls back; web-1 stays away.
  auto rolledBack =
      parts.rollouts->act(RolloutAction{id, RolloutAction::Action::kRollback}, "alice");
  REQUIRE_MESSAGE(rolledBack.ok(), (rolledBack.ok() ? "" : rolledBack.error().message));
  CHECK(parts.statusOf(id) == "rolling_back");
  parts.clock.advanceMillis(6000);
  parts.rollouts->tick();
  CHECK(parts.statusOf(id) == "rolled_back_incomplete");
  CHECK(parts.rollouts->activeIds().empty());
  auto state = rollout::stateFromJson(parts.store.rollouts[id].stateJson);
  REQUIRE(state.ok());
  CHECK(state->endReason.find("did not reach web-1") != std::string::npos);

  // web-1 returns: its pending rollback goes out again, and its result is recorded.
  parts.outbox.toAgents.clear();
  parts.commands->onHello("web-1", "conn-web-1-again");
  std::optional<Command> rollback;
  for (const auto& command : parts.outbox.sent<Command>()) {
    if (std::holds_alternative<RollBackRelease>(command.body)) rollback = command;
  }
  REQUIRE(rollback.has_value());
  CHECK(std::get<RollBackRelease>(rollback->body).toVersion == "1.0");
  CommandResult result;
  result.command = rollback->ref;
  result.service = "web";
  result.outcome = Outcome::kSucceeded;
  result.activeRelease = "1.0";
  parts.commands->onResult("web-1", result);
  bool back = false;
  for (const auto& e : parts.store.events) {
    if (e.rolloutId == id &&
        e.message.find("host web-1 is back on 1.0 (it returned after the "
                       "rollout ended rolled_back_incomplete)") != std::string::npos) {
      back = true;
    }
  }
  CHECK(back);
  auto after = rollout::stateFromJson(parts.store.rollouts[id].stateJson);
  REQUIRE(after.ok());
  CHECK(after->outcome == rollout::RolloutStatus::kRolledBackIncomplete);
  for (const auto& host : after->hosts) {
    if (host.name == "web-1") CHECK(host.rollback == rollout::RollbackState::kDone);
  }
}

TEST_CASE("after a coordinator restart, a timed-out rollback still reaches its host on hello") {
  Parts parts;
  std::string id = parts.startRollout("rollback_timeout_seconds = 5\n").value("id", "");
  REQUIRE(parts.rollouts->act(RolloutAction{id, RolloutAction::Action::kRollback}, "alice").ok());
  parts.clock.advanceMillis(6000);
  parts.rollouts->tick();
  REQUIRE(parts.statusOf(id) == "rolled_back_incomplete");
  std::uint64_t rollbackSequence = 0;
  for (const auto& command : parts.outbox.sent<Command>()) {
    if (std::holds_alternative<RollBackRelease>(command.body))
      rollbackSequence = command.ref.sequence;
  }
  REQUIRE(rollbackSequence != 0);

  // A new coordinator over the same store: nothing in memory is left.
  parts.outbox.toAgents.clear();
  parts.restart();  // opens the rollouts (REQUIREs that it works)
  CHECK(parts.rollouts->activeIds().empty());
  parts.outbox.toAgents.clear();
  parts.commands->onHello("web-1", "conn-web-1-again");
  std::optional<Command> rollback;
  for (const auto& command : parts.outbox.sent<Command>()) {
    if (std::holds_alternative<RollBackRelease>(command.body)) rollback = command;
  }
  REQUIRE(rollback.has_value());
  CHECK(rollback->ref.sequence == rollbackSequence);  // the same command: applied at most once
  CommandResult result;
  result.command = rollback->ref;
  result.service = "web";
  result.outcome = Outcome::kSucceeded;
  result.activeRelease = "1.0";
  parts.commands->onResult("web-1", result);
  auto after = rollout::stateFromJson(parts.store.rollouts[id].stateJson);
  REQUIRE(after.ok());
  CHECK(after->outcome == rollout::RolloutStatus::kRolledBackIncomplete);
  for (const auto& host : after->hosts) {
    if (host.name == "web-1") CHECK(host.rollback == rollout::RollbackState::kDone);
  }
}

TEST_CASE("a release train shows its rollout held by an operator pause whose save failed") {
  Parts parts;
  Trains trains(parts.store, *parts.rollouts, parts.clock, parts.logger);
  REQUIRE(trains.open().ok());
  auto reply = [&](const std::string& action, const nlohmann::json& args) {
    auto out = trains.handle(TrainRequest{action, "web", args.dump()}, "alice");
    REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message));
    return nlohmann::json::parse(*out);
  };
  reply("enable", {{"config", "[train]\n"}});
  reply("submit", {{"commit", std::string(40, 'c')}, {"version", "2.0"}, {"tests", "passed"}});
  trains.tick();
  nlohmann::json rolling = reply("status", nlohmann::json::object());
  REQUIRE(rolling.value("phase", "") == "rolling_out");
  CHECK(rolling.value("moving", false));
  std::string id = rolling.value("rollout", "");
  // Paused; the pause is not in the store (its save failed), but the rollout waits all the same.
  parts.store.failing = {"saveRollout"};
  REQUIRE(parts.rollouts->act(RolloutAction{id, RolloutAction::Action::kPause}, "bob").ok());
  CHECK(parts.store.rollouts[id].status != "waiting_for_operator");
  nlohmann::json held = reply("status", nlohmann::json::object());
  CHECK_FALSE(held.value("moving", true));
  CHECK(held.value("why", "").find("rollout " + id + " waits for an operator") == 0);
}

}  // namespace
}  // namespace rollgate::coordinator
