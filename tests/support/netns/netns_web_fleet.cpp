#include "tests/support/netns/netns_web_fleet.h"

#include "tests/support/fleet/fleet.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace rollgate::testing {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCoordinator = "coordinator";

Status checked(const CommandOutput& out, const std::string& what) {
  if (out.exitCode != 0) {
    return makeError(what + " failed (" + std::to_string(out.exitCode) + "): " + out.err + out.out);
  }
  return {};
}

std::string nginxConfig(const std::string& prefix, const std::string& root, int port) {
  return "worker_processes 1;\nuser root;\npid " + prefix + "/nginx.pid;\n"
         "error_log " + prefix + "/error.log;\n"
         "events { worker_connections 256; }\n"
         "http {\n"
         "  log_format rt '$remote_addr - $remote_user [$time_local] \"$request\" $status "
         "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time';\n"
         "  access_log " + prefix + "/access.log rt;\n"
         "  default_type text/plain;\n"
         "  client_body_temp_path " + prefix + "/tmp/body;\n"
         "  proxy_temp_path " + prefix + "/tmp/proxy;\n"
         "  split_clients \"${request_id}\" $fail3 { 3% 1; * 0; }\n"
         "  server {\n"
         "    listen 127.0.0.1:" + std::to_string(port) + ";\n"
         "    root " + root + "/current;\n"
         "    include " + root + "/current/site.conf;\n"
         "  }\n"
         "}\n";
}

}  // namespace

std::string NetnsWebFleet::missingPrerequisite() {
  if (auto missing = NetworkLab::missingPrerequisite(); !missing.empty()) return missing;
  if (auto missing = UserManager::missingPrerequisite(); !missing.empty()) return missing;
  if (::access("/usr/sbin/nginx", X_OK) != 0) return "nginx (/usr/sbin/nginx)";
  return "";
}

Result<std::unique_ptr<NetnsWebFleet>> NetnsWebFleet::start(const std::vector<NetnsHostSpec>& hosts,
                                                            Options options) {
  std::unique_ptr<NetnsWebFleet> web(new NetnsWebFleet());
  web->hosts_ = hosts;
  web->options_ = options;
  auto lab = NetworkLab::create();
  if (!lab) return lab.error();
  web->lab_ = std::move(*lab);
  auto coordinatorAddress = web->lab_->addHost(kCoordinator);
  if (!coordinatorAddress) return coordinatorAddress.error();
  web->coordinatorAddress_ = *coordinatorAddress;
  auto manager = UserManager::start();
  if (!manager) return manager.error();
  web->manager_ = std::move(*manager);

  const TempDir& dir = web->work_;
  const std::string bin = binDir();
  if (auto s = checked(runCommand({bin + "/rollgate", "keygen", "--out", dir.file("coordinator")}),
                       "coordinator keygen");
      !s) {
    return s.error();
  }
  if (auto s = checked(runCommand({bin + "/rollgate", "keygen", "--out", dir.file("admin")}),
                       "operator keygen");
      !s) {
    return s.error();
  }
  ::mkdir(dir.file("admins.d").c_str(), 0755);
  ::mkdir(dir.file("agents.d").c_str(), 0755);
  writeFile(dir.file("admins.d/admin.pub"), readFile(dir.file("admin.pub")));
  const std::string endpoint = "tcp://" + web->coordinatorAddress_ + ":";
  std::string config = "[coordinator]\n";
  config += "agent_endpoint = \"" + endpoint + "7400\"\n";
  config += "admin_endpoint = \"" + endpoint + "7401\"\n";
  config += "broadcast_endpoint = \"" + endpoint + "7402\"\n";
  config += "key = \"" + dir.file("coordinator.key") + "\"\n";
  config += "agents_dir = \"" + dir.file("agents.d") + "\"\n";
  config += "admins_dir = \"" + dir.file("admins.d") + "\"\n";
  config += "state_dir = \"" + dir.file("state") + "\"\n";
  config += "heartbeat_seconds = 1\nhost_timeout_seconds = 4\nwindow_seconds = " +
            std::to_string(options.windowSeconds) + "\n";
  writeFile(dir.file("coordinator.toml"), config);
  web->coordinator_ = Process::spawn(
      web->lab_->inside(kCoordinator, {bin + "/rollgate-coordinator", "--config",
                                       dir.file("coordinator.toml")}),
      web->coordinatorLog());
  if (!waitUntil([&] { return web->cli({"hosts", "--json", "--timeout", "1"}).exitCode == 0; },
                 std::chrono::seconds(30), std::chrono::milliseconds(100))) {
    return makeError("the coordinator did not answer on " + endpoint + "7401: " +
                     readFile(web->coordinatorLog()));
  }

  for (const auto& host : hosts) {
    auto address = web->lab_->addHost(host.name);
    if (!address) return address.error();
    std::string root = dir.file(host.name);
    std::string prefix = root + "/nginx";
    fs::create_directories(prefix + "/tmp");
    int port = freePort();
    web->ports_.push_back(port);
    writeFile(prefix + "/nginx.conf", nginxConfig(prefix, root, port));
    std::string unit = UserManager::uniqueUnitName("web-" + host.name);
    std::string unitText = "[Unit]\nDescription=web on " + host.name +
                           "\nStartLimitIntervalSec=0\n[Service]\nExecStart=/usr/sbin/nginx -g "
                           "'daemon off;' -p " + prefix + " -c " + prefix + "/nginx.conf -e " +
                           prefix + "/error.log\n";
    if (auto s = web->manager_->writeUnit(unit, unitText); !s) return s.error();

    const std::string key = dir.file(host.name);
    if (auto s = checked(runCommand({bin + "/rollgate-agent", "keygen", "--out", key}), "agent keygen");
        !s) {
      return s.error();
    }
    std::string agent = "[agent]\n";
    agent += "host = \"" + host.name + "\"\nregion = \"" + host.region + "\"\ncluster = \"" +
             host.cluster + "\"\n";
    agent += "coordinator = \"" + endpoint + "7400\"\nbroadcast = \"" + endpoint + "7402\"\n";
    agent += "coordinator_key = \"" + dir.file("coordinator.pub") + "\"\n";
    agent += "key = \"" + key + ".key\"\nstate_dir = \"" + dir.file(host.name + "-state") + "\"\n";
    agent += "heartbeat_seconds = 1\nsystemd = \"user\"\nwindow_seconds = " +
             std::to_string(options.windowSeconds) + "\n\n[[service]]\nname = \"web\"\nunit = \"" +
             unit + "\"\ninstall_root = \"" + root + "\"\naccess_log = \"" + prefix +
             "/access.log\"\naccess_log_format = \"combined_rt\"\nerror_log = \"" + prefix +
             "/error.log\"\n";
    writeFile(dir.file(host.name + ".toml"), agent);
    if (auto s = checked(web->cli({"hosts", "enroll", host.name, key + ".pub"}), "enroll " + host.name);
        !s) {
      return s.error();
    }
    web->startAgent(host.name);
  }
  std::vector<std::string> names;
  for (const auto& host : hosts) names.push_back(host.name);
  if (!web->waitForHealthy(names, std::chrono::seconds(60))) {
    return makeError("not every agent registered: " + web->hostsJson().dump());
  }
  return web;
}

