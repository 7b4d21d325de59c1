#include "agent/lb/haproxy_runtime.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace rollgate::lb {
namespace {

std::uint64_t steadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// Owns a socket descriptor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events` or the deadline passes.
Status waitFor(int fd, short events, std::uint64_t deadline, const std::string& what) {
  for (;;) {
    std::uint64_t now = steadyMillis();
    if (now >= deadline) return makeError(what + ": timed out");
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(deadline - now));
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return makeError(what + ": poll: " + std::strerror(errno));
  }
}

Status connectWithin(int fd, const sockaddr* addr, socklen_t length, std::uint64_t deadline) {
  if (::connect(fd, addr, length) == 0) return {};
  if (errno != EINPROGRESS && errno != EAGAIN) return makeError(std::strerror(errno));
  if (auto s = waitFor(fd, POLLOUT, deadline, "connect"); !s) return s;
  int error = 0;
  socklen_t size = sizeof(error);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0) return makeError(std::strerror(error));
  return {};
}

Result<int> openConnection(const RuntimeAddress& address, std::uint64_t deadline) {
  if (address.isUnix) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (address.path.size() >= sizeof(addr.sun_path)) return makeError("socket path too long");
    std::memcpy(addr.sun_path, address.path.c_str(), address.path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return makeError(std::string("socket: ") + std::strerror(errno));
    if (auto s = connectWithin(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr), deadline);
        !s) {
      ::close(fd);
      return makeError("connect: " + s.error().message);
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(address.host.c_str(), address.port.c_str(), &hints, &found); rc != 0) {
    return makeError(std::string("resolve: ") + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    auto s = connectWithin(fd, ai->ai_addr, ai->ai_addrlen, deadline);
    if (s) return fd;
    last = s.error().message;
    ::close(fd);
  }
  return makeError("connect: " + last);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

Result<RuntimeAddress> parseRuntimeAddress(const std::string& text) {
  RuntimeAddress address;
  address.text = text;
  std::string rest = text;
  if (rest.rfind("unix:", 0) == 0) rest = rest.substr(5);
  if (!rest.empty() && rest[0] == '/') {
    address.isUnix = true;
    address.path = rest;
    if (address.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return makeError("haproxy runtime socket \"" + text + "\": path longer than " +
                       std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
    }
    return address;
  }
  if (rest.rfind("tcp://", 0) == 0) rest = rest.substr(6);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return makeError("haproxy runtime address \"" + text +
                     "\": expected a socket path (/run/haproxy/admin.sock) or HOST:PORT");
  }
  address.isUnix = false;
  address.host = rest.substr(0, colon);
  address.port = rest.substr(colon + 1);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  return address;
}

HaproxyRuntime::HaproxyRuntime(RuntimeAddress address, std::uint32_t timeoutMillis)
    : address_(std::move(address)), timeoutMillis_(timeoutMillis) {}

Result<std::string> HaproxyRuntime::execute(const std::string& command) const {
  const std::string where = "haproxy " + address_.text + ": \"" + command + "\"";
  const std::uint64_t deadline = steadyMillis() + timeoutMillis_;
  auto opened = openConnection(address_, deadline);
  if (!opened) return makeError(where + ": " + opened.error().message);
  Fd fd{*opened};
  std::string line = command + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto s = waitFor(fd.fd, POLLOUT, deadline, "send"); !s)
        return makeError(where + ": " + s.error().message);
    } else {
      return makeError(where + ": send: " + std::strerror(errno));
    }
  }
  std::string answer;
  char buffer[16384];
  constexpr std::size_t kMaxAnswerBytes = 16 << 20;
  for (;;) {
    ssize_t n = ::recv(fd.fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      answer.append(buffer, static_cast<std::size_t>(n));
      if (answer.size() > kMaxAnswerBytes) return makeError(where + ": answer over 16 MiB");
    } else if (n == 0) {
      return answer;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (auto s = waitFor(fd.fd, POLLIN, deadline, "read"); !s) {
        return makeError(where + ": " + s.error().message + " waiting for the answer");
      }
    } else {
      return makeError(where + ": read: " + std::strerror(errno));
    }
  }
}

Status HaproxyRuntime::expectEmpty(const std::string& command) const {
  auto answer = execute(command);
  if (!answer) return answer.error();
  std::string text = trimmed(*answer);
  if (!text.empty())
    return makeError("haproxy " + address_.text + ": \"" + command + "\": " + text);
  return {};
}

Status HaproxyRuntime::setState(const std::string& backend, const std::string& server,
                                const std::string& state) const {
  return expectEmpty("set server " + backend + "/" + server + " state " + state);
}

Status HaproxyRuntime::setWeight(const std::string& backend, const std::string& server,
                                 const std::string& weight) const {
  return expectEmpty("set server " + backend + "/" + server + " weight " + weight);
}

Result<ServerStat> HaproxyRuntime::stat(const std::string& backend,
                                        const std::string& server) const {
  auto answer = execute("show stat");
  if (!answer) return answer.error();
  auto parsed = parseServerStat(*answer, backend, server);
  if (!parsed) return makeError("haproxy " + address_.text + ": " + parsed.error().message);
  return parsed;
}

Result<std::vector<NamedServerStat>> HaproxyRuntime::backendStats(
    const std::string& backend) const {
  auto answer = execute("show stat");
  if (!answer) return answer.error();
  auto parsed = parseBackendServerStats(*answer, backend);
  if (!parsed) return makeError("haproxy " + address_.text + ": " + parsed.error().message);
  return parsed;
}

Result<ServerState> HaproxyRuntime::state(const std::string& backend,
                                          const std::string& server) const {
  auto answer = execute("show servers state " + backend);
  if (!answer) return answer.error();
  auto parsed = parseServerState(*answer, backend, server);
  if (!parsed) return makeError("haproxy " + address_.text + ": " + parsed.error().message);
  return parsed;
}

}  // namespace rollgate::lb
