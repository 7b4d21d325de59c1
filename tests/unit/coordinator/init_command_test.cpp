// `rollgate-coordinator init` (coordinator/init_command.h): a config the coordinator loads as is,
// its key pair, an operator key pair already allowed, the allowlist and state directories; it
// refuses to overwrite anything.
#include "coordinator/init_command.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/keys.h"
#include "coordinator/coordinator_config.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate::coordinator {
namespace {

using testing::readFile;
using testing::ScopedTempDir;

TEST_CASE("coordinator init writes a config the coordinator loads, its keys and an operator's") {
  ScopedTempDir tmp;
  InitOptions options;
  options.dir = tmp / "etc";
  options.agentEndpoint = "tcp://0.0.0.0:17400";
  options.adminEndpoint = "tcp://127.0.0.1:17401";
  options.broadcastEndpoint = "tcp://0.0.0.0:17402";
  options.windowSeconds = 2;
  auto report = initCoordinator(options);
  REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message));
  const std::string etc = tmp / "etc";
  auto config = loadCoordinatorConfig(etc + "/coordinator.toml");
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
  CHECK(config->agentEndpoint == "tcp://0.0.0.0:17400");
  CHECK(config->adminEndpoint == "tcp://127.0.0.1:17401");
  CHECK(config->broadcastEndpoint == "tcp://0.0.0.0:17402");
  CHECK(config->keyFile == etc + "/coordinator.key");
  CHECK(config->agentsDir == etc + "/agents.d");
  CHECK(config->adminsDir == etc + "/admins.d");
  CHECK(config->stateDir == etc + "/state");
  CHECK(config->windowSeconds == 2);
  CHECK(std::filesystem::is_directory(etc + "/agents.d"));
  CHECK(std::filesystem::is_directory(etc + "/state"));

  auto coordinatorSecret = readKeyFile(etc + "/coordinator.key");
  REQUIRE(coordinatorSecret.ok());
  CHECK(*publicKeyFromSecret(*coordinatorSecret) == *readKeyFile(etc + "/coordinator.pub"));
  auto adminSecret = readKeyFile(etc + "/admin.key");
  REQUIRE(adminSecret.ok());
  CHECK(*publicKeyFromSecret(*adminSecret) == *readKeyFile(etc + "/admins.d/admin.pub"));
  for (const char* secret : {"/coordinator.key", "/admin.key"}) {
    struct stat st {};
    REQUIRE(::stat((etc + secret).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  {
    struct stat st {};
    REQUIRE(::stat((etc + "/state").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);  // the daemon's alone, whatever the umask
  }

  CHECK(report->find("rollgate-coordinator --config " + etc + "/coordinator.toml") !=
        std::string::npos);
  CHECK(report->find("export ROLLGATE_ADMIN=tcp://127.0.0.1:17401 ROLLGATE_KEY=" + etc +
                     "/admin.key ROLLGATE_COORDINATOR_KEY=" + etc + "/coordinator.pub") !=
        std::string::npos);

  const std::string before =
      readFile(etc + "/coordinator.toml") + readFile(etc + "/coordinator.key");
  auto again = initCoordinator(options);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("rollgate-coordinator init: refusing to overwrite " + etc +
                                   "/coordinator.toml, " + etc + "/coordinator.key") == 0);
  CHECK(readFile(etc + "/coordinator.toml") + readFile(etc + "/coordinator.key") == before);
}

TEST_CASE(
    "coordinator init: --state-dir puts the state there; the default directory is /etc/rollgate") {
  ScopedTempDir tmp;
  InitOptions options;
  options.dir = tmp / "etc";
  options.stateDir = tmp / "var";
  REQUIRE(initCoordinator(options).ok());
  CHECK(loadCoordinatorConfig(tmp / "etc/coordinator.toml")->stateDir == tmp / "var");
  CHECK(InitOptions{}.dir == "/etc/rollgate");
}

}  // namespace
}  // namespace rollgate::coordinator
