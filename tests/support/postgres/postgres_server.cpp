#include "tests/support/postgres/postgres_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace rollgate::testing {
namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

std::string bin(const char* name) { return std::string(kBin) + "/" + name; }

}  // namespace

std::string PostgresServer::missingPrerequisite() {
  if (::geteuid() != 0) return "root (to run PostgreSQL as the postgres user)";
  if (::access(bin("initdb").c_str(), X_OK) != 0) return bin("initdb") + " (package postgresql)";
  if (::getpwnam("postgres") == nullptr) return "the postgres user (package postgresql)";
  if (::access("/usr/sbin/runuser", X_OK) != 0) return "/usr/sbin/runuser";
  return "";
}

Status PostgresServer::pgctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/sbin/runuser", "-u", "postgres", "--", bin("pg_ctl"), "-D",
                                dir_.file("data"), "-l", logPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = runCommand(argv, {}, std::chrono::seconds(60));
  if (out.exitCode != 0) {
    return makeError("pg_ctl " + args.front() + " failed: " + out.err + out.out + "\n" +
                     readFile(logPath()));
  }
  return {};
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  struct passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) return makeError("no postgres user");
  const std::string root = server->dir_.path();
  std::filesystem::permissions(root, std::filesystem::perms::owner_all |
                                         std::filesystem::perms::group_exec |
                                         std::filesystem::perms::others_exec);
  writeFile(server->dir_.file("pwfile"), std::string(kPassword) + "\n");
  writeFile(server->logPath(), "");
  for (const char* name : {"pwfile", "postgres.log"}) {
    if (::chown(server->dir_.file(name).c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return makeError("chown " + server->dir_.file(name));
    }
  }
  std::filesystem::create_directory(server->dir_.file("data"));
  std::filesystem::create_directory(server->dir_.file("run"));
  for (const char* name : {"data", "run"}) {
    if (::chown(server->dir_.file(name).c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return makeError("chown " + server->dir_.file(name));
    }
  }
  auto init = runCommand({"/usr/sbin/runuser", "-u", "postgres", "--", bin("initdb"), "-D",
                          server->dir_.file("data"), "-U", "rollgate", "--auth=scram-sha-256",
                          "--pwfile=" + server->dir_.file("pwfile"), "--no-sync", "-E", "UTF8"},
                         {}, std::chrono::seconds(120));
  if (init.exitCode != 0) return makeError("initdb failed: " + init.err + init.out);
  server->port_ = freePort();
  const std::string options = "-p " + std::to_string(server->port_) +
                              " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" +
                              server->dir_.file("run") + " -c fsync=off -c max_connections=200";
  writeFile(server->dir_.file("options"), options);
  if (auto s = server->pgctl({"start", "-w", "-o", options}); !s) return s.error();
  server->running_ = true;
  if (auto s = server->createDatabase("rollgate"); !s) return s.error();
  return server;
}

PostgresServer::~PostgresServer() {
  if (running_) (void)pgctl({"stop", "-m", "immediate", "-w"});
}

std::string PostgresServer::url(int port, const std::string& database) const {
  return "postgresql://rollgate:" + std::string(kPassword) + "@127.0.0.1:" +
         std::to_string(port == 0 ? port_ : port) + "/" + database;
}

Status PostgresServer::createDatabase(const std::string& name) {
  auto out = runCommand({"/usr/bin/psql", "-v", "ON_ERROR_STOP=1", url(0, "postgres"), "-c",
                         "CREATE DATABASE \"" + name + "\""});
  if (out.exitCode != 0) return makeError("CREATE DATABASE " + name + ": " + out.err);
  return {};
}

Status PostgresServer::stop() {
  if (!running_) return {};
  running_ = false;
  return pgctl({"stop", "-m", "fast", "-w"});
}

Status PostgresServer::restart() {
  if (running_) {
    if (auto s = stop(); !s) return s;
  }
  if (auto s = pgctl({"start", "-w", "-o", readFile(dir_.file("options"))}); !s) return s;
  running_ = true;
  return {};
}

TcpProxy::TcpProxy(int targetPort) : targetPort_(targetPort) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listenFd_, 64);
  socklen_t len = sizeof(addr);
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  ::close(listenFd_);
}

void TcpProxy::run() {
  struct Pair {
    int client;
    int server;
  };
  std::vector<Pair> pairs;
  char buffer[65536];
  while (!stop_.load()) {
    std::vector<pollfd> fds{{listenFd_, POLLIN, 0}};
    const bool relaying = !cut_.load();
    for (const auto& p : pairs) {
      fds.push_back({p.client, static_cast<short>(relaying ? POLLIN : 0), 0});
      fds.push_back({p.server, static_cast<short>(relaying ? POLLIN : 0), 0});
    }
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(targetPort_));
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
          pairs.push_back({client, server});
        } else {
          ::close(server);
          ::close(client);
        }
      }
    }
    std::vector<Pair> open;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      bool closed = false;
      const pollfd& c = fds[1 + 2 * i];
      const pollfd& s = fds[2 + 2 * i];
      auto relay = [&](int from, int to) {
        ssize_t n = ::read(from, buffer, sizeof(buffer));
        if (n <= 0) {
          closed = true;
          return;
        }
        for (ssize_t sent = 0; sent < n;) {
          ssize_t w = ::write(to, buffer + sent, static_cast<std::size_t>(n - sent));
          if (w <= 0) {
            closed = true;
            return;
          }
          sent += w;
        }
      };
      if (relaying && (c.revents & (POLLIN | POLLHUP | POLLERR))) relay(pairs[i].client, pairs[i].server);
      if (!closed && relaying && (s.revents & (POLLIN | POLLHUP | POLLERR))) {
        relay(pairs[i].server, pairs[i].client);
      }
      if (closed) {
        ::close(pairs[i].client);
        ::close(pairs[i].server);
      } else {
        open.push_back(pairs[i]);
      }
    }
    pairs = std::move(open);
  }
  for (const auto& p : pairs) {
    ::close(p.client);
    ::close(p.server);
  }
}

}  // namespace rollgate::testing
