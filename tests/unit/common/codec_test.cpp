// Codec unit tests: every message and union member survives encode -> decode unchanged, and
// every kind of bad frame (empty, truncated, garbage, oversized, wrong version, wrong message
// type, invalid fields) is rejected with a reason that names the problem.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/codec.h"
#include "schemas/rollgate.capnp.h"
#include "tests/unit/common/sample_messages.h"

namespace rollgate {
namespace {

using namespace rollgate::testing;

std::string toFrame(capnp::MessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Asserts that `result` failed and its reason contains every one of `needles`.
template <typename R>
void requireRejected(const R& result, const std::vector<std::string>& needles) {
  REQUIRE_FALSE(result.ok());
  const std::string& reason = result.error().message;
  INFO("reason: " << reason);
  for (const auto& needle : needles) CHECK(reason.find(needle) != std::string::npos);
}

template <typename T, typename Decode>
void checkRoundTrips(const std::vector<T>& samples, Decode decode, std::size_t expectedCount) {
  REQUIRE(samples.size() == expectedCount);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    CAPTURE(i);
    REQUIRE(validate(samples[i]).ok());
    std::string frame = encode(samples[i]);
    CHECK(frame.size() % 8 == 0);
    auto decoded = decode(bytesOf(frame));
    INFO("decode error: " << (decoded.ok() ? std::string() : decoded.error().message));
    REQUIRE(decoded.ok());
    CHECK(*decoded == samples[i]);
    // Deterministic encoding: the decoded copy encodes to the same bytes.
    CHECK(encode(*decoded) == frame);
  }
}

TEST_CASE("agent messages round trip: every body and every command outcome") {
  auto samples = sampleAgentMessages();
  // Hello, Heartbeat, TelemetryReport, 7 CommandResults (one per Outcome), AckAbort,
  // RequestChunk, AckBroadcast, a re-sent TelemetryReport.
  checkRoundTrips(samples, decodeAgentMessage, 14);
  std::vector<bool> seen(std::variant_size_v<AgentMessage>, false);
  for (const auto& m : samples) seen[m.index()] = true;
  for (bool s : seen) CHECK(s);
  // The telemetry sample really carries full windows (not defaults that would trivially match).
  const auto& report = std::get<TelemetryReport>(samples[2]);
  REQUIRE(report.windows.size() == 2);
  CHECK(report.windows[0].latencyBucketCounts.size() == 6);
  CHECK(report.windows[0].statusCodes.size() == 7);
}

TEST_CASE("coordinator messages round trip: welcome, every command body, chunk, abort, ack") {
  auto samples = sampleCoordinatorMessages();
  checkRoundTrips(samples, decodeCoordinatorMessage, 16);  // with OverQuota (both reasons) and SessionClosed
  std::vector<bool> seenBodies(std::variant_size_v<CoordinatorMessage>, false);
  for (const auto& m : samples) seenBodies[m.index()] = true;
  for (bool s : seenBodies) CHECK(s);
  std::vector<bool> seenBody(5, false);
  for (const auto& m : samples) {
    if (const auto* command = std::get_if<Command>(&m)) seenBody[command->body.index()] = true;
  }
  for (bool s : seenBody) CHECK(s);
  // Binary payloads with NUL bytes survive.
  const auto& chunk = std::get<ArtifactChunk>(samples[8]);
  CHECK(chunk.data.size() == 300);
  auto decoded = decodeCoordinatorMessage(bytesOf(encode(samples[8])));
  REQUIRE(decoded.ok());
  CHECK(std::get<ArtifactChunk>(*decoded).data == chunk.data);
}

TEST_CASE("broadcasts round trip: abort, freeze, resume") {
  checkRoundTrips(sampleBroadcasts(), decodeBroadcast, 3);
}

TEST_CASE("admin requests round trip: every body") {
  auto samples = sampleAdminRequests();
  checkRoundTrips(samples, decodeAdminRequest, 30);
  std::vector<bool> seen(std::variant_size_v<decltype(AdminRequest::body)>, false);
  for (const auto& m : samples) seen[m.body.index()] = true;
  for (bool s : seen) CHECK(s);
}

TEST_CASE("admin replies round trip: every body") {
  auto samples = sampleAdminReplies();
  checkRoundTrips(samples, decodeAdminReply, 16);  // incl. a leader's and a standby's reply
  std::vector<bool> seen(std::variant_size_v<decltype(AdminReply::body)>, false);
  for (const auto& m : samples) seen[m.body.index()] = true;
  for (bool s : seen) CHECK(s);
}

TEST_CASE("an empty frame is rejected by every decoder") {
  Bytes empty;
  requireRejected(decodeAgentMessage(empty), {"agent message", "empty frame"});
  requireRejected(decodeCoordinatorMessage(empty), {"coordinator message", "empty frame"});
  requireRejected(decodeBroadcast(empty), {"broadcast", "empty frame"});
  requireRejected(decodeAdminRequest(empty), {"admin request", "empty frame"});
  requireRejected(decodeAdminReply(empty), {"admin reply", "empty frame"});
}

TEST_CASE("truncated frames are rejected") {
  std::string frame = encode(AgentMessage{sampleAgentMessages()[0]});
  REQUIRE(frame.size() > 16);

  SUBCASE("last word missing") {
    std::string cut = frame.substr(0, frame.size() - 8);
    requireRejected(decodeAgentMessage(bytesOf(cut)),
                    {"agent message", "malformed", "Message ends prematurely"});
  }
  SUBCASE("not a whole number of words") {
    std::string cut = frame.substr(0, frame.size() - 3);
    requireRejected(decodeAgentMessage(bytesOf(cut)),
                    {"agent message", std::to_string(cut.size()) + " bytes", "8-byte words"});
  }
  SUBCASE("only the segment table") {
    std::string cut = frame.substr(0, 8);
    requireRejected(decodeAgentMessage(bytesOf(cut)), {"agent message", "malformed"});
  }
  SUBCASE("every shorter word-aligned prefix of every message type is rejected") {
    for (const auto& m : sampleCoordinatorMessages()) {
      std::string full = encode(m);
      for (std::size_t size = 8; size < full.size(); size += 8) {
        CAPTURE(size);
        CHECK_FALSE(decodeCoordinatorMessage(bytesOf(full.substr(0, size))).ok());
      }
    }
    for (const auto& m : sampleAdminReplies()) {
      std::string full = encode(m);
      for (std::size_t size = 8; size < full.size(); size += 8) {
        CAPTURE(size);
        CHECK_FALSE(decodeAdminReply(bytesOf(full.substr(0, size))).ok());
      }
    }
  }
}

TEST_CASE("garbage frames are rejected, never decoded or crashed on") {
  SUBCASE("all 0xff") {
    std::string garbage(64, '\xff');
    requireRejected(decodeAgentMessage(bytesOf(garbage)), {"agent message", "malformed"});
    requireRejected(decodeAdminRequest(bytesOf(garbage)), {"admin request", "malformed"});
  }
  SUBCASE("text") {
    std::string garbage = "GET / HTTP/1.1\r\nHost: coordinator\r\n\r\n";
    garbage.resize(40, ' ');
    requireRejected(decodeAgentMessage(bytesOf(garbage)), {"agent message", "malformed"});
  }
  SUBCASE("segment table claiming a huge segment") {
    std::string garbage(16, '\0');
    garbage[4] = '\xff';  // segment 0 size = 0x000000ff... words, far beyond the frame
    garbage[5] = '\xff';
    requireRejected(decodeBroadcast(bytesOf(garbage)), {"broadcast", "malformed"});
  }
  SUBCASE("seeded random frames") {
    std::mt19937_64 random(20261121);
    int rejected = 0;
    const int frames = 2000;
    for (int i = 0; i < frames; ++i) {
      std::string garbage((1 + random() % 64) * 8, '\0');
      for (char& c : garbage) c = static_cast<char>(random());
      if (!decodeAgentMessage(bytesOf(garbage)).ok()) ++rejected;
      // Whatever happens, the other decoders must not crash either.
      (void)decodeCoordinatorMessage(bytesOf(garbage)).ok();
      (void)decodeBroadcast(bytesOf(garbage)).ok();
      (void)decodeAdminRequest(bytesOf(garbage)).ok();
      (void)decodeAdminReply(bytesOf(garbage)).ok();
    }
    CHECK(rejected == frames);
  }
}

TEST_CASE("oversized frames are rejected before parsing, naming size and limit") {
  SUBCASE("zero-filled frames one word over each limit") {
    std::string big(kMaxBroadcastBytes + 8, '\0');
    requireRejected(decodeBroadcast(bytesOf(big)),
                    {"broadcast", std::to_string(big.size()), std::to_string(kMaxBroadcastBytes),
                     "exceeds the limit"});
    big.assign(kMaxAgentMessageBytes + 8, '\0');
    requireRejected(decodeAgentMessage(bytesOf(big)),
                    {"agent message", std::to_string(kMaxAgentMessageBytes), "exceeds the limit"});
    big.assign(kMaxCoordinatorMessageBytes + 8, '\0');
    requireRejected(decodeCoordinatorMessage(bytesOf(big)),
                    {"coordinator message", "exceeds the limit"});
    big.assign(kMaxAdminRequestBytes + 8, '\0');
    requireRejected(decodeAdminRequest(bytesOf(big)), {"admin request", "exceeds the limit"});
  }
  SUBCASE("a well-formed broadcast over the limit") {
    Abort abort = sampleAbort();
    abort.rolloutIds.assign(1000, std::string(100, 'r'));  // ~100 KB of ids
    std::string frame = encode(Broadcast{9, abort});
    REQUIRE(frame.size() > kMaxBroadcastBytes);
    requireRejected(decodeBroadcast(bytesOf(frame)), {"broadcast", "exceeds the limit"});
  }
  SUBCASE("an artifact upload piece over the admin request limit") {
    AdminRequest request{1, PushArtifact{"web", "1.5.0", kSampleSha256, 4 << 20, 0,
                                         std::string(kMaxAdminRequestBytes, 'x'), false, ""}};
    std::string frame = encode(request);
    requireRejected(decodeAdminRequest(bytesOf(frame)),
                    {"admin request", std::to_string(frame.size()), "exceeds the limit"});
  }
}

TEST_CASE("a frame with another protocol version is rejected, naming both versions") {
  SUBCASE("agent message version 2") {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<wire::AgentMessage>();
    root.setVersion(2);
    root.initBody().initHeartbeat().setSentMillis(5);
    std::string frame = toFrame(builder);
    requireRejected(decodeAgentMessage(bytesOf(frame)),
                    {"agent message", "protocol version 2", "expected 1"});
  }
  SUBCASE("version 0 (an old or zeroed sender) on every envelope") {
    capnp::MallocMessageBuilder a;
    a.initRoot<wire::CoordinatorMessage>().initBody().initWelcome().setHost("h");
    requireRejected(decodeCoordinatorMessage(bytesOf(toFrame(a))), {"protocol version 0"});
    capnp::MallocMessageBuilder b;
    b.initRoot<wire::Broadcast>().initBody().setResume();
    requireRejected(decodeBroadcast(bytesOf(toFrame(b))), {"protocol version 0"});
    capnp::MallocMessageBuilder c;
    c.initRoot<wire::AdminRequest>().initBody().setListHosts();
    requireRejected(decodeAdminRequest(bytesOf(toFrame(c))), {"protocol version 0"});
    capnp::MallocMessageBuilder d;
    d.initRoot<wire::AdminReply>().initBody().setOk("x");
    requireRejected(decodeAdminReply(bytesOf(toFrame(d))), {"protocol version 0"});
  }
  SUBCASE("the same message with version 1 is accepted (the test above can fail)") {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<wire::AgentMessage>();
    root.setVersion(kProtocolVersion);
    root.initBody().initHeartbeat().setSentMillis(5);
    auto decoded = decodeAgentMessage(bytesOf(toFrame(builder)));
    REQUIRE(decoded.ok());
    CHECK(std::get<Heartbeat>(*decoded).sentMillis == 5);
  }
}

TEST_CASE("a message of another type fed to the wrong decoder is rejected") {
  // Cap'n Proto frames carry no type tag, so what a wrong decoder sees depends on the layout;
  // these are cases where the result must be a rejection with a reason. (Some cross-type frames
  // do decode: a Hello read as an AdminRequest is ListHosts, a TelemetryReport read as a
  // Broadcast is Resume. Sockets and ZAP domains keep the types apart, not the codec.)
  SUBCASE("a welcome read as an agent message is a hello without region") {
    std::string frame = encode(CoordinatorMessage{Welcome{"web-eu-1", 3, 5000, 10000, false}});
    requireRejected(decodeAgentMessage(bytesOf(frame)), {"agent message", "hello.region"});
  }
  SUBCASE("a heartbeat read as a broadcast: a struct where the freeze text should be") {
    std::string frame = encode(AgentMessage{Heartbeat{1, {sampleService("web")}}});
    requireRejected(decodeBroadcast(bytesOf(frame)),
                    {"broadcast", "malformed", "non-list pointer where text was expected"});
  }
  SUBCASE("an admin reply with hosts read as an admin request") {
    std::string frame = encode(sampleAdminReplies()[2]);
    requireRejected(decodeAdminRequest(bytesOf(frame)),
                    {"admin request", "malformed", "non-struct pointer"});
  }
  SUBCASE("an abort broadcast read as an admin reply") {
    std::string frame = encode(sampleBroadcasts()[0]);
    requireRejected(decodeAdminReply(bytesOf(frame)),
                    {"admin reply", "malformed", "non-list pointer"});
  }
}

TEST_CASE("invalid fields are rejected naming the field, by validate() and by the decoder") {
  SUBCASE("bad host name in an enroll request") {
    AdminRequest request{1, EnrollHost{"web eu/1", std::string(40, 'a')}};
    requireRejected(validate(request), {"enrollHost.name", "web eu/1"});
    requireRejected(decodeAdminRequest(bytesOf(encode(request))),
                    {"admin request", "enrollHost.name", "invalid name"});
  }
  SUBCASE("bad region in a hello") {
    Hello hello = std::get<Hello>(sampleAgentMessages()[0]);
    hello.region = "-eu";
    requireRejected(decodeAgentMessage(bytesOf(encode(AgentMessage{hello}))),
                    {"hello.region", "\"-eu\""});
  }
  SUBCASE("bad sha256 in a chunk request") {
    AgentMessage message = RequestChunk{"ABCDEF", 0, 1024};
    requireRejected(validate(message), {"requestChunk.sha256", "ABCDEF"});
    requireRejected(decodeAgentMessage(bytesOf(encode(message))),
                    {"agent message", "requestChunk.sha256", "not a SHA-256"});
    // Upper-case hex of the right length is still not accepted (content addresses are lowercase).
    std::string upper = kSampleSha256;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    requireRejected(validate(AgentMessage{RequestChunk{upper, 0, 1024}}), {"requestChunk.sha256"});
  }
  SUBCASE("bad sha256 in an install command") {
    Command command{sampleRef(), "web", InstallRelease{"1.5.0", "not-a-digest", 1, "", "", true}};
    requireRejected(decodeCoordinatorMessage(bytesOf(encode(CoordinatorMessage{command}))),
                    {"command.install.sha256", "not-a-digest"});
  }
  SUBCASE("a load balancer weight over 256 in an install command") {
    Command command{sampleRef(), "web",
                    InstallRelease{"1.5.0", kSampleSha256, 1, "coordinator", "", true, false, 300, 60}};
    requireRejected(decodeCoordinatorMessage(bytesOf(encode(CoordinatorMessage{command}))),
                    {"command.install.trafficWeight", "0..256", "300"});
  }
  SUBCASE("status code 700 in a telemetry window") {
    TelemetryWindow window = sampleWindow("web", 1000);
    window.statusCodes.push_back({700, 1});
    AgentMessage message = TelemetryReport{{window}};
    requireRejected(validate(message), {"telemetry.windows[0].statusCodes", "700"});
    requireRejected(decodeAgentMessage(bytesOf(encode(message))),
                    {"agent message", "telemetry.windows[0].statusCodes", "status code 700"});
  }
  SUBCASE("bucket count mismatch in a telemetry window") {
    TelemetryWindow window = sampleWindow("web", 1000);
    window.latencyBucketCounts.pop_back();
    AgentMessage message = TelemetryReport{{sampleWindow("api", 0), window}};
    requireRejected(decodeAgentMessage(bytesOf(encode(message))),
                    {"telemetry.windows[1].latencyBucketCounts", "5 counts for 6 buckets"});
  }
  SUBCASE("Sentry fingerprints: more than the table holds, more events than errors") {
    TelemetryWindow window = sampleWindow("web", 1000);
    window.sentry.fingerprints.resize(kMaxSentryFingerprints + 1);
    requireRejected(validate(AgentMessage{TelemetryReport{{window}}}),
                    {"telemetry.windows[0].sentryFingerprints", "65"});
    window = sampleWindow("web", 1000);
    window.sentry.fingerprints[0].count = 13;
    requireRejected(decodeAgentMessage(bytesOf(encode(AgentMessage{TelemetryReport{{window}}}))),
                    {"telemetry.windows[0].sentryFingerprints", "KeyError", "13", "12 errors"});
  }
  SUBCASE("window ending before it starts") {
    TelemetryWindow window = sampleWindow("web", 1000);
    window.endMillis = 999;
    requireRejected(validate(AgentMessage{TelemetryReport{{window}}}),
                    {"telemetry.windows[0].endMillis", "999", "1000"});
  }
  SUBCASE("chunk request length outside 1..chunk size") {
    requireRejected(validate(AgentMessage{RequestChunk{kSampleSha256, 0, 0}}),
                    {"requestChunk.length", "0"});
    requireRejected(
        validate(AgentMessage{RequestChunk{kSampleSha256, 0, kArtifactChunkBytes + 1}}),
        {"requestChunk.length", std::to_string(kArtifactChunkBytes + 1)});
  }
  SUBCASE("public key of the wrong length") {
    requireRejected(validate(AdminRequest{1, EnrollHost{"web-1", "short"}}),
                    {"enrollHost.publicKey", "40"});
  }
  SUBCASE("bad version in a service release list") {
    Heartbeat heartbeat{1, {ServiceRelease{"web", "1.0", {"1.0", "../etc"}}}};
    requireRejected(validate(AgentMessage{heartbeat}),
                    {"heartbeat.services[0].releases[1]", "../etc"});
  }
  SUBCASE("abort request without a rollout id or 'all'") {
    requireRejected(validate(AdminRequest{1, AbortRequest{"", false, "x"}}), {"abort.rolloutId"});
  }
  SUBCASE("bad host name in a host list reply") {
    AdminReply reply{1, true,
                     HostList{{sampleHost("ok-host"), sampleHost("bad host")}, std::nullopt},
                     std::nullopt, false};
    requireRejected(decodeAdminReply(bytesOf(encode(reply))), {"admin reply", "hosts.name"});
  }
  SUBCASE("an over-long freeze reason in a host list reply") {
    AdminReply reply{
        1, true,
        HostList{{sampleHost("ok-host")}, FreezeState{"alice", std::string(1025, 'r'), 1}},
        std::nullopt, false};
    requireRejected(decodeAdminReply(bytesOf(encode(reply))), {"admin reply", "freeze.reason"});
  }
  SUBCASE("artifact chunk running past totalBytes") {
    CoordinatorMessage chunk = ArtifactChunk{kSampleSha256, 100, 120, std::string(50, 'x'), ""};
    requireRejected(validate(chunk), {"chunk.offset", "150", "120"});
  }
  SUBCASE("control characters in a value are not echoed raw into the reason") {
    AdminRequest request{1, RevokeHost{std::string("evil\nname\x1b[31m")}};
    auto status = validate(request);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().message.find('\n') == std::string::npos);
    CHECK(status.error().message.find('\x1b') == std::string::npos);
    CHECK(status.error().message.find("revokeHost") != std::string::npos);
  }
}

// Values chosen so that unchecked unsigned 64-bit sums would wrap around.
TEST_CASE("a telemetry window's invalid fields are named with the window's index") {
  TelemetryReport report{{sampleWindow("web", 1'763'700'000'000ull),
                          sampleWindow("api", 1'763'700'010'000ull)}};
  report.windows[1].service = "api/v2";
  requireRejected(validate(AgentMessage{report}), {"telemetry.windows[1].service", "api/v2"});
  report.windows[1].service = "api";
  report.windows[1].release = "../1.0";
  requireRejected(validate(AgentMessage{report}), {"telemetry.windows[1].release"});
  report.windows[1].release = "1.0.0";
  report.windows[0].latencySampleMicros.assign(8193, 1);
  requireRejected(validate(AgentMessage{report}),
                  {"telemetry.windows[0].latencySampleMicros", "8193 entries exceeds 8192"});
  report.windows[0].latencySampleMicros.clear();
  report.windows[0].sentry.fingerprints.push_back({std::string(5000, 't'), "f", 1, 0, "m"});
  report.windows[0].sentry.errors += 1;
  requireRejected(validate(AgentMessage{report}), {"telemetry.windows[0].sentryFingerprints.type"});
}

TEST_CASE("packed frames unpack to the flat frame, and a broken one is refused with its reason") {
  for (const auto& message : sampleAgentMessages()) {
    const std::string flat = encode(message);
    const std::string packed = packFrame(bytesOf(flat));
    CHECK(isPackedFrame(bytesOf(packed)));
    CHECK_FALSE(isPackedFrame(bytesOf(flat)));
    CHECK(packed.size() < flat.size());
    auto unpacked = unpackFrame(bytesOf(packed), kMaxAgentMessageBytes);
    REQUIRE(unpacked);
    CHECK(*unpacked == flat);
  }
  const std::string flat = encode(AgentMessage{TelemetryReport{{sampleWindow("web", 1000)}}});
  const std::string packed = packFrame(bytesOf(flat));
  INFO("a telemetry window of ", flat.size(), " bytes packs to ", packed.size());
  CHECK(packed.size() * 2 < flat.size());

  SUBCASE("a flat frame is not unpacked") {
    requireRejected(unpackFrame(bytesOf(flat), kMaxAgentMessageBytes), {"no RGpk header"});
  }
  SUBCASE("truncated") {
    requireRejected(unpackFrame(bytesOf(packed.substr(0, packed.size() - 3)), kMaxAgentMessageBytes),
                    {"does not unpack to the " + std::to_string(flat.size())});
  }
  SUBCASE("bytes beyond the packed words") {
    requireRejected(unpackFrame(bytesOf(packed + std::string(8, '\0')), kMaxAgentMessageBytes),
                    {"bytes beyond its " + std::to_string(flat.size())});
  }
  SUBCASE("a header that claims more than the bound, or not whole words") {
    std::string big = packed;
    big[7] = '\x7f';  // about 2 GiB
    requireRejected(unpackFrame(bytesOf(big), kMaxAgentMessageBytes),
                    {"claims", "up to " + std::to_string(kMaxAgentMessageBytes)});
    std::string odd = packed;
    odd[4] = static_cast<char>(odd[4] + 1);
    requireRejected(unpackFrame(bytesOf(odd), kMaxAgentMessageBytes), {"whole number of 8-byte"});
  }
  SUBCASE("the marker read as a flat frame's segment count is refused by Cap'n Proto") {
    auto decoded = decodeAgentMessage(bytesOf(packed));
    CHECK_FALSE(decoded);
  }
}

TEST_CASE("a chunk offset that would wrap past 2^64 is rejected") {
  CoordinatorMessage chunk =
      ArtifactChunk{kSampleSha256, UINT64_MAX - 10, 100, std::string(50, 'x'), ""};
  requireRejected(validate(chunk), {"chunk.offset"});
}

TEST_CASE("status classes whose sum would wrap past 2^64 are rejected") {
  TelemetryWindow window = sampleWindow("web", 0);
  window.requests = 5;
  window.status1xx = UINT64_MAX;
  window.status2xx = 2;
  window.status3xx = window.status4xx = window.status5xx = 0;
  requireRejected(validate(AgentMessage{TelemetryReport{{window}}}), {"telemetry.windows[0]"});
}

TEST_CASE("name, version and digest rules") {
  CHECK(isValidName("web-eu-1"));
  CHECK(isValidName("a"));
  CHECK(isValidName(std::string(64, 'a')));
  CHECK_FALSE(isValidName(std::string(65, 'a')));
  CHECK_FALSE(isValidName(""));
  CHECK_FALSE(isValidName("-web"));
  CHECK_FALSE(isValidName(".hidden"));
  CHECK_FALSE(isValidName("web/1"));
  CHECK_FALSE(isValidName("web 1"));
  CHECK(isValidVersion("1.5.0+build.7-rc1"));
  CHECK_FALSE(isValidVersion("1.5.0+build.7~rc1"));  // docs/versions.md
  CHECK_FALSE(isValidVersion(".."));
  CHECK_FALSE(isValidVersion("../x"));
  CHECK_FALSE(isValidVersion(std::string(129, '1')));
  CHECK(isValidSha256(kSampleSha256));
  CHECK_FALSE(isValidSha256(kSampleSha256.substr(1)));
  CHECK_FALSE(isValidSha256(std::string(63, 'a') + "g"));
}

}  // namespace
}  // namespace rollgate
