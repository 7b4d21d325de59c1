// HaproxyGate against Debian's real haproxy: drain waits for the request in flight, ready comes
// back, a drain marker survives a crash and is undone at the next start, an unreachable socket or
// an unknown server fails with a message naming them and leaves nothing drained, a server an
// operator put in maintenance is left alone, and the wait for HAProxy's check is bounded. A held
// weight is applied, ended by its release, by a restart or (when due) by the next agent's start.
// Two servers drained at the same moment are never drained together: one waits for the other; three
// drained at once again and again always leave one taking requests.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <thread>

#include "agent/lb/haproxy_gate.h"
#include "common/sys/env.h"
#include "tests/integration/haproxy/haproxy_process.h"
#include "tests/support/skip.h"

using namespace rollgate;
using namespace rollgate::testing;

namespace {

bool contains(const std::vector<std::string>& events, const std::string& needle) {
  for (const auto& e : events) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& events) {
  std::string out;
  for (const auto& e : events) out += e + "\n";
  return out;
}

// A backend that answers every request after `holdMillis`: a request in flight to drain.
class SlowBackend {
 public:
  explicit SlowBackend(int holdMillis) : holdMillis_(holdMillis) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t size = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] {
      for (;;) {
        int client = ::accept(fd_, nullptr, nullptr);
        if (client < 0) return;
        char buffer[4096];
        (void)::recv(client, buffer, sizeof(buffer), 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(holdMillis_));
        const char* answer =
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
        (void)::send(client, answer, std::strlen(answer), MSG_NOSIGNAL);
        ::close(client);
      }
    });
  }
  ~SlowBackend() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int holdMillis_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// One GET through HAProxy; returns the status line ("" on a transfer error).
std::string getThrough(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char* request = "GET /app HTTP/1.0\r\nHost: test\r\n\r\n";
    (void)::send(fd, request, std::strlen(request), MSG_NOSIGNAL);
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0)
      answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

struct Fixture {
  std::unique_ptr<HaproxyProcess> haproxy;
  TempDir state{"rollgate-gate-state"};
  sys::PosixEnv env;

  bool ready(const std::vector<HaproxyServer>& servers, bool checks = false) {
    if (!requireOrSkip(HaproxyProcess::missingPrerequisite())) return false;
    auto started = HaproxyProcess::start(servers, checks);
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    haproxy = std::move(*started);
    return true;
  }

  lb::HaproxyGateOptions options(const std::string& server) const {
    lb::HaproxyGateOptions o;
    o.address = *lb::parseRuntimeAddress(haproxy->socketPath());
    o.backend = HaproxyProcess::kBackend;
    o.server = server;
    o.markerPath = state.file("haproxy-web.drained");
    o.weightMarkerPath = state.file("haproxy-web.weight");
    return o;
  }

  bool markerExists() const {
    return ::access(state.file("haproxy-web.drained").c_str(), F_OK) == 0;
  }
  bool weightMarkerExists() const {
    return ::access(state.file("haproxy-web.weight").c_str(), F_OK) == 0;
  }
  std::int64_t weight(const std::string& server) const {
    auto stat = haproxy->stat(server);
    return stat ? stat->weight : -1;
  }
};

}  // namespace

TEST_CASE("drain waits for the request in flight, then ready puts the server back") {
  SlowBackend slow(1500);
  Fixture f;
  if (!f.ready({{"h1", slow.port()}, {"h2", slow.port()}})) return;
  // h1 takes the first request (round robin) and holds it for 1.5 s.
  std::string status;
  std::thread client([&] { status = getThrough(f.haproxy->frontendPort()); });
  REQUIRE(waitUntil([&] {
    auto stat = f.haproxy->stat("h1");
    return stat && stat->currentSessions == 1;
  }));
  lb::HaproxyGate gate(f.options("h1"), f.env);
  std::vector<std::string> events;
  auto drained = gate.drain(events);
  REQUIRE_MESSAGE(drained.ok(), (drained.ok() ? "" : drained.error().message));
  // drain() returned only once the held request was answered.
  CHECK(f.haproxy->stat("h1")->currentSessions == 0);
  client.join();
  CHECK(status == "HTTP/1.1 200 OK");
  CHECK_MESSAGE(contains(events, "drained haproxy server web/h1 (0 sessions after"),
                joined(events));
  CHECK(f.haproxy->serversNotReady() == std::vector<std::string>{"h1 (drain)"});
  CHECK(f.markerExists());
  // While drained, every new request goes to h2.
  for (int i = 0; i < 4; ++i) getThrough(f.haproxy->frontendPort());
  CHECK(f.haproxy->stat("h1")->currentSessions == 0);

  auto restored = gate.restore(events);
  REQUIRE_MESSAGE(restored.ok(), (restored.ok() ? "" : restored.error().message));
  CHECK(f.haproxy->serversNotReady().empty());
  CHECK_FALSE(f.markerExists());
  CHECK_MESSAGE(contains(events, "haproxy server web/h1 ready and no check"), joined(events));
}

