// The pure parts of `rollgate bootstrap`: SSH targets, the hosts file, host fields, shell
// quoting and the agent.toml text. Table-driven; no I/O.
#include <doctest/doctest.h>

#include "cli/bootstrap_host.h"
#include "cli/ssh_session.h"
#include "tests/support/sshd/test_host.h"

using rollgate::cli::BootstrapHost;
using rollgate::cli::BootstrapSettings;

TEST_CASE("parseSshTarget") {
  struct Case {
    const char* text;
    const char* user;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"web-1", "root", "web-1", 22}, Case{"root@10.0.0.5", "root", "10.0.0.5", 22},
                        Case{"admin@web-1:2222", "admin", "web-1", 2222},
                        Case{"root@[::1]:2200", "root", "::1", 2200}, Case{"[fe80::1]", "root", "fe80::1", 22}}) {
    CAPTURE(c.text);
    auto target = rollgate::cli::parseSshTarget(c.text);
    REQUIRE(target);
    CHECK(target->user == c.user);
    CHECK(target->host == c.host);
    CHECK(target->port == c.port);
  }
  for (const char* bad : {"", "root@", "@web", "web:", "web:0", "web:65536", "web:22x", "::1",
                          "[::1", "[::1]x"}) {
    CAPTURE(bad);
    auto target = rollgate::cli::parseSshTarget(bad);
    REQUIRE_FALSE(target);
    CHECK(target.error().message.find(std::string("'") + bad + "'") != std::string::npos);
  }
  CHECK(rollgate::cli::parseSshTarget("root@[::1]:2200")->toString() == "root@[::1]:2200");
}

TEST_CASE("parseHostsFile") {
  BootstrapHost defaults;
  defaults.region = "eu-west";
  defaults.cluster = "eu-west-a";
  const auto hosts = rollgate::cli::parseHostsFile(
      "# comment\n\nroot@10.0.0.1 web-1\n10.0.0.2:2222 cluster=eu-west-b  # trailing\n"
      "root@10.0.0.3 name=web-3 region=us-east cluster=us-east-a\n",
      "hosts.txt", defaults);
  REQUIRE(hosts);
  REQUIRE(hosts->size() == 3);
  CHECK((*hosts)[0].name == "web-1");
  CHECK((*hosts)[0].region == "eu-west");
  CHECK((*hosts)[1].name == "10.0.0.2");
  CHECK((*hosts)[1].sshTarget == "10.0.0.2:2222");
  CHECK((*hosts)[1].cluster == "eu-west-b");
  CHECK((*hosts)[2].name == "web-3");
  CHECK((*hosts)[2].region == "us-east");

  struct Bad {
    const char* text;
    const char* error;
  };
  for (const Bad& b : {Bad{"", "hosts.txt: no hosts"}, Bad{"# only\n", "hosts.txt: no hosts"},
                       Bad{"a\nweb:99999\n", "hosts.txt:2: ssh target 'web:99999'"},
                       Bad{"a x y\n", "hosts.txt:1: unexpected 'y'"},
                       Bad{"a web-1\nb web-1\n", "hosts.txt:2: host name 'web-1' appears twice"},
                       Bad{"a we\"b\n", "hosts.txt:1: name 'we\"b'"},
                       Bad{"a region=\n", "hosts.txt:1: region ''"}}) {
    CAPTURE(b.text);
    const auto parsed = rollgate::cli::parseHostsFile(b.text, "hosts.txt", defaults);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.rfind(b.error, 0) == 0);
  }
}

TEST_CASE("checkHostField refuses what could break TOML or a shell word") {
  CHECK(rollgate::cli::checkHostField("name", "web-1.eu_west"));
  for (const char* bad : {"", "a b", "a\"b", "a'b", "a$b", "a/b", "a\nb"}) {
    CAPTURE(bad);
    CHECK_FALSE(rollgate::cli::checkHostField("name", bad));
  }
  CHECK_FALSE(rollgate::cli::checkHostField("name", std::string(65, 'a')));
}

TEST_CASE("shellQuote survives a shell round trip") {
  for (const std::string text : {"plain", "with space", "it's", "'", "$(touch /tmp/x)`id`", "a\nb"}) {
    CAPTURE(text);
    const auto echoed = rollgate::hosttest::runShell("printf '%s' " + rollgate::cli::shellQuote(text));
    CHECK(echoed.exitCode == 0);
    CHECK(echoed.output == text);
  }
}

TEST_CASE("agentConfigText") {
  BootstrapHost host;
  host.name = "web-1";
  host.region = "eu-west";
  host.cluster = "eu-west-a";
  BootstrapSettings settings;
  settings.coordinatorEndpoint = "tcp://10.0.0.1:7400";
  settings.broadcastEndpoint = "tcp://10.0.0.1:7402";
  const std::string text = rollgate::cli::agentConfigText(host, settings);
  CHECK(text.rfind(rollgate::cli::kBootstrapConfigMarker, 0) == 0);
  for (const char* line :
       {"\n[agent]\n", "\nhost = \"web-1\"\n", "\nregion = \"eu-west\"\n",
        "\ncluster = \"eu-west-a\"\n", "\ncoordinator = \"tcp://10.0.0.1:7400\"\n",
        "\nbroadcast = \"tcp://10.0.0.1:7402\"\n",
        "\ncoordinator_key = \"/etc/rollgate/coordinator.pub\"\n",
        "\nkey = \"/etc/rollgate/agent.key\"\n"}) {
    CHECK_MESSAGE(text.find(line) != std::string::npos, std::string(line));
  }
}
