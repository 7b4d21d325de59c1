#include "tests/support/sentry/sentry_fleet.h"

#include <unistd.h>

#include <filesystem>

namespace rollgate::testing {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kSentryKey = "3f2a9c0d5e6b4a71";
const std::string kApp = std::string(ROLLGATE_SENTRY_SUPPORT_DIR) + "/sdk_app.py";
const std::string kReceiver = std::string(ROLLGATE_SENTRY_SUPPORT_DIR) + "/upstream_receiver.py";

}  // namespace

const char* SentryFleet::gatesToml() {
  return R"([[check]]
name = "http_5xx"
metric = "http_5xx_ratio"
test = "fisher"
min_effect = 0.001
min_ratio = 1.5
min_data = 200
[[check]]
name = "restarts"
metric = "restarts"
test = "restarts"
min_data = 1
[[check]]
name = "exceptions"
metric = "exceptions_per_request"
test = "fisher"
min_effect = 0.001
min_ratio = 1.5
min_data = 200
[[check]]
name = "crash_free_sessions"
metric = "crashed_sessions"
test = "fisher"
min_effect = 0.01
min_ratio = 1.5
min_data = 50
[[check]]
name = "new_error_types"
metric = "new_error_types"
test = "new_types"
min_data = 5
tier = "warn"
)";
}

std::string SentryFleet::missingPrerequisite() {
  if (auto missing = UserManager::missingPrerequisite(); !missing.empty()) return missing;
  if (::access(kPython, X_OK) != 0) return std::string(kPython);
  auto sdk = runCommand({kPython, "-c", "import sentry_sdk"});
  if (sdk.exitCode != 0) return "python3-sentry-sdk (import sentry_sdk failed: " + sdk.err + ")";
  return "";
}

Result<std::unique_ptr<SentryFleet>> SentryFleet::start(const std::vector<SentryHostSpec>& hosts,
                                                        Options options) {
  std::unique_ptr<SentryFleet> f(new SentryFleet());
  f->hosts_ = hosts;
  auto manager = UserManager::start();
  if (!manager) return manager.error();
  f->manager_ = std::move(*manager);
  fs::create_directories(f->receiverDir());
  const int receiverPort = freePort();
  if (!options.relayHost.empty()) {
    f->receiver_ = Process::spawn({kPython, kReceiver, std::to_string(receiverPort), f->receiverDir()},
                                  f->work_.file("receiver.log"));
  }
  f->fleet_ = std::make_unique<LocalFleet>("heartbeat_seconds = 1\nhost_timeout_seconds = 6\n"
                                           "window_seconds = 1\n");
  f->fleet_->startCoordinator();
  if (!f->fleet_->waitForCoordinator()) return makeError("the coordinator did not start");
  for (const auto& host : hosts) {
    std::string root = f->work_.file(host.name);
    fs::create_directories(root);
    const int port = freePort();
    std::string dsn = "http://" + std::string(kSentryKey) + "@127.0.0.1:" + std::to_string(port) + "/1";
    std::string unit = "shop-" + host.name + "-" + std::to_string(::getpid()) + ".service";
    std::string unitText = "[Unit]\nDescription=shop on " + host.name +
                           "\nStartLimitIntervalSec=0\n[Service]\nExecStart=" + kPython + " " +
                           kApp + " --dsn " + dsn + " --root " + root + " --access-log " + root +
                           "/access.log --rps " + std::to_string(options.requestsPerSecond) + "\n";
    if (auto written = f->manager_->writeUnit(unit, unitText); !written) return written.error();
    AgentSpec spec(host.name, host.region, host.cluster);
    spec.extraToml = "systemd = \"user\"\nwindow_seconds = 1\n\n[[service]]\nname = \"shop\"\n"
                     "unit = \"" + unit + "\"\ninstall_root = \"" + root + "\"\naccess_log = \"" +
                     root + "/access.log\"\n\n[service.sentry]\nport = " + std::to_string(port) +
                     "\nkey = \"" + kSentryKey + "\"\nproject = \"1\"\n";
    if (host.name == options.relayHost) {
      spec.extraToml += "upstream_dsn = \"http://teamkey@127.0.0.1:" + std::to_string(receiverPort) +
                        "/77\"\n";
    }
    f->fleet_->addAgent(spec);
    f->fleet_->startAgent(host.name, {{"DBUS_SESSION_BUS_ADDRESS", f->manager_->busAddress()},
                                      {"XDG_RUNTIME_DIR", f->manager_->runtimeDir()}});
  }
  std::vector<std::string> names;
  for (const auto& host : hosts) names.push_back(host.name);
  if (!f->fleet_->waitForHealthy(names, std::chrono::seconds(60))) {
    return makeError("not every agent registered");
  }
  return f;
}

SentryFleet::~SentryFleet() {
  fleet_.reset();    // agents and coordinator first
  manager_.reset();  // then the units
}

std::string SentryFleet::makeRelease(const std::string& version, const std::string& modeJson) {
  std::string src = work_.file("src-" + version);
  fs::create_directories(src);
  writeFile(src + "/VERSION", version + "\n");
  writeFile(src + "/mode.json", modeJson + "\n");
  std::string archive = work_.file("shop-" + version + ".tar.gz");
  runCommand({"tar", "-czf", archive, "-C", src, "."});
  return archive;
}

Status SentryFleet::installEverywhere(const std::string& version, const std::string& modeJson) {
  std::string archive = makeRelease(version, modeJson);
  auto push = fleet_->cli({"artifact", "push", archive, "--service", "shop", "--version", version});
  if (push.exitCode != 0) return makeError("push " + version + ": " + push.err);
  for (const auto& host : hosts_) {
    auto out = fleet_->cli({"install", "--host", host.name, "--service", "shop", "--version", version});
    if (out.exitCode != 0) {
      return makeError("install " + version + " on " + host.name + ": " + out.err + out.out);
    }
  }
  for (const auto& host : hosts_) {
    if (!waitUntil([&] { return sentryWindows(host.name, version) >= 3; },
                   std::chrono::seconds(90), std::chrono::milliseconds(500))) {
      return makeError("no Sentry counts of " + version + " from " + host.name);
    }
  }
  return {};
}

nlohmann::json SentryFleet::telemetry(const std::string& host) {
  auto out = fleet_->cli({"telemetry", "--host", host, "--service", "shop", "--last", "200", "--json"});
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  return json.is_discarded() ? nlohmann::json::object() : json;
}

int SentryFleet::sentryWindows(const std::string& host, const std::string& release) {
  int n = 0;
  for (const auto& w : telemetry(host).value("windows", nlohmann::json::array())) {
    if (w.value("release", "") != release || !w.contains("sentry")) continue;
    n += w["sentry"].value("sessions", std::uint64_t{0}) > 0;
  }
  return n;
}

std::string SentryFleet::activeRelease(const std::string& host) const {
  std::error_code ec;
  auto target = fs::read_symlink(work_.file(host) + "/current", ec);
  return ec ? "" : target.filename().string();
}

}  // namespace rollgate::testing
