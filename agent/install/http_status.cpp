#include "agent/install/http_status.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <memory>

#include "agent/curl/curl_library.h"
#include "common/sys/error.h"

namespace rollgate::install {

using curl::CurlLibrary;
using curl::curlGetStatus;
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { ::freeaddrinfo(info); }
};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

using SteadyClock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, at least 0.
int millisLeft(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd` until the deadline: OK, or an error "timed out" / poll's errno.
Status waitFor(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, millisLeft(deadline));
    if (n > 0) return {};
    if (n == 0) return makeError("timed out");
    if (errno != EINTR) return makeError("poll: " + sys::errnoMessage(errno));
  }
}

// A non-blocking socket connected to one of `host:port`'s addresses, trying each in turn.
Result<std::unique_ptr<Socket>> connectTo(const HttpUrl& u, SteadyClock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(u.port);
  if (int rc = ::getaddrinfo(u.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return makeError("cannot resolve host '" + u.host + "': " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(found);
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    auto s = std::make_unique<Socket>(
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (s->fd() < 0) {
      last = "socket: " + sys::errnoMessage(errno);
      continue;
    }
    if (::connect(s->fd(), a->ai_addr, a->ai_addrlen) == 0) return s;
    if (errno != EINPROGRESS) {
      last = "connect: " + sys::errnoMessage(errno);
      continue;
    }
    if (auto w = waitFor(s->fd(), POLLOUT, deadline); !w)
      return makeError("connect: " + w.error().message);
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return s;
    last = "connect: " + sys::errnoMessage(err);
  }
  return makeError(last);
}

Status sendAll(int fd, std::string_view data, SteadyClock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto w = waitFor(fd, POLLOUT, deadline); !w)
        return makeError("send: " + w.error().message);
    } else {
      return makeError("send: " + sys::errnoMessage(errno));
    }
  }
  return {};
}

// Reads until the first CRLF (the status line); the rest of the response is not needed.
Result<std::string> readStatusLine(int fd, SteadyClock::time_point deadline) {
  constexpr std::size_t kMaxLine = 8192;
  std::string received;
  char buffer[1024];
  for (;;) {
    if (auto end = received.find("\r\n"); end != std::string::npos) return received.substr(0, end);
    if (received.size() > kMaxLine) return makeError("status line longer than 8192 bytes");
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      if (received.empty()) return makeError("connection closed without an answer");
      return received.substr(0, received.find('\n'));
    } else if (errno == EAGAIN || errno == EINTR) {
      if (auto w = waitFor(fd, POLLIN, deadline); !w)
        return makeError("no answer: " + w.error().message);
    } else {
      return makeError("recv: " + sys::errnoMessage(errno));
    }
  }
}

}  // namespace

Result<HttpUrl> parseHttpUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return makeError("URL '" + std::string(url) + "': " + why);
  };
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return bad("expected http://host[:port]/path");
  std::string_view rest = url.substr(kScheme.size());
  HttpUrl u;
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  u.target = target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");
  std::string_view portText;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return bad("expected ':' after ']'");
    if (!after.empty()) portText = after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) portText = authority.substr(colon + 1);
  }
  if (u.host.empty()) return bad("empty host");
  if (!portText.empty() || authority.ends_with(":")) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), value);
    if (ec != std::errc() || end != portText.data() + portText.size() || value == 0 ||
        value > 65535) {
      return bad("port '" + std::string(portText) + "' is not a number from 1 to 65535");
    }
    u.port = static_cast<std::uint16_t>(value);
  }
  return u;
}

Result<long> parseHttpStatusLine(std::string_view line) {
  auto bad = [&] {
    return makeError("not an HTTP status line: '" + std::string(line.substr(0, 80)) + "'");
  };
  if (!line.starts_with("HTTP/")) return bad();
  auto space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4) return bad();
  std::string_view code = line.substr(space + 1, 3);
  long value = 0;
  auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
  if (ec != std::errc() || end != code.data() + 3 || value < 100 || value > 999) return bad();
  if (line.size() > space + 4 && line[space + 4] != ' ') return bad();
  return value;
}

Result<long> httpGetStatus(const std::string& url, long timeoutMillis) {
  if (url.starts_with("https://")) return curlGetStatus(url, timeoutMillis);
  auto parsed = parseHttpUrl(url);
  if (!parsed) return parsed.error();
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeoutMillis);
  auto fail = [&](const Error& e) { return makeError(url + ": " + e.message); };
  auto socket = connectTo(*parsed, deadline);
  if (!socket) return fail(socket.error());
  const bool v6 = parsed->host.find(':') != std::string::npos;
  std::string hostHeader = v6 ? "[" + parsed->host + "]" : parsed->host;
  if (parsed->port != 80) hostHeader += ":" + std::to_string(parsed->port);
  std::string request =
      "GET " + parsed->target + " HTTP/1.1\r\nHost: " + hostHeader +
      "\r\nUser-Agent: rollgate-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  if (auto s = sendAll((*socket)->fd(), request, deadline); !s) return fail(s.error());
  auto line = readStatusLine((*socket)->fd(), deadline);
  if (!line) return fail(line.error());
  auto status = parseHttpStatusLine(*line);
  if (!status) return fail(status.error());
  return status;
}

}  // namespace rollgate::install
