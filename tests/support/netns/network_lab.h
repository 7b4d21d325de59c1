// NetworkLab: a private network of Linux network namespaces on one machine, for tests of several
// hosts that must be cut off from each other. Each host gets a namespace `rg-<pid>-<n>-<i>` with
// loopback up and one interface `eth0` (a veth pair) whose peer `v<i>` sits on the bridge `br0`
// in the lab's own namespace `rg-<pid>-<n>-br`. Addresses are 10.213.<pid % 250>.<i + 1>/24 and
// exist only inside these namespaces: no route from the root namespace, nothing leaves the machine.
// cut() sets the host's bridge-side port down (the host keeps its address; its packets go nowhere)
// and restore() brings it back. The destructor deletes every namespace it made (which also deletes
// the veth pairs and the bridge), so a failing test leaves nothing behind; stop the processes
// running inside first. Names are unique per process and lab, so parallel test processes never
// clash. Needs root and iproute2 (`ip`).
// Thread-safety: none; one test thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::testing {

class NetworkLab {
 public:
  // Empty when labs can be made here, else what is missing (for a skip message outside CI).
  static std::string missingPrerequisite();
  static Result<std::unique_ptr<NetworkLab>> create();
  ~NetworkLab();
  NetworkLab(const NetworkLab&) = delete;
  NetworkLab& operator=(const NetworkLab&) = delete;

  // Adds a host namespace joined to the bridge; returns its address ("10.213.x.y").
  Result<std::string> addHost(const std::string& host);
  std::string address(const std::string& host) const;
  std::string namespaceOf(const std::string& host) const;
  // argv run inside the host's namespace: `ip netns exec <ns> argv...`.
  std::vector<std::string> inside(const std::string& host, std::vector<std::string> argv) const;
  Status cut(const std::string& host);
  Status restore(const std::string& host);

 private:
  NetworkLab() = default;
  struct Host {
    std::string ns;
    std::string port;  // bridge-side veth name
    std::string address;
  };
  std::string prefix_;
  std::string bridgeNs_;
  int subnet_ = 0;
  std::map<std::string, Host> hosts_;
  std::vector<std::string> created_;  // namespaces to delete
};

}  // namespace rollgate::testing
