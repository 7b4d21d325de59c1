// `rollgate-agent init` (agent/init_command.h): the files it writes are a config the agent loads
// as is and a key pair; it refuses to overwrite and refuses bad values before writing anything.
#include "agent/init_command.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/agent_config.h"
#include "common/keys.h"
#include "tests/unit/common/temp_dir.h"

namespace rollgate::agent {
namespace {

using testing::readFile;
using testing::ScopedTempDir;

InitOptions webOptions(const std::string& dir) {
  InitOptions o;
  o.dir = dir;
  o.host = "web-1";
  o.region = "eu-west";
  o.cluster = "eu-west-a";
  o.coordinator = "tcp://10.0.0.1:7400";
  o.systemd = "user";
  o.service = "web";
  o.unit = "nginx.service";
  o.installRoot = dir + "/srv/web";
  o.accessLog = dir + "/access.log";
  o.accessLogFormat = "combined_rt";
  o.healthUrl = "http://127.0.0.1:8080/health";
  return o;
}

TEST_CASE("agent init writes a config the agent loads and a key pair, and says what is next") {
  ScopedTempDir tmp;
  auto report = initAgent(webOptions(tmp.path()));
  REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message));
  auto config = loadAgentConfig(tmp / "agent.toml");
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
  CHECK(config->host == "web-1");
  CHECK(config->region == "eu-west");
  CHECK(config->cluster == "eu-west-a");
  CHECK(config->coordinator == "tcp://10.0.0.1:7400");
  CHECK(config->broadcast == "tcp://10.0.0.1:7402");
  CHECK(config->coordinatorKeyFile == tmp / "coordinator.pub");
  CHECK(config->keyFile == tmp / "agent.key");
  CHECK(config->stateDir == tmp / "agent-state");
  CHECK(config->systemd == "user");
  CHECK(config->windowSeconds == 0);  // the coordinator's window
  REQUIRE(config->services.size() == 1);
  CHECK(config->services[0].name == "web");
  CHECK(config->services[0].unit == "nginx.service");
  CHECK(config->services[0].installRoot == tmp / "srv/web");
  CHECK(config->services[0].accessLogFormat == "combined_rt");
  CHECK(config->services[0].healthUrl == "http://127.0.0.1:8080/health");
  CHECK(std::filesystem::is_directory(tmp / "agent-state"));

  auto secret = readKeyFile(tmp / "agent.key");
  auto pub = readKeyFile(tmp / "agent.pub");
  REQUIRE(secret.ok());
  REQUIRE(pub.ok());
  CHECK(*publicKeyFromSecret(*secret) == *pub);
  struct stat st {};
  REQUIRE(::stat((tmp / "agent.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((tmp / "agent-state").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);  // the daemon's alone, whatever the umask

  CHECK(report->find("wrote " + tmp / "agent.toml") != std::string::npos);
  CHECK(report->find("public key: " + *pub) != std::string::npos);
  CHECK(report->find("rollgate hosts enroll web-1 " + tmp / "agent.pub") != std::string::npos);
  CHECK(report->find("rollgate-agent --config " + tmp / "agent.toml") != std::string::npos);
  // The coordinator's public key is not there yet: the report says where it goes.
  CHECK(report->find("copy the coordinator's public key (coordinator.pub) to " +
                     tmp / "coordinator.pub") != std::string::npos);
}

TEST_CASE("agent init never overwrites: a second run names the files and changes nothing") {
  ScopedTempDir tmp;
  REQUIRE(initAgent(webOptions(tmp.path())).ok());
  const std::string before = readFile(tmp / "agent.toml") + readFile(tmp / "agent.key");
  auto again = initAgent(webOptions(tmp.path()));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message == "rollgate-agent init: refusing to overwrite " +
                                     tmp / "agent.toml" + ", " + tmp / "agent.key" + ", " +
                                     tmp / "agent.pub" +
                                     " (move them away or choose another --dir)");
  CHECK(readFile(tmp / "agent.toml") + readFile(tmp / "agent.key") == before);
}

TEST_CASE("agent init refuses bad values with the agent's own config errors, writing nothing") {
  ScopedTempDir tmp;
  auto badRegion = webOptions(tmp.path());
  badRegion.region = "eu west";
  auto r = initAgent(badRegion);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("agent.region") != std::string::npos);
  CHECK(r.error().message.find("\"eu west\"") != std::string::npos);

  auto noRestart = webOptions(tmp.path());
  noRestart.systemd = "none";
  r = initAgent(noRestart);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("restart_command") != std::string::npos);

  auto noRoot = webOptions(tmp.path());
  noRoot.installRoot.clear();
  r = initAgent(noRoot);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "rollgate-agent init: --install-root is required with --service web");
  CHECK_FALSE(std::filesystem::exists(tmp / "agent.toml"));
  CHECK_FALSE(std::filesystem::exists(tmp / "agent.key"));

  auto none = webOptions(tmp.path());
  none.systemd = "none";
  none.restartCommand = "/usr/sbin/service web restart";
  REQUIRE(initAgent(none).ok());
  auto config = loadAgentConfig(tmp / "agent.toml");
  REQUIRE(config.ok());
  CHECK(config->services[0].restartCommand ==
        std::vector<std::string>{"/usr/sbin/service", "web", "restart"});
}

}  // namespace
}  // namespace rollgate::agent
