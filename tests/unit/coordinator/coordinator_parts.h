// The coordinator's parts wired as Coordinator::start() wires them, over a FakeStore that fails
// on demand and an outbox that records what would have been sent (for unit tests of the
// coordinator's components and their failure policies). Four hosts web-1..web-4 on web 1.0 have
// said hello; the artifact store knows web 2.0.
// Thread-safety: one thread.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/abort_coordinator.h"
#include "coordinator/admin_api.h"
#include "coordinator/command_dispatcher.h"
#include "coordinator/reverts.h"
#include "coordinator/rollouts.h"
#include "tests/unit/coordinator/fake_store.h"

namespace rollgate::coordinator::testing {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rollgate-policy-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

class RecordingOutbox final : public Outbox {
 public:
  std::vector<std::pair<std::string, CoordinatorMessage>> toAgents;
  std::vector<Broadcast> broadcasts;
  std::vector<AdminReply> replies;

  void toAgent(const std::string& routingId, const CoordinatorMessage& message) override {
    toAgents.emplace_back(routingId, message);
  }
  void broadcast(Broadcast message) override { broadcasts.push_back(std::move(message)); }
  void toAdmin(const ReplyTo&, AdminReply reply) override { replies.push_back(std::move(reply)); }

  template <typename T>
  std::vector<T> sent() const {
    std::vector<T> out;
    for (const auto& [routingId, message] : toAgents) {
      if (const auto* m = std::get_if<T>(&message)) out.push_back(*m);
    }
    return out;
  }
};

// The coordinator's parts wired as Coordinator::start() wires them, over a FakeStore.
struct Parts {
  FakeClock clock{1'763'700'000'000ull};
  Logger logger = makeLogger("policy-test", "off");
  FakeStore store;
  RecordingOutbox outbox;
  TempDir dir;
  CoordinatorConfig config;
  Registry registry{15'000};
  Allowlist agents;
  TelemetryStore telemetry{store};
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<CommandDispatcher> commands;
  std::unique_ptr<Rollouts> rollouts;
  std::unique_ptr<AbortCoordinator> aborts;
  std::unique_ptr<Reverts> reverts;
  std::unique_ptr<AdminApi> admin;

  Parts() {
    config.agentsDir = (dir.path / "agents.d").string();
    auto opened = ArtifactStore::open(store, dir.path.string());
    REQUIRE(opened.ok());
    artifacts = std::move(*opened);
    wire();
    for (const char* host : {"web-1", "web-2", "web-3", "web-4"}) {
      Hello hello{host,
                  "eu-west",
                  "eu-west-a",
                  "0.1.0",
                  {ServiceRelease{"web", "1.0", {"1.0"}}},
                  clock.nowMillis(),
                  CommandRef{}};
      registry.onHello(host, hello, std::string("conn-") + host, clock.nowMillis());
    }
    store.artifacts.push_back(
        ArtifactInfo{"web", "2.0", std::string(64, 'a'), 1000, "", clock.nowMillis(), "alice"});
  }

  // The parts a coordinator rebuilds from the store when it starts, made anew over the same
  // store, fleet and artifacts (nothing in memory is left); the rollouts are opened (resumed).
  void restart() {
    admin.reset();
    reverts.reset();
    aborts.reset();
    rollouts.reset();
    commands.reset();
    wire();
  }

  // Starts a rollout (without Prometheus checks, so it is answered at once): its summary or why not.
  Result<std::string> start(const StartRollout& request, const std::string& operatorName) {
    std::optional<Result<std::string>> summary;
    rollouts->start(request, operatorName,
                    [&](Result<std::string> done) { summary = std::move(done); });
    REQUIRE(summary.has_value());
    return std::move(*summary);
  }

  // Starts a rollout of web 2.0 with web-1 as its canary; returns its summary.
  nlohmann::json startRollout(const std::string& planToml = "") {
    auto summary = start(StartRollout{"web", "2.0", planToml, "", "web-1", false}, "alice");
    REQUIRE_MESSAGE(summary.ok(), (summary.ok() ? "" : summary.error().message));
    return nlohmann::json::parse(*summary);
  }
  void wire() {
    commands = std::make_unique<CommandDispatcher>(registry, store, outbox, clock, logger);
    rollouts = std::make_unique<Rollouts>(store, telemetry, *artifacts, registry, *commands, clock,
                                          logger, /*windowSeconds=*/1);
    aborts = std::make_unique<AbortCoordinator>(store, registry, *rollouts, outbox, clock, logger);
    reverts =
        std::make_unique<Reverts>(store, registry, *artifacts, *rollouts, *commands, clock, logger);
    admin = std::make_unique<AdminApi>(AdminApiParts{config, store, registry, agents, telemetry,
                                                     *artifacts, *rollouts, *commands, *aborts,
                                                     *reverts, outbox, clock, logger});
    REQUIRE(rollouts->open().ok());
  }

  std::string statusOf(const std::string& id) {
    auto list = rollouts->listJson();
    REQUIRE(list.ok());
    auto parsed = nlohmann::json::parse(*list);
    for (const auto& r : parsed["rollouts"]) {
      if (r.value("id", "") == id) return r.value("status", "");
    }
    return "";
  }
};

}  // namespace rollgate::coordinator::testing
