// Test helper: one valid, fully populated sample of every wire message and every union member
// (common/messages.h), shared by the codec unit tests and the fuzz seed generator. Every field
// holds a non-default value so that a field the codec forgets to carry shows up as a mismatch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/messages.h"

namespace rollgate::testing {

inline const std::string kSampleSha256 =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

inline ServiceRelease sampleService(const std::string& name) {
  return ServiceRelease{name, "1.4.2", {"1.4.2", "1.4.1", "1.3.0+build.7"}};
}

inline CommandRef sampleRef() { return CommandRef{"ro-20261121-7", 42, 3}; }

inline TelemetryWindow sampleWindow(const std::string& service, std::uint64_t startMillis) {
  TelemetryWindow w;
  w.service = service;
  w.release = "1.4.2";
  w.startMillis = startMillis;
  w.endMillis = startMillis + 10'000;
  w.requests = 1000;
  w.status1xx = 1;
  w.status2xx = 950;
  w.status3xx = 20;
  w.status4xx = 25;
  w.status5xx = 4;
  w.statusCodes = {{101, 1}, {200, 940}, {204, 10}, {304, 20}, {404, 25}, {502, 3}, {503, 1}};
  w.latencyBucketUpperMicros = {1000, 5000, 25000, 100000, 500000, UINT64_MAX};
  w.latencyBucketCounts = {400, 300, 200, 80, 19, 1};
  w.latencySampleMicros = {812, 1203, 4999, 77000, 250001, 4294967295u};
  w.errorLogLines = 7;
  w.unparsedLines = 2;
  w.cpuMillis = 1234;
  w.memoryBytes = 512ull << 20;
  w.restarts = 1;
  w.unitActive = true;
  w.mainPid = 4711;
  w.droppedBefore = 3;
  w.sequence = 1'700'000'000'042;
  w.cpuMicros = 1'234'567;
  w.sentry = SentryWindow{true, 12, 2, 300, 4, 1, 1,
                          {{"KeyError", "app.orders.load", 9, 1, "'missing'"},
                           {"ValueError", "", 2, 1, "bad value"}},
                          1, 3, 5, 6, 7};
  return w;
}

inline CommandResult sampleResult(Outcome outcome) {
  CommandResult r;
  r.command = sampleRef();
  r.service = "web";
  r.outcome = outcome;
  r.activeRelease = "1.4.2";
  r.message = std::string("health check failed: GET http://127.0.0.1/health -> 503: ") + outcomeName(outcome);
  r.events = {"downloaded 1048576 bytes", "unpacked", "switched current", "restarted web.service"};
  r.durationMillis = 8123;
  r.progress = outcome == Outcome::kInProgress;
  r.bytesDone = 524288;
  r.bytesTotal = 1048576;
  return r;
}

inline const std::vector<Outcome>& allOutcomes() {
  static const std::vector<Outcome> outcomes = {
      Outcome::kSucceeded, Outcome::kFailed,      Outcome::kRolledBack, Outcome::kStale,
      Outcome::kCancelled, Outcome::kInterrupted, Outcome::kInProgress};
  return outcomes;
}

inline Abort sampleAbort() {
  return Abort{77, {"ro-1", "ro-2"}, "error rate 4.1% > 1% on canary web-eu-1",
               {sampleService("web"), ServiceRelease{"api", "", {}}}};
}

inline HostInfo sampleHost(const std::string& name) {
  return HostInfo{name, "eu-west", "eu-west-a", "0.1.0", {sampleService("web")},
                  1'763'700'000'000ull, true, true, name + ".example.org",
                  HostDrops{640, 81920, 12, 3, 20000, 2}};
}

inline std::vector<AgentMessage> sampleAgentMessages() {
  std::vector<AgentMessage> out;
  out.push_back(Hello{"web-eu-1", "eu-west", "eu-west-a", "0.1.0",
                      {sampleService("web"), sampleService("api")}, 1'763'700'000'123ull,
                      sampleRef()});
  out.push_back(Heartbeat{1'763'700'005'000ull, {sampleService("web")}});
  out.push_back(TelemetryReport{{sampleWindow("web", 1'763'700'000'000ull),
                                 sampleWindow("api", 1'763'700'010'000ull)}});
  for (Outcome outcome : allOutcomes()) out.push_back(sampleResult(outcome));
  out.push_back(AckAbort{77, {sampleService("web")}});
  out.push_back(RequestChunk{kSampleSha256, 1 << 20, 1 << 20});
  out.push_back(AckBroadcast{991});
  out.push_back(TelemetryReport{{sampleWindow("web", 1'763'700'020'000ull)}, /*resent=*/true});
  return out;
}

inline std::vector<CoordinatorMessage> sampleCoordinatorMessages() {
  std::vector<CoordinatorMessage> out;
  out.push_back(Welcome{"web-eu-1", 3, 5000, 10000, true});
  std::string signature(64, '\0');
  for (std::size_t i = 0; i < signature.size(); ++i) signature[i] = static_cast<char>(i * 7);
  out.push_back(Command{sampleRef(), "web",
                        InstallRelease{"1.5.0", kSampleSha256, 123456, "coordinator", signature,
                                       false}});
  out.push_back(Command{sampleRef(), "web",
                        InstallRelease{"1.4.1", kSampleSha256, 123456, "coordinator", "", true,
                                       true}});
  out.push_back(Command{sampleRef(), "web", ActivateRelease{"1.5.0"}});
  out.push_back(Command{sampleRef(), "web", RollBackRelease{"1.4.1", false}});
  out.push_back(Command{sampleRef(), "web", RollBackRelease{"", true}});
  out.push_back(Command{sampleRef(), "web", CancelCommand{CommandRef{"ro-19", 41, 3}}});
  out.push_back(Command{sampleRef(), "web", RestartBaseline{}});
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i));  // includes NUL bytes
  out.push_back(ArtifactChunk{kSampleSha256, 4096, 4096 + bytes.size() + 10, bytes, ""});
  out.push_back(ArtifactChunk{kSampleSha256, 0, 0, "", "artifact unknown"});
  out.push_back(sampleAbort());
  out.push_back(AckTelemetry{1'700'000'000'042});
  // Last, so that the indexes above stay put: an install holding a load balancer weight.
  out.push_back(
      Command{sampleRef(), "web",
              InstallRelease{"1.5.0", kSampleSha256, 123456, "coordinator", "", true, false, 25, 90}});
  out.push_back(OverQuota{640, 5000, 1'763'700'000'042ull});
  out.push_back(OverQuota{0, 5000, 1'763'700'000'043ull, /*storeBehind=*/true});
  out.push_back(SessionClosed{"a newer session with this host's key (web-eu-1) replaced this one"});
  return out;
}

