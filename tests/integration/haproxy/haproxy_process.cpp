#include "tests/integration/haproxy/haproxy_process.h"

#include <unistd.h>

namespace rollgate::testing {

std::string HaproxyProcess::missingPrerequisite() {
  if (::access(kBinary, X_OK) != 0) return std::string("haproxy (") + kBinary + ")";
  return "";
}

HaproxyProcess::HaproxyProcess(int port, const std::string& socketPath)
    : socket_(socketPath.empty() ? dir_.file("admin.sock") : socketPath),
      port_(port),
      runtime_(*lb::parseRuntimeAddress(socket_)) {}

Result<std::unique_ptr<HaproxyProcess>> HaproxyProcess::start(
    const std::vector<HaproxyServer>& servers, bool checks, const std::string& socketPath) {
  std::unique_ptr<HaproxyProcess> haproxy(new HaproxyProcess(freePort(), socketPath));
  haproxy->servers_ = servers;
  const int port = haproxy->port_;
  std::string config =
      "global\n"
      "  stats socket " +
      haproxy->socket_ +
      " mode 600 level admin\n"
      "  stats timeout 10s\n"
      "defaults\n"
      "  mode http\n"
      "  retries 1\n"
      "  timeout connect 500ms\n"
      "  timeout client 10s\n"
      "  timeout server 10s\n"
      "frontend fe\n"
      "  bind 127.0.0.1:" +
      std::to_string(port) +
      "\n"
      "  default_backend " +
      kBackend +
      "\n"
      "backend " +
      kBackend +
      "\n"
      "  balance roundrobin\n" +
      (checks ? "  option httpchk GET /health\n"
                "  default-server check inter 300ms fall 2 rise 2 weight 100\n"
              : "");
  for (const auto& server : servers) {
    config += "  server " + server.name + " 127.0.0.1:" + std::to_string(server.port) + "\n";
  }
  std::string path = haproxy->dir_.file("haproxy.cfg");
  writeFile(path, config);
  auto check = runCommand({kBinary, "-c", "-f", path});
  if (check.exitCode != 0) return makeError("haproxy -c: " + check.out + check.err);
  haproxy->process_ =
      Process::spawn({kBinary, "-db", "-f", path}, haproxy->dir_.file("haproxy.log"));
  if (!waitUntil([&] { return haproxy->runtime_.execute("show info").ok(); })) {
    return makeError("haproxy did not open its runtime socket " + haproxy->socket_ +
                     "; log: " + readFile(haproxy->dir_.file("haproxy.log")));
  }
  return haproxy;
}

std::string HaproxyProcess::frontendUrl(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<std::string> HaproxyProcess::serversNotReady() const {
  std::vector<std::string> out;
  for (const auto& server : servers_) {
    auto state = runtime_.state(kBackend, server.name);
    if (!state) {
      out.push_back(server.name + " (" + state.error().message + ")");
    } else if (state->adminState & (lb::kAdminForcedMaint | lb::kAdminInheritedMaint)) {
      out.push_back(server.name + " (maint)");
    } else if (state->adminState & (lb::kAdminForcedDrain | lb::kAdminInheritedDrain)) {
      out.push_back(server.name + " (drain)");
    }
  }
  return out;
}

bool HaproxyProcess::waitAllUp() const {
  return waitUntil(
      [&] {
        for (const auto& server : servers_) {
          auto stat = runtime_.stat(kBackend, server.name);
          if (!stat || !lb::statusTakesTraffic(stat->status)) return false;
        }
        return true;
      },
      std::chrono::seconds(60));
}

}  // namespace rollgate::testing
