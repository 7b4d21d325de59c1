// The console in a real browser: Debian's Chromium driven through chromedriver by Selenium
// (browser_check.py) against a real coordinator and a real web fleet. A bad build's rollout is
// rolled back (its failing check's chart is checked), a good build's rollout is watched updating
// live and aborted from the page until every host has acknowledged, event messages with HTML and
// script are shown as text, the freeze banner is on every page, and a viewer's action is refused.
// A backtest run from the CLI has its page (per-check tables, the changed rollouts linking to
// their pages), one is run from the page, and the rolled-back rollout's page shows its label.
// Screenshots of each page go to the test's output directory (screenshots/).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/integration/console/console_support.h"
#include "tests/support/fleet/rollout_runner.h"
#include "tests/support/fleet/test_plan.h"
#include "tests/support/fleet/web_fleet.h"
#include "tests/support/skip.h"

using namespace rollgate::testing;

namespace {

const std::vector<WebHostSpec> kHosts = {
    {"eu-a-1", "eu", "eu-a"}, {"eu-a-2", "eu", "eu-a"}, {"eu-b-1", "eu", "eu-b"},
    {"us-a-1", "us", "us-a"}, {"us-a-2", "us", "us-a"}, {"us-b-1", "us", "us-b"}};

std::string missingBrowser() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"}) {
    if (::access(path, X_OK) != 0) return std::string(path) + " is not installed";
  }
  if (runCommand({"/usr/bin/python3", "-c", "import selenium"}).exitCode != 0) {
    return "python3-selenium is not installed";
  }
  return "";
}

std::string start(WebFleet& web, const std::string& version, ReleaseKind kind,
                  const std::string& planFile) {
  std::string archive = web.makeRelease(version, kind);
  auto out = web.fleet().cli({"rollout", "start", "--service", "web", "--version", version,
                              "--artifact", archive, "--plan", planFile, "--canary-host",
                              "eu-a-1", "--json"});
  REQUIRE_MESSAGE(out.exitCode == 0, out.err << out.out);
  std::string id = startedRolloutId(out.out);
  REQUIRE_MESSAGE(!id.empty(), out.out);
  return id;
}

}  // namespace

TEST_CASE("the console in Chromium: live rollout, failing chart, abort acknowledged, viewer refused") {
  if (!requireOrSkip(WebFleet::missingPrerequisite())) return;
  if (!requireOrSkip(missingBrowser())) return;
  const int port = freePort();
  WebFleet::Options options;
  options.coordinatorExtraToml = "[console]\nenabled = true\nlisten = \"127.0.0.1:" +
                                 std::to_string(port) + "\"\npublish_millis = 200\n";
  auto started = WebFleet::start(kHosts, options);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  WebFleet& web = **started;
  auto base = web.installEverywhere("1.0.0", ReleaseKind::kHealthy);
  REQUIRE_MESSAGE(base.ok(), (base.ok() ? "" : base.error().message));
  const std::string quickPlan = web.work().file("plan.toml");
  writeFile(quickPlan, testPlanToml());
  // The live rollout's canary analyses long enough for the browser to watch and abort it, however
  // slowly a loaded machine runs the steps before (it finished first once at 120 s).
  const std::string slowPlan = web.work().file("slow-plan.toml");
  TestPlan slow;
  slow.canaryAnalysisSeconds = 600;  // aborted by the browser long before; never reached
  writeFile(slowPlan, testPlanToml(slow));
  web.startLoad();

  const std::string operatorToken = issueToken(web.fleet(), "olga", "operator");
  const std::string viewerToken = issueToken(web.fleet(), "vera", "viewer");
  REQUIRE(!operatorToken.empty());
  REQUIRE(!viewerToken.empty());

  // A build with 3% errors: its canary fails http_5xx and the rollout rolls back.
  std::string bad = start(web, "1.1.0", ReleaseKind::kErrors3Percent, quickPlan);
  REQUIRE(waitForDecision(web.fleet(), bad, std::chrono::seconds(240)) == "rolled_back");
  // A backtest from the CLI that would have let the bad build through (restarts only): the
  // browser finds it on the backtest pages, with the bad rollout among the changed ones.
  const std::string restartsOnly = web.work().file("restarts-only.toml");
  writeFile(restartsOnly, "[[check]]\nname = \"restarts\"\nmetric = \"restarts\"\n"
                          "test = \"restarts\"\nmin_data = 1\ntier = \"critical\"\n");
  auto backtest = web.fleet().cli({"backtest", "--gates", restartsOnly, "--compare", "--json"});
  REQUIRE_MESSAGE(backtest.exitCode == 0, backtest.err << backtest.out);
  auto report = nlohmann::json::parse(backtest.out, nullptr, false);
  const std::string run = report.value("run", "");
  REQUIRE_MESSAGE(!run.empty(), backtest.out);
  REQUIRE_MESSAGE(report["changed"].dump().find("\"" + bad + "\"") != std::string::npos,
                  backtest.out);
  // A good build, left running for the browser.
  std::string live = start(web, "1.2.0", ReleaseKind::kHealthy, slowPlan);

  const std::string out = ROLLGATE_CONSOLE_SCREENSHOTS;
  runCommand({"mkdir", "-p", out});
  TempDir profile("rollgate-chromium");
  std::vector<std::string> argv = {"/usr/bin/python3", ROLLGATE_CONSOLE_BROWSER_SCRIPT,
                                   "--url", "https://127.0.0.1:" + std::to_string(port) + "/",
                                   "--operator-token", operatorToken,
                                   "--viewer-token", viewerToken,
                                   "--failed", bad, "--live", live, "--backtest", run,
                                   "--screenshots", out, "--profile", profile.path()};
  if (const char* docs = std::getenv("ROLLGATE_CONSOLE_DOCS")) {
    argv.insert(argv.end(), {"--docs", docs});
  }
  auto browser = runCommand(argv, {}, std::chrono::seconds(400));
  INFO("browser_check.py:\n" << browser.out << browser.err);
  CHECK(browser.exitCode == 0);

  // What the browser did reached the coordinator, as olga.
  CHECK(waitForDecision(web.fleet(), live, std::chrono::seconds(120)) == "aborted");
  auto explain = explainRollout(web.fleet(), live);
  CHECK(explain.dump().find("abort " + live + " by olga (console)") != std::string::npos);
  auto hosts = web.fleet().hosts();
  CHECK_FALSE(hosts.contains("freeze"));  // frozen and unfrozen from the page
}