TEST_CASE("a server left drained by an agent that died is set ready by the next one") {
  Fixture f;
  if (!f.ready({{"h1", freePort()}, {"h2", freePort()}})) return;
  {
    lb::HaproxyGate gate(f.options("h2"), f.env);
    std::vector<std::string> events;
    REQUIRE(gate.drain(events).ok());
    // The agent dies here: no restore().
  }
  CHECK(f.haproxy->serversNotReady() == std::vector<std::string>{"h2 (drain)"});
  REQUIRE(f.markerExists());
  lb::HaproxyGate next(f.options("h2"), f.env);
  std::vector<std::string> events;
  auto recovered = next.recover(events);
  REQUIRE_MESSAGE(recovered.ok(), (recovered.ok() ? "" : recovered.error().message));
  CHECK(f.haproxy->serversNotReady().empty());
  CHECK_FALSE(f.markerExists());
  CHECK(contains(events, "set ready again"));
  // Nothing to do the second time.
  events.clear();
  CHECK(next.recover(events).ok());
  CHECK(events.empty());
}

TEST_CASE("an unreachable HAProxy fails the drain naming the socket, and leaves no marker") {
  Fixture f;
  if (!requireOrSkip(HaproxyProcess::missingPrerequisite())) return;
  lb::HaproxyGateOptions options;
  options.address = *lb::parseRuntimeAddress(f.state.file("no-such.sock"));
  options.backend = "web";
  options.server = "h1";
  options.markerPath = f.state.file("haproxy-web.drained");
  lb::HaproxyGate gate(options, f.env);
  std::vector<std::string> events;
  auto drained = gate.drain(events);
  REQUIRE_FALSE(drained.ok());
  INFO(drained.error().message);
  CHECK(drained.error().message.find("cannot drain web/h1") != std::string::npos);
  CHECK(drained.error().message.find(f.state.file("no-such.sock")) != std::string::npos);
  CHECK(drained.error().message.find("No such file or directory") != std::string::npos);
  CHECK_FALSE(f.markerExists());
  // TCP: a closed port is refused, named with its address.
  options.address = *lb::parseRuntimeAddress("127.0.0.1:" + std::to_string(freePort()));
  lb::HaproxyGate tcp(options, f.env);
  auto refused = tcp.drain(events);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(options.address.text) != std::string::npos);
  CHECK(refused.error().message.find("Connection refused") != std::string::npos);
}

TEST_CASE("an unknown server is an error naming it, with HAProxy's answer") {
  Fixture f;
  if (!f.ready({{"h1", freePort()}})) return;
  lb::HaproxyGate gate(f.options("nope"), f.env);
  std::vector<std::string> events;
  auto drained = gate.drain(events);
  REQUIRE_FALSE(drained.ok());
  INFO(drained.error().message);
  CHECK(drained.error().message.find("web/nope") != std::string::npos);
  CHECK_FALSE(f.markerExists());
  CHECK(f.haproxy->serversNotReady().empty());
}

