// High availability end to end: two coordinators share one PostgreSQL (Debian's 15, started here
// as the postgres user on a loopback port), three real agents run nginx units of a private systemd
// manager under load, and the CLI is given both admin endpoints. Coordinator c0 reaches the
// database through a relay the test can cut.
//   - the leader is SIGKILLed while a rollout installs, analyses and rolls back: the other takes
//     over within the lease plus a few seconds and the rollout ends as it would have;
//   - `abort --all` sent while no coordinator leads is acknowledged by every host;
//   - a leader frozen (SIGSTOP) past its lease is replaced, and once thawed it steps down;
//   - the leader cut off from PostgreSQL steps down and the other finishes its rollout;
//   - PostgreSQL restarted mid-rollout: the rollout ends as it would have;
//   - no agent applied any command twice (each agent's log lists every command it received:
//     one ref per rollout and kind of command, whatever was re-sent);
//   - a wrong password fails at start with PostgreSQL's message and the URL without the password;
//   - a standby's /metrics says it does not lead, whether it reaches the lease, and which epoch
//     leads, and its console names the leader; once it takes over, the same ports serve its own.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "common/keys.h"
#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/postgres/postgres_server.h"
#include "tests/support/skip.h"
#include "tests/support/systemd/user_manager.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"}};
constexpr int kLeaseSeconds = 3;

const std::string kPlan =
    testPlanToml({.canaryWarmupSeconds = 1, .canaryAnalysisSeconds = 6, .laterAnalysisSeconds = 4});

nlohmann::json parse(const CommandOutput& out) {
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  return json.is_discarded() ? nlohmann::json::object() : json;
}

bool terminal(const std::string& status) {
  return status == "succeeded" || status == "rolled_back" || status == "aborted" ||
         status == "failed" || status == "rolled_back_incomplete";
}

struct Fixture {
  std::unique_ptr<PostgresServer> pg;
  std::unique_ptr<TcpProxy> relay;  // c0's way to PostgreSQL
  std::unique_ptr<WebFleet> web;
  std::string planFile;

  bool ready() {
    if (!requireOrSkip(PostgresServer::missingPrerequisite())) return false;
    if (!requireOrSkip(WebFleet::missingPrerequisite())) return false;
    auto server = PostgresServer::start();
    REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().message));
    pg = std::move(*server);
    relay = std::make_unique<TcpProxy>(pg->port());
    WebFleet::Options options;
    options.shared.urls = {pg->url(relay->port()), pg->url()};
    options.shared.leaseSeconds = kLeaseSeconds;
    // Restarts keep the port closed for a second, so that each phase lasts long enough to be seen.
    options.unitServiceExtra = "ExecStartPre=/bin/sleep 1\n";
    auto started = WebFleet::start(kHosts, options);
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    web = std::move(*started);
    auto base = web->installEverywhere("1.0.0", ReleaseKind::kHealthy);
    REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
    planFile = web->work().file("plan.toml");
    writeFile(planFile, kPlan);
    web->startLoad();
    return true;
  }
  LocalFleet& fleet() { return web->fleet(); }
  CommandOutput cli(std::vector<std::string> args) { return fleet().cli(std::move(args)); }

  std::string start(const std::string& version, ReleaseKind kind) {
    auto out = cli({"rollout", "start", "--service", "web", "--version", version, "--artifact",
                    web->makeRelease(version, kind), "--plan", planFile, "--canary-host", "eu-a-1",
                    "--json", "--timeout", "60"});
    REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
    return parse(out)["rollout"].value("id", "");
  }
  std::string status(const std::string& id) {
    // During a takeover the CLI may answer with an error document instead: no status yet.
    return rolloutStatusOf(parse(cli({"rollout", "status", id, "--json", "--timeout", "5"})));
  }
  bool waitForStatus(const std::string& id, const std::set<std::string>& wanted,
                     std::chrono::seconds timeout = std::chrono::seconds(120)) {
    return waitUntil([&] { return wanted.count(status(id)) > 0; }, timeout,
                     std::chrono::milliseconds(100));
  }
  std::string finish(const std::string& id) {
    std::string last;
    waitUntil([&] { return terminal(last = status(id)); }, std::chrono::seconds(240),
              std::chrono::milliseconds(500));
    return last;
  }
  // Waits until a coordinator other than `old` leads; returns it (-1: none within the time).
  int takeover(int old, std::chrono::seconds timeout = std::chrono::seconds(kLeaseSeconds + 15)) {
    int now = -1;
    waitUntil([&] { return (now = fleet().leader()) >= 0 && now != old; }, timeout,
              std::chrono::milliseconds(200));
    return now != old ? now : -1;
  }
  // SIGKILLs the leader, waits for the other to lead, starts the killed one again (a standby).
  int killLeader(const std::string& phase) {
    int leader = fleet().leader();
    REQUIRE(leader >= 0);
    auto killed = std::chrono::steady_clock::now();
    fleet().killCoordinator(leader, SIGKILL);
    int next = takeover(leader);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - killed);
    MESSAGE("leader c" << leader << " killed while " << phase << "; c" << next << " leads after "
                       << took.count() << " ms (lease " << kLeaseSeconds << " s)");
    REQUIRE_MESSAGE(next >= 0, "no coordinator took over after c" << leader << " was killed while "
                                                                   << phase);
    fleet().startCoordinator(leader);
    return next;
  }
  // After a takeover the agents follow the new leader within a few seconds.
  bool waitForHosts() {
    std::vector<std::string> names;
    for (const auto& host : kHosts) names.push_back(host.name);
    return fleet().waitForHealthy(names, std::chrono::seconds(30));
  }
  std::size_t hostsOn(const std::string& version) {
    std::size_t n = 0;
    for (const auto& host : kHosts) n += web->activeRelease(host.name) == version;
    return n;
  }
};