NetnsWebFleet::~NetnsWebFleet() {
  stopLoad();
  for (auto& [name, agent] : agents_) agent.stop(std::chrono::seconds(5));
  coordinator_.stop(std::chrono::seconds(5));
  manager_.reset();  // the units, before the namespaces go
  lab_.reset();
}

void NetnsWebFleet::startAgent(const std::string& host) {
  agents_[host] = Process::spawn(
      lab_->inside(host, {binDir() + "/rollgate-agent", "--config", work_.file(host + ".toml")}),
      agentLog(host),
      {{"DBUS_SESSION_BUS_ADDRESS", manager_->busAddress()}, {"XDG_RUNTIME_DIR", manager_->runtimeDir()}});
}

CommandOutput NetnsWebFleet::cli(std::vector<std::string> args) const {
  args.insert(args.begin(), binDir() + "/rollgate");
  return runCommand(lab_->inside(kCoordinator, args),
                    {{"ROLLGATE_ADMIN", "tcp://" + coordinatorAddress_ + ":7401"},
                     {"ROLLGATE_KEY", work_.file("admin.key")},
                     {"ROLLGATE_COORDINATOR_KEY", work_.file("coordinator.pub")}});
}

nlohmann::json NetnsWebFleet::hostsJson() const {
  auto out = cli({"hosts", "--json", "--timeout", "5"});
  if (out.exitCode != 0) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(out.out, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json::object() : parsed;
}

bool NetnsWebFleet::waitForHealthy(const std::vector<std::string>& names,
                                   std::chrono::milliseconds timeout) const {
  return waitUntil([&] { return allHealthy(hostsJson(), names); }, timeout,
                   std::chrono::milliseconds(200));
}

std::string NetnsWebFleet::makeRelease(const std::string& version, NetnsRelease kind) {
  std::string src = work_.file("src-" + version);
  fs::create_directories(src);
  writeFile(src + "/site.conf",
            kind == NetnsRelease::kHealthy
                ? "location = /app { return 200 \"" + version + "\\n\"; }\n"
                : "location = /app { if ($fail3) { return 500; } return 200 \"" + version + "\\n\"; }\n");
  writeFile(src + "/health", "ok\n");
  writeFile(src + "/VERSION", version + "\n");
  std::string archive = work_.file("web-" + version + ".tar.gz");
  runCommand({"tar", "-czf", archive, "-C", src, "."});
  return archive;
}

Status NetnsWebFleet::installEverywhere(const std::string& version) {
  std::string archive = makeRelease(version, NetnsRelease::kHealthy);
  if (auto s = checked(cli({"artifact", "push", archive, "--service", "web", "--version", version}),
                       "push " + version);
      !s) {
    return s;
  }
  for (const auto& host : hosts_) {
    if (auto s = checked(cli({"install", "--host", host.name, "--service", "web", "--version", version}),
                         "install " + version + " on " + host.name);
        !s) {
      return s;
    }
  }
  bool reported = waitUntil([&] {
    auto json = hostsJson();
    if (!json.contains("hosts")) return false;
    std::size_t done = 0;
    for (const auto& host : json["hosts"]) {
      for (const auto& s : host["services"]) done += s.value("active_release", "") == version;
    }
    return done == hosts_.size();
  });
  if (!reported) return makeError("not every host reported " + version + ": " + hostsJson().dump());
  return {};
}

void NetnsWebFleet::startLoad() {
  std::vector<std::string> urls;
  for (int port : ports_) urls.push_back("http://127.0.0.1:" + std::to_string(port) + "/app");
  load_.start(urls, options_.requestsPerSecond);
}

void NetnsWebFleet::stopLoad() { load_.stop(); }

std::string NetnsWebFleet::activeRelease(const std::string& host) const {
  std::error_code ec;
  auto target = fs::read_symlink(work_.file(host) + "/current", ec);
  return ec ? "" : target.filename().string();
}

}  // namespace rollgate::testing