TEST_CASE("a server an operator put in maintenance is left in maintenance") {
  Fixture f;
  if (!f.ready({{"h1", freePort()}, {"h2", freePort()}})) return;
  REQUIRE(f.haproxy->runtime().setState("web", "h1", "maint").ok());
  lb::HaproxyGate gate(f.options("h1"), f.env);
  std::vector<std::string> events;
  REQUIRE(gate.drain(events).ok());
  REQUIRE(gate.restore(events).ok());
  CHECK(f.haproxy->serversNotReady() == std::vector<std::string>{"h1 (maint)"});
  CHECK_MESSAGE(contains(events, "was already in maint (set outside rollgate): left as it was"),
                joined(events));
  CHECK_FALSE(f.markerExists());
}

TEST_CASE("the wait for HAProxy's check after ready is bounded and says what the check reports") {
  Fixture f;
  // Nothing listens on h1's port: HAProxy's check keeps it DOWN.
  if (!f.ready({{"h1", freePort()}}, /*checks=*/true)) return;
  auto options = f.options("h1");
  options.upTimeoutMillis = 1'000;
  lb::HaproxyGate gate(options, f.env);
  std::vector<std::string> events;
  REQUIRE(gate.drain(events).ok());
  REQUIRE(gate.restore(events).ok());
  CHECK(f.haproxy->serversNotReady().empty());
  CHECK_MESSAGE(contains(events, "after 1000 ms HAProxy's check still says: status DOWN"),
                joined(events));
}

TEST_CASE("a held weight is applied, released to the configured weight, and ended by a restart") {
  Fixture f;
  if (!f.ready({{"h1", freePort()}, {"h2", freePort()}})) return;
  REQUIRE(f.weight("h1") == 1);  // HAProxy's default weight
  lb::HaproxyGate gate(f.options("h1"), f.env);
  std::vector<std::string> events;
  std::uint64_t until = f.env.nowMillis() + 60'000;
  REQUIRE(gate.holdWeight(0, until, events).ok());
  CHECK(f.weight("h1") == 0);
  CHECK(f.weightMarkerExists());
  CHECK(gate.weightDueMillis() == until);
  CHECK_MESSAGE(contains(events, "haproxy server web/h1 weight 0 for"), joined(events));
  REQUIRE(gate.releaseWeight(events).ok());
  CHECK(f.weight("h1") == 1);
  CHECK_FALSE(f.weightMarkerExists());
  CHECK_FALSE(gate.weightDueMillis().has_value());

  // A restart (drain ... restore) ends a held weight too: a rollback never keeps a canary's share.
  REQUIRE(gate.holdWeight(0, until, events).ok());
  REQUIRE(gate.drain(events).ok());
  REQUIRE(gate.restore(events).ok());
  CHECK(f.weight("h1") == 1);
  CHECK_FALSE(f.weightMarkerExists());
  CHECK(f.haproxy->serversNotReady().empty());
}

TEST_CASE("a weight held by an agent that died is released by the next one once it is due") {
  Fixture f;
  if (!f.ready({{"h1", freePort()}, {"h2", freePort()}})) return;
  std::uint64_t later = f.env.nowMillis() + 3'600'000;
  {
    lb::HaproxyGate gate(f.options("h2"), f.env);
    std::vector<std::string> events;
    REQUIRE(gate.holdWeight(0, later, events).ok());
  }
  {
    // Not due yet: the next agent keeps it and knows when to end it.
    lb::HaproxyGate next(f.options("h2"), f.env);
    std::vector<std::string> events;
    REQUIRE(next.recover(events).ok());
    CHECK(f.weight("h2") == 0);
    CHECK(next.weightDueMillis() == later);
  }
  // Due: rewrite the marker's end into the past, as if the agent had been down past it.
  lb::HaproxyGate gate(f.options("h2"), f.env);
  std::vector<std::string> events;
  REQUIRE(gate.holdWeight(0, f.env.nowMillis() - 1, events).ok());
  lb::HaproxyGate next(f.options("h2"), f.env);
  events.clear();
  REQUIRE(next.recover(events).ok());
  CHECK(f.weight("h2") == 1);
  CHECK_FALSE(f.weightMarkerExists());
  CHECK_MESSAGE(contains(events, "back to its configured weight"), joined(events));
}

