#include "tests/support/systemd/user_manager.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/sys/error.h"

namespace rollgate::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> managerEnvironment(const std::string& dir, const std::string& bus) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string v = *e;
    if (v.starts_with("XDG_") || v.starts_with("DBUS_SESSION_BUS_ADDRESS=") ||
        v.starts_with("NOTIFY_SOCKET=") || v.starts_with("LISTEN_") ||
        v.starts_with("INVOCATION_ID=") || v.starts_with("MANAGERPID="))
      continue;
    env.push_back(v);
  }
  env.push_back("XDG_RUNTIME_DIR=" + dir + "/run");
  env.push_back("XDG_CONFIG_HOME=" + dir + "/config");
  env.push_back("XDG_DATA_HOME=" + dir + "/data");
  env.push_back("XDG_STATE_HOME=" + dir + "/state");
  env.push_back("XDG_CACHE_HOME=" + dir + "/cache");
  env.push_back("DBUS_SESSION_BUS_ADDRESS=" + bus);
  return env;
}

// fork + exec with a given environment; stdout/stderr to `outputPath` ("" = inherit).
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& outputPath, bool newSession,
                    const std::vector<std::string>& cgroupProcsFiles = {}) {
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int outFd = -1;
  if (!outputPath.empty()) {
    outFd = ::open(outputPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (outFd < 0) return makeError(outputPath + ": " + sys::errnoMessage(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) return makeError(std::string("fork: ") + sys::errnoMessage(errno));
  if (pid == 0) {
    for (const auto& procs : cgroupProcsFiles) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        (void)!::write(fd, "0", 1);
        ::close(fd);
      }
    }
    if (newSession) ::setsid();
    if (outFd >= 0) {
      ::dup2(outFd, 1);
      ::dup2(outFd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  if (outFd >= 0) ::close(outFd);
  return pid;
}

// One fresh cgroup per manager in every mounted hierarchy, so that concurrently running managers
// (which each treat their own cgroup as the root of their tree) never share a unit's cgroup:
// otherwise stopping one manager's dbus.service kills the other's bus daemon.
std::vector<std::string> makeCgroups(const std::string& name) {
  std::vector<std::string> dirs;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::vector<std::string> mounts;
    if (controllers.empty()) {
      mounts = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
    } else if (controllers.starts_with("name=")) {
      mounts = {"/sys/fs/cgroup/" + controllers.substr(5)};
    } else {
      mounts = {"/sys/fs/cgroup/" + controllers};
    }
    for (const auto& mount : mounts) {
      if (::access((mount + "/cgroup.procs").c_str(), W_OK) != 0) continue;
      std::string dir = mount + "/" + name;
      if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) dirs.push_back(dir);
      break;
    }
  }
  return dirs;
}

// Kills every process left in the cgroup trees, then removes them bottom-up.
void removeCgroups(const std::vector<std::string>& dirs) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    bool left = false;
    for (const auto& dir : dirs) {
      std::vector<fs::path> tree;
      std::error_code ec;
      if (!fs::exists(dir, ec)) continue;
      tree.push_back(dir);
      for (auto it = fs::recursive_directory_iterator(dir, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) tree.push_back(it->path());
      }
      for (auto t = tree.rbegin(); t != tree.rend(); ++t) {
        std::ifstream procs(*t / "cgroup.procs");
        pid_t pid;
        while (procs >> pid) {
          ::kill(pid, SIGKILL);
          left = true;
        }
        if (::rmdir(t->c_str()) != 0 && errno != ENOENT) left = true;
      }
    }
    if (!left || Clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool managerOnBus(const std::string& address) {
  sd_bus* bus = nullptr;
  if (sd_bus_new(&bus) < 0) return false;
  bool ok = sd_bus_set_address(bus, address.c_str()) >= 0 && sd_bus_set_bus_client(bus, 1) >= 0 &&
            sd_bus_start(bus) >= 0;
  int has = 0;
  if (ok) {
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s",
                           "org.freedesktop.systemd1") >= 0) {
      sd_bus_message_read(reply, "b", &has);
      sd_bus_message_unref(reply);
    }
    sd_bus_error_free(&error);
  }
  sd_bus_flush_close_unref(bus);
  return ok && has;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Status writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) return makeError(path + ": cannot write");
  return {};
}

}  // namespace

std::string UserManager::missingPrerequisite() {
  if (::geteuid() != 0) return "root (mount namespace for the private systemd manager)";
  for (const char* path : {"/lib/systemd/systemd", "/usr/bin/dbus-daemon", "/usr/bin/unshare",
                           "/usr/bin/systemctl"}) {
    if (::access(path, X_OK) != 0) return path;
  }
  return "";
}

std::string UserManager::uniqueUnitName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
         ".service";
}

