// Test harness: a PRIVATE systemd user manager (real /lib/systemd/systemd --user) with its own
// session D-Bus, for tests that need real units even though PID 1 here is not systemd.
//
//   auto manager = rollgate::testing::UserManager::start();   // Result<unique_ptr<UserManager>>
//   manager.value()->writeUnit("my-app-123.service", "[Service]\nExecStart=...\n");
//   manager.value()->systemctl({"start", "my-app-123.service"});
//   // connect your code to manager.value()->busAddress()
//
// How: a temp dir holds run/ (XDG_RUNTIME_DIR), config/ (XDG_CONFIG_HOME; units go to
// config/systemd/user/). The manager runs as `unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd
// && mkdir /run/systemd/system && exec /lib/systemd/systemd --user'` (so it believes it runs
// under systemd). The session bus is started BY the manager from dbus.socket/dbus.service units
// the harness writes (systemd only registers org.freedesktop.systemd1 on a bus whose dbus units it
// sees running) and listens on unix:path=<run>/bus. start() returns once org.freedesktop.systemd1
// answers. The destructor stops the manager (SIGTERM = exit.target, which stops every unit, then
// SIGKILL after 10 s), and removes the temp dir.
//
// Several managers may run at once (parallel tests): each runs in a fresh cgroup of its own
// (/sys/fs/cgroup/<hierarchy>/rollgate-test-<pid>-<n>, which it treats as its root), so units of
// the same name in two managers never share a cgroup. The destructor also kills whatever is left
// in that cgroup tree and removes it. uniqueUnitName() still helps reading logs.
// Needs root (mount namespace, cgroups) and systemd + dbus installed.
// Thread-safety: one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::testing {

class UserManager {
 public:
  // Empty when the harness can run here, else what is missing (for a skip message outside CI).
  static std::string missingPrerequisite();
  static Result<std::unique_ptr<UserManager>> start();
  ~UserManager();
  UserManager(const UserManager&) = delete;
  UserManager& operator=(const UserManager&) = delete;

  const std::string& busAddress() const { return busAddress_; }  // "unix:path=.../run/bus"
  const std::string& dir() const { return dir_; }                // private temp dir (scratch OK)
  std::string runtimeDir() const { return dir_ + "/run"; }
  std::string unitDir() const { return dir_ + "/config/systemd/user"; }
  pid_t pid() const { return pid_; }

  // "<prefix>-<pid>-<n>.service", unique across concurrently running tests.
  static std::string uniqueUnitName(const std::string& prefix);
  // Writes <unitDir>/<name> and runs daemon-reload.
  Status writeUnit(const std::string& name, const std::string& content);
  Status daemonReload();
  // Runs `systemctl --user <args>` against this manager; fails with its output on non-zero exit.
  Result<std::string> systemctl(const std::vector<std::string>& args);

 private:
  UserManager() = default;
  std::string dir_;
  std::string busAddress_;
  std::vector<std::string> cgroups_;  // this manager's own cgroup in each hierarchy
  pid_t pid_ = -1;
};

// Runs a real nginx (`/usr/sbin/nginx -g 'daemon off;' -p <prefix> -c <conf>`) as a unit of the
// manager, serving `documentRoot` on 127.0.0.1:<free port>. The config, pid, logs and temp dirs
// live under <manager.dir()>/nginx-<unit>/. Start rate limiting is off (tests restart it often). `extraServiceLines` are appended to [Service] (e.g.
// "ExecStartPre=/bin/test -e /srv/current/ok"). Stops the unit in the destructor.
class NginxUnit {
 public:
  static Result<std::unique_ptr<NginxUnit>> start(UserManager& manager,
                                                  const std::string& documentRoot,
                                                  const std::string& extraServiceLines = "");
  ~NginxUnit();
  NginxUnit(const NginxUnit&) = delete;
  NginxUnit& operator=(const NginxUnit&) = delete;

  const std::string& unit() const { return unit_; }
  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const;
  const std::string& prefix() const { return prefix_; }

 private:
  NginxUnit(UserManager& manager) : manager_(manager) {}
  UserManager& manager_;
  std::string unit_;
  std::string prefix_;
  uint16_t port_ = 0;
};

// A free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
Result<uint16_t> freeLoopbackPort();

// GET url with libcurl: the body and status, or an error when nothing answered.
struct HttpResponse {
  long status = 0;
  std::string body;
  std::string location;  // where a redirect points (absolute), not followed
};
Result<HttpResponse> httpGet(const std::string& url, long timeoutMillis = 2000);

}  // namespace rollgate::testing