// Every command each agent received, as its log names them: (rollout, kind) -> refs.
std::map<std::string, std::set<std::string>> commandsOf(const std::string& log) {
  static const std::regex line(R"(command (r\d+) #(\d+) \(epoch (\d+)\) for service web: (\w+))");
  std::map<std::string, std::set<std::string>> out;
  std::ifstream in(log);
  for (std::string text; std::getline(in, text);) {
    std::smatch m;
    if (!std::regex_search(text, m, line)) continue;
    out[m[1].str() + " " + m[4].str()].insert("#" + m[2].str() + " epoch " + m[3].str());
  }
  return out;
}

}  // namespace

TEST_CASE("a wrong PostgreSQL password fails at start with PostgreSQL's message, password hidden") {
  if (!requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = PostgresServer::start();
  REQUIRE_MESSAGE(pg.ok(), (pg.ok() ? "" : pg.error().message));
  TempDir dir("rollgate-ha-badurl");
  const std::string secret = "not-the-password-42";
  writeFile(dir.file("coordinator.toml"),
            "[coordinator]\nstate_dir = \"" + dir.file("state") + "\"\n[store]\nurl = "
            "\"postgresql://rollgate:" + secret + "@127.0.0.1:" + std::to_string((*pg)->port()) +
            "/rollgate\"\n");
  auto out = runCommand({binDir() + "/rollgate-coordinator", "--config", dir.file("coordinator.toml")},
                        {}, std::chrono::seconds(30));
  CHECK(out.exitCode == 1);
  const std::string said = out.err + out.out;
  CHECK_MESSAGE(said.find("password authentication failed for user \"rollgate\"") !=
                    std::string::npos, said);
  CHECK_MESSAGE(said.find("postgresql://rollgate:***@127.0.0.1:") != std::string::npos, said);
  CHECK_MESSAGE(said.find(secret) == std::string::npos, said);

  // A URL that is not PostgreSQL's is refused by the config reader, naming the key.
  writeFile(dir.file("bad.toml"), "[store]\nurl = \"mysql://root:pw@db/rollgate\"\n");
  auto bad = runCommand({binDir() + "/rollgate-coordinator", "--config", dir.file("bad.toml")});
  CHECK(bad.exitCode == 2);
  CHECK_MESSAGE(bad.err.find("url") != std::string::npos, bad.err);
  CHECK_MESSAGE(bad.err.find("pw@") == std::string::npos, bad.err);
}

TEST_CASE("a standby's /metrics and console say it does not lead, and who does") {
  if (!requireOrSkip(PostgresServer::missingPrerequisite())) return;
  auto pg = PostgresServer::start();
  REQUIRE_MESSAGE(pg.ok(), (pg.ok() ? "" : pg.error().message));
  TcpProxy relay((*pg)->port());  // c0's way to PostgreSQL
  SharedStore shared;
  shared.urls = {(*pg)->url(relay.port()), (*pg)->url()};
  shared.leaseSeconds = kLeaseSeconds;
  LocalFleet fleet("heartbeat_seconds = 1\nhost_timeout_seconds = 4\n", shared);
  // Each its own /metrics and console ports, kept when it goes from standby to leader.
  const std::vector<int> ports = {freePort(), freePort()};
  const std::vector<int> consolePorts = {freePort(), freePort()};
  for (int i = 0; i < 2; ++i) {
    writeFile(fleet.coordinatorConfig(i),
              readFile(fleet.coordinatorConfig(i)) + "\n[metrics]\nlisten = \"127.0.0.1:" +
                  std::to_string(ports[i]) + "\"\n[console]\nenabled = true\nplain_http = true\n"
                  "listen = \"127.0.0.1:" + std::to_string(consolePorts[i]) + "\"\n");
  }
  auto console = [&](int i, const std::string& path) {
    auto response =
        httpGet("http://127.0.0.1:" + std::to_string(consolePorts[i]) + path, 2000);
    return response ? *response : HttpResponse{};
  };
  auto scrape = [&](int i) {
    auto response = httpGet("http://127.0.0.1:" + std::to_string(ports[i]) + "/metrics", 2000);
    return response && response->status == 200 ? response->body : std::string();
  };
  auto shows = [&](int i, const std::string& line) {
    return waitUntil([&] { return scrape(i).find(line + "\n") != std::string::npos; },
                     std::chrono::seconds(kLeaseSeconds + 20), std::chrono::milliseconds(200));
  };
  auto epochIn = [](const std::string& text, const std::string& name) {
    std::smatch m;
    return std::regex_search(text, m, std::regex(name + " (\\d+)\n")) ? m[1].str() : std::string();
  };

  fleet.startCoordinator(1);  // c1 leads; c0, behind the relay, stands by
  REQUIRE(waitUntil([&] { return fleet.leader() == 1; }, std::chrono::seconds(30)));
  fleet.startCoordinator(0);
  REQUIRE_MESSAGE(shows(0, "rollgate_standby_lease_reachable 1"), scrape(0));
  const std::string standby = scrape(0);
  CHECK_MESSAGE(standby.find("rollgate_leader{coordinator=\"c0\"} 0\n") != std::string::npos,
                standby);
  CHECK_MESSAGE(standby.find("rollgate_rollouts") == std::string::npos, standby);
  const std::string leading = scrape(1);
  CHECK_MESSAGE(leading.find("rollgate_leader{coordinator=\"c1\"} 1\n") != std::string::npos,
                leading);
  const std::string epoch = epochIn(leading, "rollgate_leader_epoch");
  CHECK(!epoch.empty());
  CHECK(epochIn(standby, "rollgate_standby_leader_epoch") == epoch);

  // Its console answers that it stands by and names the leader, instead of refusing connections:
  // its API in JSON, with the leader's console address; a page, by sending the browser there.
  const std::string leaderConsole = "http://127.0.0.1:" + std::to_string(consolePorts[1]) + "/";
  auto api = console(0, "/api/session");
  CHECK(api.status == 503);
  auto said = nlohmann::json::parse(api.body, nullptr, false);
  if (!said.is_object()) said = nlohmann::json::object();
  CHECK_MESSAGE(said.value("standby", false), api.body);
  CHECK_MESSAGE(said.value("error", "").find("coordinator c0 is a standby") != std::string::npos,
                api.body);
  CHECK_MESSAGE(
      said.value("error", "").find("its console is at " + leaderConsole) != std::string::npos,
      api.body);
  const auto leaderSaid = said.value("leader", nlohmann::json::object());
  CHECK_MESSAGE(leaderSaid.value("id", "") == "c1", api.body);
  CHECK_MESSAGE(std::to_string(leaderSaid.value("epoch", 0)) == epoch, api.body);
  CHECK_MESSAGE(leaderSaid.value("console_url", "") == leaderConsole, api.body);
  const auto listed = fleet.hosts();  // `rollgate hosts --json`, answered by the leader
  CHECK_MESSAGE(
      listed.value("leader", nlohmann::json::object()).value("console_url", "") == leaderConsole,
      listed.dump());
  auto page = console(0, "/rollouts/r-1?tab=events");
  CHECK(page.status == 307);
  CHECK(page.location == leaderConsole + "rollouts/r-1?tab=events");
  CHECK(console(1, "/api/session").status == 401);  // the leader's own console: sign in first

  // Cut off from PostgreSQL, the standby could not take over: its /metrics says so.
  relay.cut();
  CHECK_MESSAGE(shows(0, "rollgate_standby_lease_reachable 0"), scrape(0));
  relay.mend();
  CHECK_MESSAGE(shows(0, "rollgate_standby_lease_reachable 1"), scrape(0));

  // The leader dies: c0 takes over and serves the leader's /metrics on the same port.
  fleet.killCoordinator(1, SIGKILL);
  CHECK_MESSAGE(shows(0, "rollgate_leader{coordinator=\"c0\"} 1"),
                scrape(0) << tailOfFile(fleet.coordinatorLog(0), 20));
  const std::string took = scrape(0);
  CHECK(console(0, "/api/session").status == 401);  // now the console itself, on the same port
  CHECK(took.find("rollgate_standby_") == std::string::npos);
  CHECK(std::stoull("0" + epochIn(took, "rollgate_leader_epoch")) > std::stoull("0" + epoch));
}

TEST_CASE("coordinators sharing PostgreSQL fail over in every phase; no command runs twice") {
  Fixture f;
  if (!f.ready()) return;
  int leader = f.fleet().leader();
  REQUIRE(leader >= 0);
  auto human = f.cli({"hosts"});
  CHECK_MESSAGE(human.out.find("leader: coordinator c" + std::to_string(leader)) !=
                    std::string::npos, human.out);

  SUBCASE("killed while installing, analysing and rolling back") {
    // Each coordinator has its own agents_dir. A key enrolled on the leader reaches the next one
    // through the store, and so does its revocation.
    const std::string ghostKey = rollgate::generateCurveKeyPair().publicKey;
    writeFile(f.fleet().dir().file("ghost.pub"), ghostKey + "\n");
    auto enrolled = f.cli({"hosts", "enroll", "ghost", f.fleet().dir().file("ghost.pub")});
    REQUIRE_MESSAGE(enrolled.exitCode == 0, enrolled.out << enrolled.err);

    // Installing: the canary's install was sent when `rollout start` returned.
    std::string good = f.start("1.1.0", ReleaseKind::kHealthy);
    const std::string phase = f.status(good);
    CHECK_MESSAGE((phase == "installing" || phase == "pending"), phase);
    const int first = f.fleet().leader();
    const int second = f.killLeader("installing");
    // The agents' keys and ghost's, enrolled on the first leader, are in the second one's dir.
    CHECK_MESSAGE(
        readFile(f.fleet().coordinatorLog(second))
                .find("was enrolled by admin on another coordinator: wrote") != std::string::npos,
        readFile(f.fleet().coordinatorLog(second)));
    CHECK(readFile(f.fleet().agentsDir(second) + "/ghost.pub").find(ghostKey) != std::string::npos);
    auto revoked = f.cli({"hosts", "revoke", "ghost"});
    CHECK_MESSAGE(revoked.exitCode == 0, revoked.out << revoked.err);
    CHECK_MESSAGE(f.finish(good) == "succeeded", f.cli({"rollout", "explain", good}).out);
    CHECK(f.hostsOn("1.1.0") == kHosts.size());

    // Analysing: a build with 3% errors; the takeover must not lose the canary's verdict.
    std::string bad = f.start("1.2.0", ReleaseKind::kErrors3Percent);
    REQUIRE(f.waitForStatus(bad, {"analyzing"}));
    CHECK(f.killLeader("analysing") == first);
    // ghost, revoked on the second leader, is gone from the first one's dir when it leads again.
    CHECK_MESSAGE(readFile(f.fleet().coordinatorLog(first))
                          .find("host ghost was revoked by admin on another coordinator") !=
                      std::string::npos,
                  readFile(f.fleet().coordinatorLog(first)));
    CHECK(::access((f.fleet().agentsDir(first) + "/ghost.pub").c_str(), F_OK) != 0);
    CHECK_MESSAGE(f.finish(bad) == "rolled_back", f.cli({"rollout", "explain", bad}).out);
    CHECK(f.hostsOn("1.1.0") == kHosts.size());

    // Rolling back.
    std::string worse = f.start("1.3.0", ReleaseKind::kErrors3Percent);
    REQUIRE(f.waitForStatus(worse, {"rolling_back"}, std::chrono::seconds(180)));
    f.killLeader("rolling back");
    CHECK_MESSAGE(f.finish(worse) == "rolled_back", f.cli({"rollout", "explain", worse}).out);
    CHECK(f.hostsOn("1.1.0") == kHosts.size());
  }

  SUBCASE("abort --all while no coordinator leads, and a frozen leader") {
    std::string id = f.start("1.4.0", ReleaseKind::kHealthy);
    int old = f.fleet().leader();
    f.fleet().killCoordinator(old, SIGKILL);
    // Sent at once: the other coordinator leads only once the lease has expired.
    auto abort = f.cli({"abort", "--all", "--reason", "leader lost", "--json", "--timeout", "60"});
    REQUIRE_MESSAGE(abort.exitCode == 0, abort.err << abort.out);
    auto json = parse(abort);
    CHECK(json["targets"] == kHosts.size());
    CHECK(json["acknowledged"] == kHosts.size());
    CHECK(json["missing"].empty());
    CHECK_MESSAGE(f.finish(id) == "aborted", f.cli({"rollout", "explain", id}).out);
    f.fleet().startCoordinator(old);

    // A leader frozen past its lease: the other takes over and the agents follow it (ZeroMQ
    // heartbeats); thawed, the old one finds its lease gone and steps down without sending.
    int frozen = f.fleet().leader();
    REQUIRE(frozen >= 0);
    ::kill(f.fleet().coordinatorPid(frozen), SIGSTOP);
    int next = f.takeover(frozen);
    CHECK(next >= 0);
    // The agents notice the silent connection (3 s) and move to the next endpoint (3 s more).
    CHECK(f.waitForHosts());
    std::string after = f.start("1.5.0", ReleaseKind::kHealthy);
    ::kill(f.fleet().coordinatorPid(frozen), SIGCONT);
    CHECK_MESSAGE(f.finish(after) == "succeeded", f.cli({"rollout", "explain", after}).out);
    CHECK(waitUntil([&] {
      return readFile(f.fleet().coordinatorLog(frozen)).find("lost the leader lease") !=
             std::string::npos;
    }));
    CHECK(f.hostsOn("1.5.0") == kHosts.size());
  }

  SUBCASE("the leader cut off from PostgreSQL steps down; PostgreSQL restarted mid-rollout") {
    // c0 is the one behind the relay: make it lead (a clean stop gives the lease up at once).
    if (f.fleet().leader() != 0) {
      f.fleet().killCoordinator(1, SIGTERM);
      REQUIRE(waitUntil([&] { return f.fleet().leader() == 0; }, std::chrono::seconds(20)));
      f.fleet().startCoordinator(1);
      REQUIRE(f.waitForHosts());
    }
    std::string id = f.start("1.6.0", ReleaseKind::kHealthy);
    REQUIRE(f.waitForStatus(id, {"analyzing"}));
    f.relay->cut();
    CHECK(f.takeover(0) == 1);
    CHECK(waitUntil([&] {
      return readFile(f.fleet().coordinatorLog(0)).find("stepping down") != std::string::npos;
    }));
    CHECK_MESSAGE(f.finish(id) == "succeeded", f.cli({"rollout", "explain", id}).out);
    f.relay->mend();

    std::string next = f.start("1.7.0", ReleaseKind::kHealthy);
    REQUIRE(f.waitForStatus(next, {"analyzing"}));
    auto restarted = f.pg->restart();
    REQUIRE_MESSAGE(restarted.ok(), (restarted.ok() ? "" : restarted.error().message));
    CHECK_MESSAGE(f.finish(next) == "succeeded", f.cli({"rollout", "explain", next}).out);
    CHECK(f.hostsOn("1.7.0") == kHosts.size());
    // Nothing lost: every step of the rollout has its checks.
    auto view = parse(f.cli({"rollout", "explain", next, "--json"}));
    std::set<int> steps;
    for (const auto& check : view["checks"]) steps.insert(check.value("step", 0));
    CHECK(steps.size() == view["plan"].size());
    // A backtest replays the rollouts stored in PostgreSQL, read by the leader's worker on a
    // read-only session of its own.
    auto backtest = f.cli({"backtest", "--json"});
    CHECK_MESSAGE(parse(backtest).value("replayed", 0) >= 2, (backtest.out + backtest.err));
  }

  // Whatever was re-sent after a takeover, each agent applied one command per rollout and kind.
  for (const auto& host : kHosts) {
    for (const auto& entry : commandsOf(f.fleet().agentLog(host.name))) {
      const std::size_t refs = entry.second.size();
      CHECK_MESSAGE(refs == 1, host.name << " received " << entry.first << " under " << refs
                                         << " refs");
    }
  }
}