inline std::vector<Broadcast> sampleBroadcasts() {
  return {Broadcast{1, sampleAbort()}, Broadcast{2, Freeze{"change freeze for the holidays"}},
          Broadcast{3, Resume{}}};
}

inline std::vector<AdminRequest> sampleAdminRequests() {
  std::vector<AdminRequest> out;
  std::uint64_t id = 100;
  auto add = [&](auto body) { out.push_back(AdminRequest{++id, std::move(body)}); };
  add(ListHosts{});
  add(EnrollHost{"web-eu-1", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"});
  add(RevokeHost{"web-eu-2"});
  add(QueryTelemetry{"web-eu-1", "web", 12});
  add(PushArtifact{"web", "1.5.0", kSampleSha256, 1 << 20, 4096, std::string("\0\1\2tar", 6),
                   true, std::string(64, 'S')});
  add(ManualCommand{"web-eu-1", "web", ManualCommand::Kind::kInstall, "1.5.0"});
  add(ManualCommand{"web-eu-1", "web", ManualCommand::Kind::kRollback, ""});
  add(ManualCommand{"web-eu-1", "web", ManualCommand::Kind::kRollback, "1.3.0"});
  add(ListReleases{"web-eu-1"});
  add(StartRollout{"web", "1.5.0", "[[stage]]\nname = \"canary\"\n", "[gate]\nmax = 1\n",
                   "web-eu-1", false});
  add(StartRollout{"web", "1.5.0", "", "", "", true});
  for (auto action : {RolloutAction::Action::kPause, RolloutAction::Action::kResume,
                      RolloutAction::Action::kPromote, RolloutAction::Action::kRollback}) {
    add(RolloutAction{"ro-7", action});
  }
  add(ListRollouts{});
  add(DescribeRollout{"ro-7"});
  add(AbortRequest{"ro-7", false, "canary looks bad"});
  add(AbortRequest{"", true, "stop everything"});
  add(FreezeRequest{true, "holidays", false});
  add(FreezeRequest{true, "incident 42", true});
  add(FreezeRequest{false, "", false});
  add(WatchRollout{"ro-7"});
  add(RevertRequest{"web", "1.4.1", 5, 0, false, "bad build", "", ""});
  add(RevertRequest{"web", "", 0, 25, true, "", "window_seconds = 1\n", "[checks]\n"});
  add(DescribeRevert{"v3"});
  add(TrainRequest{"submit", "web", R"({"commit":"4f2a9c01","version":"1.4.2","tests":"passed"})"});
  add(ConsoleTokenRequest{"alice", "operator", 86400});
  add(BacktestRequest{"[[check]]\n", "gates.toml", "", "", "web", 1, 2,
                      R"({"v":1,"rollout":"r1","type":"tick","at":1})", "h.jsonl", true});
  add(LabelRollout{"ro-7", "bad", "reverted by hand"});
  return out;
}

inline std::vector<AdminReply> sampleAdminReplies() {
  std::vector<AdminReply> out;
  auto reply = [&out](std::uint64_t id, bool final, auto body) {
    AdminReply r;
    r.requestId = id;
    r.final = final;
    r.body = std::move(body);
    out.push_back(std::move(r));
  };
  reply(1, true, AdminError{"no host named web-eu-9"});
  reply(2, true, AdminOk{"enrolled web-eu-3"});
  reply(3, true, HostList{{sampleHost("web-eu-1"), sampleHost("web-eu-2")}, std::nullopt});
  reply(3, true, HostList{{sampleHost("web-eu-1")},
                          FreezeState{"alice", "incident 42", 1'763'700'000'123ull}});
  reply(3, true, HostList{{}, FreezeState{"bob", "", 1}});
  reply(4, false, WindowList{{sampleWindow("web", 1'763'700'000'000ull)}});
  for (Outcome outcome : allOutcomes()) {
    reply(5, outcome != Outcome::kInProgress, sampleResult(outcome));
  }
  reply(6, true, JsonDocument{R"({"rollout":"ro-7","state":"canary"})"});
  // Coordinators sharing PostgreSQL: the leader names itself; a standby says it did not handle it.
  reply(7, true, HostList{{sampleHost("web-eu-1")}, std::nullopt});
  out.back().leader = LeaderInfo{"coord-a", "tcp://10.0.0.1:7401", 12, 1'763'700'000'000ull,
                                 "https://coord-a.example:7443/"};
  reply(8, true, AdminError{"coordinator coord-b is a standby; the leader is coordinator coord-a"});
  out.back().leader = LeaderInfo{"coord-a", "tcp://10.0.0.1:7401", 12, 1'763'700'000'000ull,
                                 "https://coord-a.example:7443/"};
  out.back().standby = true;
  return out;
}

}  // namespace rollgate::testing
