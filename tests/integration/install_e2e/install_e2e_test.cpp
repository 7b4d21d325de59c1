// Installs end to end through the operator's commands: artifact push to a real coordinator, chunked
// transfer to a real agent, unpack, switch, restart of a real nginx unit of a private systemd
// manager, health probe; then rollback, releases, and a broken artifact that changes nothing.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/support/fleet/fleet.h"
#include "tests/support/skip.h"
#include "tests/support/systemd/user_manager.h"

using namespace rollgate::testing;
namespace fs = std::filesystem;

namespace {

// Builds release `version` of a tiny static site as a .tar.gz and returns its path.
std::string makeRelease(const TempDir& dir, const std::string& version, const std::string& body) {
  std::string root = dir.file("src-" + version);
  fs::create_directories(root + "/static");
  writeFile(root + "/index.html", body);
  writeFile(root + "/health", "ok\n");
  writeFile(root + "/static/app.js", "console.log('" + version + "');\n");
  std::string archive = dir.file("web-" + version + ".tar.gz");
  auto out = runCommand({"tar", "-czf", archive, "-C", root, "."});
  REQUIRE_MESSAGE(out.exitCode == 0, out.err);
  return archive;
}

std::string activeRelease(const LocalFleet& fleet) {
  auto out = fleet.cli({"releases", "--host", "web-1", "--json"});
  if (out.exitCode != 0) return "error: " + out.err;
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  std::string found = json.dump();
  // Accept either {"services":[...]} at top level or nested under "hosts".
  std::function<std::string(const nlohmann::json&)> walk = [&](const nlohmann::json& j) -> std::string {
    if (j.is_object()) {
      if (j.contains("service") && j.value("service", "") == "web") {
        for (const char* key : {"active_release", "active"}) {
          if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
        }
      }
      for (const auto& [k, v] : j.items()) {
        auto r = walk(v);
        if (!r.empty()) return r;
      }
    } else if (j.is_array()) {
      for (const auto& v : j) {
        auto r = walk(v);
        if (!r.empty()) return r;
      }
    }
    return "";
  };
  return walk(json);
}

}  // namespace

TEST_CASE("install v1, install v2, roll back, refuse a broken build: nginx serves each release") {
  if (!requireOrSkip(UserManager::missingPrerequisite())) return;
  auto manager = UserManager::start();
  REQUIRE_MESSAGE(manager.ok(), (manager.ok() ? "" : manager.error().message));
  TempDir work;
  const std::string installRoot = work.file("srv-web");
  fs::create_directories(installRoot);
  auto nginx = NginxUnit::start(**manager, installRoot + "/current");
  REQUIRE_MESSAGE(nginx.ok(), (nginx.ok() ? "" : nginx.error().message));

  LocalFleet fleet;
  fleet.startCoordinator();
  REQUIRE(fleet.waitForCoordinator());
  AgentSpec spec("web-1", "eu-west", "eu-west-a");
  spec.extraToml = "systemd = \"user\"\n\n[[service]]\nname = \"web\"\nunit = \"" +
                   (*nginx)->unit() + "\"\ninstall_root = \"" + installRoot +
                   "\"\nhealth_url = \"" + (*nginx)->url("/health") +
                   "\"\nhealth_timeout_seconds = 10\n";
  fleet.addAgent(spec);
  fleet.startAgent("web-1", {{"DBUS_SESSION_BUS_ADDRESS", (*manager)->busAddress()},
                             {"XDG_RUNTIME_DIR", (*manager)->runtimeDir()}});
  REQUIRE(fleet.waitForHealthy({"web-1"}));

  auto v1 = makeRelease(work, "1.0.0", "release one\n");
  auto v2 = makeRelease(work, "1.1.0", "release two\n");
  auto push = [&](const std::string& file, const std::string& version) {
    return fleet.cli({"artifact", "push", file, "--service", "web", "--version", version});
  };
  auto install = [&](const std::string& version) {
    return fleet.cli({"install", "--host", "web-1", "--service", "web", "--version", version});
  };
  auto page = [&] {
    auto response = httpGet((*nginx)->url("/index.html"));
    return response ? response->body : std::string("unreachable");
  };

  REQUIRE(push(v1, "1.0.0").exitCode == 0);
  auto first = install("1.0.0");
  CHECK_MESSAGE(first.exitCode == 0, first.out << first.err);
  CHECK(page() == "release one\n");
  CHECK(activeRelease(fleet) == "1.0.0");

  REQUIRE(push(v2, "1.1.0").exitCode == 0);
  auto second = install("1.1.0");
  CHECK_MESSAGE(second.exitCode == 0, second.out << second.err);
  CHECK(page() == "release two\n");
  CHECK(waitUntil([&] { return activeRelease(fleet) == "1.1.0"; }, std::chrono::seconds(10)));

  auto back = fleet.cli({"rollback", "--host", "web-1", "--service", "web"});
  CHECK_MESSAGE(back.exitCode == 0, back.out << back.err);
  CHECK(page() == "release one\n");
  CHECK(waitUntil([&] { return activeRelease(fleet) == "1.0.0"; }, std::chrono::seconds(10)));

  SUBCASE("a broken build is refused with a clear error and nothing changes") {
    writeFile(work.file("broken.tar.gz"), "this is not an archive");
    REQUIRE(push(work.file("broken.tar.gz"), "2.0.0").exitCode == 0);
    auto broken = install("2.0.0");
    CHECK(broken.exitCode == 1);
    CHECK_MESSAGE(!(broken.out + broken.err).empty(), "the failure must be explained");
    CHECK(page() == "release one\n");
    CHECK(activeRelease(fleet) == "1.0.0");
  }
  SUBCASE("a release that is not pushed is named in the error") {
    auto missing = install("9.9.9");
    CHECK(missing.exitCode != 0);
    CHECK(missing.err.find("9.9.9") != std::string::npos);
  }
  SUBCASE("an unknown host is named in the error") {
    auto unknown = fleet.cli({"install", "--host", "nope", "--service", "web", "--version", "1.0.0"});
    CHECK(unknown.exitCode != 0);
    CHECK(unknown.err.find("nope") != std::string::npos);
  }
}