Result<std::unique_ptr<UserManager>> UserManager::start() {
  if (auto missing = missingPrerequisite(); !missing.empty()) {
    return makeError("cannot start a systemd user manager: missing " + missing);
  }
  std::unique_ptr<UserManager> m(new UserManager());
  char tmpl[] = "/tmp/rollgate-sdtest-XXXXXX";
  if (!::mkdtemp(tmpl)) return makeError(std::string("mkdtemp: ") + sys::errnoMessage(errno));
  m->dir_ = tmpl;
  m->busAddress_ = "unix:path=" + m->runtimeDir() + "/bus";
  std::error_code ec;
  fs::create_directories(m->unitDir(), ec);
  fs::create_directories(m->runtimeDir(), ec);
  ::chmod(m->runtimeDir().c_str(), 0700);
  // Our own bus units: do not depend on the dbus-user-session package being installed.
  if (auto s = writeFile(m->unitDir() + "/dbus.socket",
                         "[Unit]\nDescription=test session bus socket\n"
                         "[Socket]\nListenStream=%t/bus\n");
      !s)
    return s.error();
  if (auto s = writeFile(m->unitDir() + "/dbus.service",
                         "[Unit]\nDescription=test session bus\nRequires=dbus.socket\n"
                         "[Service]\nExecStart=/usr/bin/dbus-daemon --session --address=systemd: "
                         "--nofork --nopidfile --systemd-activation\n");
      !s)
    return s.error();
  static std::atomic<int> managers{0};
  m->cgroups_ = makeCgroups("rollgate-test-" + std::to_string(::getpid()) + "-" +
                            std::to_string(++managers));
  std::vector<std::string> procsFiles;
  for (const auto& dir : m->cgroups_) procsFiles.push_back(dir + "/cgroup.procs");
  auto pid = spawn({"/usr/bin/unshare", "-m", "sh", "-c",
                    "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && "
                    "exec /lib/systemd/systemd --user"},
                   managerEnvironment(m->dir_, m->busAddress_), m->dir_ + "/manager.log", true,
                   procsFiles);
  if (!pid) return pid.error();
  m->pid_ = *pid;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!managerOnBus(m->busAddress_)) {
    int status = 0;
    if (::waitpid(m->pid_, &status, WNOHANG) == m->pid_) {
      m->pid_ = -1;
      return makeError("systemd --user exited during start-up: " +
                       readFile(m->dir_ + "/manager.log"));
    }
    if (Clock::now() > deadline) {
      return makeError("systemd --user did not appear on " + m->busAddress_ +
                       " within 30 s: " + readFile(m->dir_ + "/manager.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return m;
}

UserManager::~UserManager() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  removeCgroups(cgroups_);
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Result<std::string> UserManager::systemctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/systemctl", "--user", "--no-pager"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string output = dir_ + "/systemctl.out";
  auto pid = spawn(argv, managerEnvironment(dir_, busAddress_), output, false);
  if (!pid) return pid.error();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string text = readFile(output);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    return makeError("systemctl --user" + cmd + " failed: " + text);
  }
  return text;
}

Status UserManager::daemonReload() {
  auto r = systemctl({"daemon-reload"});
  if (!r) return r.error();
  return {};
}

Status UserManager::writeUnit(const std::string& name, const std::string& content) {
  if (auto s = writeFile(unitDir() + "/" + name, content); !s) return s;
  return daemonReload();
}

Result<uint16_t> freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("socket: ") + sys::errnoMessage(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return makeError(std::string("bind 127.0.0.1:0: ") + sys::errnoMessage(err));
  }
  ::close(fd);
  return static_cast<uint16_t>(ntohs(addr.sin_port));
}

Result<HttpResponse> httpGet(const std::string& url, long timeoutMillis) {
  CURL* curl = curl_easy_init();
  if (!curl) return makeError("curl_easy_init failed");
  HttpResponse response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeoutMillis);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                   +[](char* data, size_t size, size_t count, void* user) -> size_t {
                     static_cast<std::string*>(user)->append(data, size * count);
                     return size * count;
                   });
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    char* location = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
      response.location = location;
    }
  }
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return makeError(url + ": " + curl_easy_strerror(rc));
  return response;
}

Result<std::unique_ptr<NginxUnit>> NginxUnit::start(UserManager& manager,
                                                    const std::string& documentRoot,
                                                    const std::string& extraServiceLines) {
  if (::access("/usr/sbin/nginx", X_OK) != 0) return makeError("missing /usr/sbin/nginx");
  std::unique_ptr<NginxUnit> n(new NginxUnit(manager));
  n->unit_ = UserManager::uniqueUnitName("rollgate-test-nginx");
  n->prefix_ = manager.dir() + "/nginx-" + n->unit_;
  std::error_code ec;
  fs::create_directories(n->prefix_ + "/tmp", ec);
  if (ec) return makeError(n->prefix_ + ": " + ec.message());
  auto port = freeLoopbackPort();
  if (!port) return port.error();
  n->port_ = *port;
  const std::string& p = n->prefix_;
  std::string conf =
      "worker_processes 1;\nuser root;\npid " + p + "/nginx.pid;\nerror_log " + p +
      "/error.log;\nevents { worker_connections 64; }\nhttp {\n  access_log " + p +
      "/access.log;\n  default_type text/plain;\n  client_body_temp_path " + p +
      "/tmp/body;\n  proxy_temp_path " + p + "/tmp/proxy;\n  server {\n    listen 127.0.0.1:" +
      std::to_string(n->port_) + ";\n    root " + documentRoot +
      ";\n    location / { }\n  }\n}\n";
  if (auto s = writeFile(p + "/nginx.conf", conf); !s) return s.error();
  std::string unit = "[Unit]\nDescription=rollgate test nginx\nStartLimitIntervalSec=0\n[Service]\n"
                     "ExecStart=/usr/sbin/nginx -g 'daemon off;' -p " + p + " -c " + p +
                     "/nginx.conf -e " + p + "/error.log\n" + extraServiceLines + "\n";
  if (auto s = manager.writeUnit(n->unit_, unit); !s) return s.error();
  if (auto r = manager.systemctl({"start", n->unit_}); !r) return r.error();
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!httpGet(n->url("/"), 500)) {
    if (Clock::now() > deadline) {
      return makeError("nginx unit " + n->unit_ + " did not answer on port " +
                       std::to_string(n->port_) + ": " + readFile(p + "/error.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return n;
}

NginxUnit::~NginxUnit() { (void)manager_.systemctl({"stop", unit_}); }

std::string NginxUnit::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace rollgate::testing
