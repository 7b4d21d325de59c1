#include "tests/support/netns/network_lab.h"

#include <unistd.h>

#include <atomic>

#include "tests/support/fleet/process.h"

namespace rollgate::testing {
namespace {

constexpr const char* kIp = "/usr/sbin/ip";

Status ip(std::vector<std::string> args) {
  args.insert(args.begin(), kIp);
  auto out = runCommand(args, {}, std::chrono::seconds(20));
  if (out.exitCode != 0) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    return makeError("`" + line + "` failed (" + std::to_string(out.exitCode) + "): " + out.err);
  }
  return {};
}

}  // namespace

std::string NetworkLab::missingPrerequisite() {
  if (::geteuid() != 0) return "root (network namespaces)";
  if (::access(kIp, X_OK) != 0) return std::string("iproute2 (") + kIp + ")";
  return "";
}

Result<std::unique_ptr<NetworkLab>> NetworkLab::create() {
  static std::atomic<int> counter{0};
  std::unique_ptr<NetworkLab> lab(new NetworkLab());
  lab->prefix_ = "rg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  lab->subnet_ = static_cast<int>(::getpid() % 250);
  lab->bridgeNs_ = lab->prefix_ + "-br";
  if (auto s = ip({"netns", "add", lab->bridgeNs_}); !s) return s.error();
  lab->created_.push_back(lab->bridgeNs_);
  for (auto step : std::vector<std::vector<std::string>>{
           {"-n", lab->bridgeNs_, "link", "add", "br0", "type", "bridge"},
           {"-n", lab->bridgeNs_, "link", "set", "br0", "up"},
           {"-n", lab->bridgeNs_, "link", "set", "lo", "up"}}) {
    if (auto s = ip(step); !s) return s.error();
  }
  return lab;
}

NetworkLab::~NetworkLab() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    runCommand({kIp, "netns", "del", *it}, {}, std::chrono::seconds(20));
  }
}

Result<std::string> NetworkLab::addHost(const std::string& host) {
  const int index = static_cast<int>(hosts_.size());
  if (index >= 250) return makeError("network lab: at most 250 hosts, asked for " + host);
  Host h;
  h.ns = prefix_ + "-" + std::to_string(index);
  h.port = "v" + std::to_string(index);
  h.address = "10.213." + std::to_string(subnet_) + "." + std::to_string(index + 1);
  if (auto s = ip({"netns", "add", h.ns}); !s) return s.error();
  created_.push_back(h.ns);
  for (auto step : std::vector<std::vector<std::string>>{
           {"-n", h.ns, "link", "set", "lo", "up"},
           {"-n", h.ns, "link", "add", "eth0", "type", "veth", "peer", "name", h.port, "netns",
            bridgeNs_},
           {"-n", h.ns, "addr", "add", h.address + "/24", "dev", "eth0"},
           {"-n", h.ns, "link", "set", "eth0", "up"},
           {"-n", bridgeNs_, "link", "set", h.port, "master", "br0"},
           {"-n", bridgeNs_, "link", "set", h.port, "up"}}) {
    if (auto s = ip(step); !s) return s.error();
  }
  hosts_[host] = h;
  return h.address;
}

std::string NetworkLab::address(const std::string& host) const { return hosts_.at(host).address; }

std::string NetworkLab::namespaceOf(const std::string& host) const { return hosts_.at(host).ns; }

std::vector<std::string> NetworkLab::inside(const std::string& host,
                                            std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {kIp, "netns", "exec", hosts_.at(host).ns});
  return argv;
}

Status NetworkLab::cut(const std::string& host) {
  return ip({"-n", bridgeNs_, "link", "set", hosts_.at(host).port, "down"});
}

Status NetworkLab::restore(const std::string& host) {
  return ip({"-n", bridgeNs_, "link", "set", hosts_.at(host).port, "up"});
}

}  // namespace rollgate::testing