TEST_CASE("two servers drained at once: one waits until the other takes requests again") {
  SlowBackend quick(0);
  Fixture f;
  if (!f.ready({{"h1", quick.port()}, {"h2", quick.port()}})) return;
  auto options = [&](const std::string& server) {
    auto o = f.options(server);
    o.markerPath = f.state.file("haproxy-web-" + server + ".drained");
    o.weightMarkerPath = f.state.file("haproxy-web-" + server + ".weight");
    return o;
  };
  lb::HaproxyGate g1(options("h1"), f.env);
  lb::HaproxyGate g2(options("h2"), f.env);
  std::vector<std::string> e1;
  std::vector<std::string> e2;
  std::atomic<int> done1{0};
  std::atomic<int> done2{0};
  std::thread t1([&] { done1 = g1.drain(e1).ok() ? 1 : 2; });
  std::thread t2([&] { done2 = g2.drain(e2).ok() ? 1 : 2; });
  REQUIRE(waitUntil([&] { return done1 != 0 || done2 != 0; }));
  // One is drained; the other waits (the server it would drain still takes every request).
  bool firstIs1 = done1 != 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK((firstIs1 ? done2.load() : done1.load()) == 0);
  CHECK(f.haproxy->serversNotReady() ==
        std::vector<std::string>{firstIs1 ? "h1 (drain)" : "h2 (drain)"});
  CHECK(getThrough(f.haproxy->frontendPort()) == "HTTP/1.1 200 OK");
  std::vector<std::string> events;
  REQUIRE((firstIs1 ? g1 : g2).restore(events).ok());
  REQUIRE(waitUntil([&] { return done1 != 0 && done2 != 0; }));
  t1.join();
  t2.join();
  CHECK(done1 == 1);
  CHECK(done2 == 1);
  CHECK_MESSAGE(contains(firstIs1 ? e2 : e1, "until another server of backend web took new requests"),
                joined(firstIs1 ? e2 : e1));
  CHECK(f.haproxy->serversNotReady() ==
        std::vector<std::string>{firstIs1 ? "h2 (drain)" : "h1 (drain)"});
  REQUIRE((firstIs1 ? g2 : g1).restore(events).ok());
  CHECK(f.haproxy->serversNotReady().empty());
}

TEST_CASE("three servers drained again and again at the same moment: one always takes requests") {
  SlowBackend quick(0);
  Fixture f;
  if (!f.ready({{"h1", quick.port()}, {"h2", quick.port()}, {"h3", quick.port()}})) return;
  constexpr int kRounds = 12;
  std::atomic<bool> loading{true};
  std::atomic<int> requests{0};
  std::atomic<int> failed{0};
  std::string firstFailure;
  std::thread load([&] {
    while (loading) {
      std::string status = getThrough(f.haproxy->frontendPort());
      ++requests;
      if (status != "HTTP/1.1 200 OK" && failed++ == 0) firstFailure = status;
    }
  });
  std::barrier start(3);
  std::vector<std::vector<std::string>> events(3);
  std::atomic<int> errors{0};
  std::vector<std::thread> agents;
  for (int i = 0; i < 3; ++i) {
    agents.emplace_back([&, i] {
      std::string server = "h" + std::to_string(i + 1);
      auto o = f.options(server);
      o.markerPath = f.state.file("haproxy-web-" + server + ".drained");
      o.weightMarkerPath = f.state.file("haproxy-web-" + server + ".weight");
      lb::HaproxyGate gate(o, f.env);
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();  // every host's command arrives at once
        if (!gate.drain(events[i]).ok()) ++errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the restart
        if (!gate.restore(events[i]).ok()) ++errors;
      }
    });
  }
  for (auto& agent : agents) agent.join();
  loading = false;
  load.join();
  std::string all;
  int stepBacks = 0;
  for (const auto& e : events) {
    all += joined(e);
    for (const auto& line : e) stepBacks += line.find("set ready again") != std::string::npos;
  }
  MESSAGE(failed.load() << " of " << requests.load() << " requests failed over " << kRounds
                        << " rounds of three simultaneous drains; " << stepBacks << " step-backs");
  INFO(all);
  CHECK(errors.load() == 0);
  CHECK_MESSAGE(failed.load() == 0, "first failure: " << firstFailure);
  CHECK(stepBacks == 0);  // no two groups drained in the same turn
  CHECK(requests.load() > 100);
  CHECK(f.haproxy->serversNotReady().empty());
}
