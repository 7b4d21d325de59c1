#include "tests/support/fleet/web_fleet.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace rollgate::testing {
namespace fs = std::filesystem;

namespace {

constexpr const char* kEchoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so";

std::string nginxConfig(const std::string& prefix, const std::string& root, int port) {
  return "load_module " + std::string(kEchoModule) + ";\n"
         "worker_processes 1;\nuser root;\npid " + prefix + "/nginx.pid;\n"
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

std::string siteConfig(ReleaseKind kind, const std::string& version) {
  switch (kind) {
    case ReleaseKind::kHealthy:
      return "location = /app { return 200 \"" + version + "\\n\"; }\n";
    case ReleaseKind::kErrors3Percent:
      return "location = /app { if ($fail3) { return 500; } return 200 \"" + version + "\\n\"; }\n";
    case ReleaseKind::kSlower20ms:
      return "location = /app { echo_sleep 0.02; echo \"" + version + "\"; }\n";
  }
  return "";
}

// The unit that runs `server` for one host; its logs go to `prefix`.
std::string unitText(WebServer server, const std::string& host, const std::string& prefix,
                     const std::string& root, int port) {
  std::string text = "[Unit]\nDescription=web on " + host + "\nStartLimitIntervalSec=0\n[Service]\n";
  if (server == WebServer::kNginx) {
    return text + "ExecStart=/usr/sbin/nginx -g 'daemon off;' -p " + prefix + " -c " + prefix +
           "/nginx.conf -e " + prefix + "/error.log\n";
  }
  // A crashing release is restarted at once, as a supervised service would be. systemd wants an
  // absolute path; ROLLGATE_BIN_DIR may be relative.
  std::string app = fs::absolute(binDir() + "/rollgate-fault-app").string();
  return text + "ExecStart=" + app + " --port " + std::to_string(port) +
         " --release " + root + "/current --access-log " + prefix + "/access.log --error-log " +
         prefix + "/error.log\nRestart=on-failure\nRestartSec=200ms\n";
}

}  // namespace

FaultSpec faultSpecOf(ReleaseKind kind) {
  FaultSpec spec;
  if (kind == ReleaseKind::kErrors3Percent) spec.errorShare = 0.03;
  if (kind == ReleaseKind::kSlower20ms) spec.addedLatencyMillis = 20;
  return spec;
}

std::string WebFleet::missingPrerequisite(WebServer server) {
  if (auto missing = UserManager::missingPrerequisite(); !missing.empty()) return missing;
  if (server == WebServer::kFaultApp) {
    std::string app = binDir() + "/rollgate-fault-app";
    return ::access(app.c_str(), X_OK) == 0 ? "" : "the fault app " + app + " (not built)";
  }
  if (::access(kEchoModule, R_OK) != 0) return std::string("nginx echo module ") + kEchoModule;
  return "";
}

Result<std::unique_ptr<WebFleet>> WebFleet::start(const std::vector<WebHostSpec>& hosts,
                                                  Options options) {
  std::unique_ptr<WebFleet> web(new WebFleet());
  web->hosts_ = hosts;
  web->options_ = options;
  auto manager = UserManager::start();
  if (!manager) return manager.error();
  web->manager_ = std::move(*manager);
  web->fleet_ = std::make_unique<LocalFleet>("heartbeat_seconds = 1\nhost_timeout_seconds = 4\n"
                                             "window_seconds = " + std::to_string(options.windowSeconds) + "\n" +
                                             options.coordinatorExtraToml,
                                             options.shared);
  web->fleet_->startCoordinator();
  if (!web->fleet_->waitForCoordinator()) return makeError("the coordinator did not start");
  for (const auto& host : hosts) {
    std::string root = web->work_.file(host.name);
    bool nginx = options.server == WebServer::kNginx;
    std::string prefix = root + (nginx ? "/nginx" : "/app");
    fs::create_directories(prefix + "/tmp");
    int port = freePort();
    web->ports_.push_back(port);
    if (nginx) writeFile(prefix + "/nginx.conf", nginxConfig(prefix, root, port));
    std::string unit = "web-" + host.name + "-" + std::to_string(::getpid()) + ".service";
    std::string text = unitText(options.server, host.name, prefix, root, port) +
                       options.unitServiceExtra;
    if (auto s = web->manager_->writeUnit(unit, text); !s) return s.error();
    AgentSpec spec(host.name, host.region, host.cluster);
    spec.extraToml = "systemd = \"user\"\nwindow_seconds = " + std::to_string(options.windowSeconds) +
                     "\n\n[[service]]\nname = \"web\"\nunit = \"" + unit + "\"\ninstall_root = \"" +
                     root + "\"\naccess_log = \"" + prefix + "/access.log\"\n"
                     "access_log_format = \"combined_rt\"\nerror_log = \"" + prefix +
                     "/error.log\"\nhealth_url = \"http://127.0.0.1:" + std::to_string(port) +
                     "/health\"\nhealth_timeout_seconds = 15\n" +
                     (options.serviceExtraToml ? options.serviceExtraToml(host) : std::string());
    web->fleet_->addAgent(spec);
    web->startAgent(host.name);
  }
  std::vector<std::string> names;
  for (const auto& host : hosts) names.push_back(host.name);
  if (!web->fleet_->waitForHealthy(names, std::chrono::seconds(60))) {
    return makeError("not every agent registered");
  }
  return web;
}

WebFleet::~WebFleet() {
  stopLoad();
  fleet_.reset();    // agents and coordinator first
  manager_.reset();  // then the units
}

void WebFleet::startAgent(const std::string& host) {
  fleet_->startAgent(host, {{"DBUS_SESSION_BUS_ADDRESS", manager_->busAddress()},
                            {"XDG_RUNTIME_DIR", manager_->runtimeDir()}});
}

std::string WebFleet::makeRelease(const std::string& version, ReleaseKind kind,
                                  const std::string& extraSite) {
  if (options_.server == WebServer::kFaultApp) return makeRelease(version, faultSpecOf(kind));
  return packRelease(version, {{"site.conf", siteConfig(kind, version) + extraSite}});
}

std::string WebFleet::makeRelease(const std::string& version, const FaultSpec& fault) {
  ROLLGATE_CHECK(options_.server == WebServer::kFaultApp, "a fault spec needs the fault app");
  return packRelease(version, {{"fault.json", faultSpecJson(fault)}});
}

std::string WebFleet::packRelease(const std::string& version,
                                  const std::vector<std::pair<std::string, std::string>>& files) {
  std::string src = work_.file("src-" + version);
  fs::create_directories(src);
  for (const auto& [name, content] : files) writeFile(src + "/" + name, content);
  writeFile(src + "/health", "ok\n");
  writeFile(src + "/VERSION", version + "\n");
  std::string archive = work_.file("web-" + version + ".tar.gz");
  runCommand({"tar", "-czf", archive, "-C", src, "."});
  return archive;
}

Status WebFleet::installEverywhere(const std::string& version, ReleaseKind kind,
                                   const std::string& extraSite) {
  std::string archive = makeRelease(version, kind, extraSite);
  auto push = fleet_->cli({"artifact", "push", archive, "--service", "web", "--version", version});
  if (push.exitCode != 0) return makeError("push " + version + ": " + push.err);
  for (const auto& host : hosts_) {
    auto out = fleet_->cli({"install", "--host", host.name, "--service", "web", "--version", version});
    if (out.exitCode != 0) return makeError("install " + version + " on " + host.name + ": " + out.err + out.out);
  }
  // Hosts report their new release with the next heartbeat.
  waitUntil([&] {
    auto json = fleet_->hosts();
    if (!json.contains("hosts")) return false;
    std::size_t done = 0;
    for (const auto& host : json["hosts"]) {
      for (const auto& s : host["services"]) done += s.value("active_release", "") == version;
    }
    return done == hosts_.size();
  });
  return {};
}

void WebFleet::startLoad() {
  std::vector<std::string> urls;
  for (int port : ports_) urls.push_back("http://127.0.0.1:" + std::to_string(port) + "/app");
  load_.start(urls, options_.requestsPerSecond);
}

void WebFleet::stopLoad() { load_.stop(); }

int WebFleet::port(const std::string& host) const {
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].name == host) return ports_[i];
  }
  return -1;
}

std::string WebFleet::activeRelease(const std::string& host) const {
  std::error_code ec;
  auto target = fs::read_symlink(work_.file(host) + "/current", ec);
  return ec ? "" : target.filename().string();
}

}  // namespace rollgate::testing
