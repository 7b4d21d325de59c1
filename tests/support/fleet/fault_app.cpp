// rollgate-fault-app: a small HTTP service for fleet tests and the detection benchmark whose
// misbehaviour is read from its release, so that one deployed program can express every fault
// class the gates are meant to catch.
//
//   rollgate-fault-app --port N --release DIR --access-log FILE --error-log FILE
//
// At start it reads DIR/fault.json (DIR is the install root's `current`; a missing file means a
// healthy release) with the keys of FaultSpec (tests/support/fleet/fault_spec.h); an unknown key
// or a bad value stops it with a message naming the file, the key and the value. It answers
// GET /health with 200 and GET /app according to the spec, and writes one nginx `combined_rt`
// line per request to the access log (latency in microseconds' resolution) and `[error]` lines to
// the error log, the formats the agent reads from nginx.
#include <microhttpd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fleet/fault_spec.h"

namespace {

using rollgate::testing::FaultSpec;

struct App {
  FaultSpec fault;
  std::string version;
  int accessLog = -1;
  int errorLog = -1;
};

double uniform() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::string localTime() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%d/%b/%Y:%H:%M:%S %z", &tm);
  return text;
}

// One write(2) per line on an O_APPEND descriptor: lines from concurrent requests never mix.
void appendLine(int fd, const std::string& line) {
  if (fd >= 0 && ::write(fd, line.data(), line.size()) < 0) {
    std::perror("rollgate-fault-app: log write");
  }
}

// Spins until this thread has used `micros` of CPU time (not wall time: a busy machine makes the
// request slower, not cheaper).
void burnCpu(std::uint64_t micros) {
  if (micros == 0) return;
  auto cpuNow = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
  };
  std::uint64_t until = cpuNow() + micros;
  volatile std::uint64_t sink = 0;
  while (cpuNow() < until) {
    for (int i = 0; i < 1000; ++i) sink = sink + static_cast<std::uint64_t>(i);
  }
}

MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* version, const char*, size_t*, void** state) {
  if (*state == nullptr) {  // first call: headers only
    static int marker;
    *state = &marker;
    return MHD_YES;
  }
  const App& app = *static_cast<const App*>(cls);
  auto started = std::chrono::steady_clock::now();
  std::string path = url;
  unsigned status = 200;
  std::string body;
  if (path == "/health") {
    body = "ok\n";
  } else if (path == "/app") {
    const FaultSpec& f = app.fault;
    burnCpu(f.cpuMicrosPerRequest);
    std::uint64_t sleepMillis = f.addedLatencyMillis;
    if (f.slowShare > 0 && uniform() < f.slowShare) sleepMillis += f.slowMillis;
    if (sleepMillis > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleepMillis));
    if (f.errorShare > 0 && uniform() < f.errorShare) status = 500;
    // Whole lines per request, and one more with the fractional part's probability.
    double lines = f.errorLogLinesPerRequest;
    auto count = static_cast<int>(lines);
    if (uniform() < lines - count) ++count;
    for (int i = 0; i < count; ++i) {
      appendLine(app.errorLog, localTime() + " [error] " + std::to_string(::getpid()) +
                                   ": injected error for GET /app (release " + app.version + ")\n");
    }
    body = status == 200 ? app.version + "\n" : "injected failure\n";
  } else {
    status = 404;
    body = "not found\n";
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char tail[128];
  std::snprintf(tail, sizeof tail, " %u %zu \"-\" \"load\" %.6f\n", status, body.size(), seconds);
  appendLine(app.accessLog, "127.0.0.1 - - [" + localTime() + "] \"" + method + " " + path + " " +
                                version + "\"" + tail);
  return queued;
}

// Grows resident memory by touching `mibPerSecond` a second, up to `capMib`.
void growMemory(double mibPerSecond, std::uint64_t capMib) {
  std::vector<std::unique_ptr<char[]>> kept;
  const std::size_t step = static_cast<std::size_t>(mibPerSecond * 1024 * 1024 / 10);
  std::size_t total = 0;
  while (step > 0 && total + step <= capMib * 1024 * 1024) {
    kept.emplace_back(new char[step]);
    std::memset(kept.back().get(), 0x5a, step);
    total += step;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // keep it resident
}

std::string argument(int argc, char** argv, const std::string& name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string port = argument(argc, argv, "--port");
  std::string release = argument(argc, argv, "--release");
  if (port.empty() || release.empty()) {
    std::fprintf(stderr,
                 "usage: rollgate-fault-app --port N --release DIR --access-log FILE --error-log FILE\n");
    return 2;
  }
  App app;
  auto fault = rollgate::testing::readFaultSpec(release + "/fault.json");
  if (!fault) {
    std::fprintf(stderr, "rollgate-fault-app: %s\n", fault.error().message.c_str());
    return 2;
  }
  app.fault = *fault;
  app.version = rollgate::testing::readReleaseVersion(release);
  app.accessLog = ::open(argument(argc, argv, "--access-log").c_str(),
                         O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  app.errorLog = ::open(argument(argc, argv, "--error-log").c_str(),
                        O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (app.accessLog < 0 || app.errorLog < 0) {
    std::perror("rollgate-fault-app: opening the logs");
    return 2;
  }
  // Blocked before any thread starts, so that every thread inherits the mask and main waits.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port.c_str())));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  MHD_Daemon* daemon = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
      nullptr, nullptr, &answer, &app, MHD_OPTION_SOCK_ADDR, &address,
      MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
  if (daemon == nullptr) {
    std::fprintf(stderr, "rollgate-fault-app: cannot listen on 127.0.0.1:%s\n", port.c_str());
    return 1;
  }
  if (app.fault.memoryMibPerSecond > 0) {
    std::thread(growMemory, app.fault.memoryMibPerSecond, app.fault.memoryCapMib).detach();
  }
  if (app.fault.crashAfterSeconds > 0) {
    timespec wait{static_cast<time_t>(app.fault.crashAfterSeconds), 0};
    if (sigtimedwait(&stop, nullptr, &wait) < 0) {
      std::fprintf(stderr, "rollgate-fault-app: crashing after %llu s as the release says\n",
                   static_cast<unsigned long long>(app.fault.crashAfterSeconds));
      std::_Exit(70);
    }
  } else {
    int signal = 0;
    sigwait(&stop, &signal);
  }
  MHD_stop_daemon(daemon);
  return 0;
}
