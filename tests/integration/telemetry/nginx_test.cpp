// A real nginx under load from wrk: its access log is followed with LogFollower (through a rename
// rotation with USR1 reopen in the middle of the load), parsed as combined_rt, and folded into
// telemetry windows. The windows must account for exactly the lines nginx wrote, status by status;
// error-log lines for missing files must equal the 404s; resources come from /proc.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/telemetry/access_log.h"
#include "agent/telemetry/error_log.h"
#include "agent/telemetry/log_follower.h"
#include "agent/telemetry/proc_stats.h"
#include "agent/telemetry/window_builder.h"
#include "tests/support/skip.h"
#include "tests/unit/telemetry/test_files.h"

using namespace rollgate::agent;
using rollgate::TelemetryWindow;
using rollgate::testing::TempDir;

namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kWrk = "/usr/bin/wrk";

std::uint64_t steadyMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool canConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// A child process with stdout/stderr to a file; killed (signal, then SIGKILL) and reaped at exit.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& outputPath, int stopSignal)
      : stopSignal_(stopSignal) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int out = ::open(outputPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> args;
      for (auto& arg : argv) args.push_back(arg.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // True once the process has exited (reaped).
  bool exited() {
    if (reaped_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      exitStatus_ = status;
    }
    return reaped_;
  }
  int exitStatus() const { return exitStatus_; }
  void stop() {
    if (reaped_ || pid_ <= 0) return;
    ::kill(pid_, stopSignal_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!exited() && std::chrono::steady_clock::now() < deadline) {
      ::poll(nullptr, 0, 20);
    }
    if (!exited()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
    }
  }

 private:
  pid_t pid_ = -1;
  int stopSignal_;
  bool reaped_ = false;
  int exitStatus_ = 0;
};

std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Independent status count: the first word after the request's closing quote (split on '"';
// wrk sends no quotes, and a request nginx could not read is logged as "-").
std::map<int, std::uint64_t> statusBySplitting(const std::vector<std::string>& lines) {
  std::map<int, std::uint64_t> counts;
  for (const auto& line : lines) {
    std::vector<std::string> parts;
    std::istringstream fields(line);
    std::string part;
    while (std::getline(fields, part, '"')) parts.push_back(part);
    REQUIRE_MESSAGE(parts.size() >= 3, "odd nginx line: " << line);
    std::istringstream afterRequest(parts[2]);
    int status = 0;
    afterRequest >> status;
    ++counts[status];
  }
  return counts;
}

bool requireTool(const char* path) {
  return rollgate::testing::requireOrSkip(::access(path, X_OK) == 0 ? "" : path);
}

}  // namespace

TEST_CASE("nginx under wrk load, with a rotation: windows count exactly the lines nginx wrote") {
  if (!requireTool(kNginx) || !requireTool(kWrk)) return;
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "logs");
  std::filesystem::create_directories(dir.path() / "temp");
  // When run as root, nginx workers run as nobody and reopen the logs themselves on USR1: they
  // must be able to reach the log directory.
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  const auto accessLog = dir.file("logs/access.log");
  const auto errorLog = dir.file("logs/error.log");
  const auto writeConfig = [&](int port) {
    std::ofstream conf(dir.file("nginx.conf"));
    conf << "worker_processes 1;\n"
         << "pid " << dir.file("nginx.pid") << ";\n"
         << "error_log " << errorLog << " error;\n"
         << "events { worker_connections 256; }\n"
         << "http {\n"
         << "  log_format rt '$remote_addr - $remote_user [$time_local] \"$request\" $status "
            "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time';\n"
         << "  access_log " << accessLog << " rt;\n"
         << "  client_body_temp_path " << dir.file("temp/body") << ";\n"
         << "  proxy_temp_path " << dir.file("temp/proxy") << ";\n"
         << "  fastcgi_temp_path " << dir.file("temp/fastcgi") << ";\n"
         << "  uwsgi_temp_path " << dir.file("temp/uwsgi") << ";\n"
         << "  scgi_temp_path " << dir.file("temp/scgi") << ";\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << port << ";\n"
         << "    location / { return 200 \"ok\\n\"; }\n"
         << "    location /boom { return 503; }\n"
         << "    location /static/ { root " << dir.file("www") << "; }\n"
         << "  }\n"
         << "}\n";
  };
  {
    std::ofstream script(dir.file("mix.lua"));
    script << "counter = 0\n"
              "request = function()\n"
              "  counter = counter + 1\n"
              "  if counter % 10 == 0 then return wrk.format('GET', '/static/missing.css') end\n"
              "  if counter % 25 == 0 then return wrk.format('POST', '/boom') end\n"
              "  return wrk.format('GET', '/')\n"
              "end\n";
  }

  // Follow the logs before nginx creates them: they are read from their first line.
  const AccessLogParser parser = AccessLogParser::combinedRt();
  auto errorPattern = ErrorPattern::compile(R"(\[error\])");
  REQUIRE(errorPattern.ok());
  const std::uint64_t start = steadyMillis();
  WindowBuilder builder("web", "v1", start, WindowOptions{.windowMillis = 500});
  std::uint64_t followedLines = 0;
  auto access = LogFollower::create(accessLog, [&](std::string_view line) {
    ++followedLines;
    builder.addAccess(parser.parseLine(line));
  });
  REQUIRE(access.ok());
  auto errors = LogFollower::create(errorLog, [&](std::string_view line) {
    if (errorPattern->matches(line)) builder.addErrorLines();
  });
  REQUIRE(errors.ok());

  // A free port can be taken by someone else between our probe and nginx's bind: retry.
  std::unique_ptr<Child> nginxProcess;
  int port = 0;
  for (int attempt = 0; attempt < 3 && !nginxProcess; ++attempt) {
    port = freePort();
    writeConfig(port);
    auto started = std::make_unique<Child>(
        std::vector<std::string>{kNginx, "-p", dir.path().string(), "-c", dir.file("nginx.conf"),
                                 "-g", "daemon off;"},
        dir.file("nginx.out"), SIGQUIT);
    const auto upDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!started->exited() && !canConnect(port) &&
           std::chrono::steady_clock::now() < upDeadline) {
      ::poll(nullptr, 0, 20);
    }
    if (started->exited()) {
      for (const auto& line : readLines(dir.file("nginx.out"))) MESSAGE("nginx: " << line);
      continue;
    }
    nginxProcess = std::move(started);
  }
  REQUIRE_MESSAGE(nginxProcess != nullptr, "nginx did not start in 3 attempts");
  Child& nginx = *nginxProcess;
  REQUIRE(canConnect(port));

  std::vector<TelemetryWindow> windows;
  ProcStats procStats;
  std::uint32_t nginxProcesses = 0;
  // CPU the follow/parse/window path costs (this thread does nothing else while pumping).
  const auto threadCpuMicros = [] {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1000000 +
           static_cast<std::uint64_t>(now.tv_nsec) / 1000;
  };
  const std::uint64_t cpuStartMicros = threadCpuMicros();
  std::uint64_t procCpuMicros = 0;  // /proc sampling, reported apart
  const auto pump = [&](int timeoutMillis) {
    pollfd fds[2] = {{(*access)->fd(), POLLIN, 0}, {(*errors)->fd(), POLLIN, 0}};
    ::poll(fds, 2, timeoutMillis);
    (*access)->onReadable();
    (*errors)->onReadable();
    const std::uint64_t now = steadyMillis();
    if (now >= builder.nextCutMillis()) {
      (*access)->poll();
      (*errors)->poll();
      const std::uint64_t procStart = threadCpuMicros();
      if (auto tree = procStats.sampleTree(nginx.pid())) nginxProcesses = tree->processes;
      builder.addResourceSample(procStats.resourceSample(nginx.pid()));
      procCpuMicros += threadCpuMicros() - procStart;
      if (auto window = builder.cut(now)) windows.push_back(*window);
    }
  };

  Child wrk({kWrk, "-t1", "-c4", "-d2s", "-s", dir.file("mix.lua"),
             "http://127.0.0.1:" + std::to_string(port) + "/"},
            dir.file("wrk.out"), SIGTERM);
  // Halfway through the load: logrotate's default rotation (rename, then USR1 to reopen), and a
  // release switch, which must cut the window at that moment.
  bool rotated = false;
  const auto loadDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!wrk.exited() && std::chrono::steady_clock::now() < loadDeadline) {
    pump(50);
    if (!rotated && steadyMillis() - start >= 1000 && followedLines > 0) {
      std::filesystem::rename(accessLog, accessLog + ".1");
      REQUIRE(::kill(nginx.pid(), SIGUSR1) == 0);
      if (auto window = builder.switchRelease("v2", steadyMillis())) windows.push_back(*window);
      rotated = true;
    }
  }
  std::string wrkText;
  for (const auto& line : readLines(dir.file("wrk.out"))) wrkText += line + "\n";
  INFO("wrk output:\n"
       << wrkText << "rotated: " << rotated << ", lines followed: " << followedLines);
  REQUIRE(wrk.exited());
  CHECK(WEXITSTATUS(wrk.exitStatus()) == 0);
  REQUIRE(rotated);

  // nginx writes each line with one write(2); wait until everything it wrote has been followed.
  const auto countWritten = [&] {
    return readLines(accessLog + ".1").size() + readLines(accessLog).size();
  };
  const auto drainDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (followedLines < countWritten() && std::chrono::steady_clock::now() < drainDeadline)
    pump(50);
  for (int i = 0; i < 4; ++i) {
    (*access)->poll();  // retire the rotated file
    (*errors)->poll();
  }
  const std::uint64_t followCpuMicros = threadCpuMicros() - cpuStartMicros - procCpuMicros;
  builder.addResourceSample(procStats.resourceSample(nginx.pid()));
  windows.push_back(builder.closeNow(steadyMillis()));
  nginx.stop();

  auto lines = readLines(accessLog + ".1");
  const auto after = readLines(accessLog);
  lines.insert(lines.end(), after.begin(), after.end());
  MESSAGE("nginx wrote " << lines.size() << " lines (" << after.size() << " after the rotation) in "
                         << windows.size() << " windows");
  REQUIRE(lines.size() > 100);
  REQUIRE(after.size() > 0);  // the rotation happened under load, both files have lines
  CHECK((*access)->rotations() == 1);
  CHECK(followedLines == lines.size());

  std::uint64_t requests = 0;
  std::uint64_t unparsed = 0;
  std::uint64_t errorLines = 0;
  std::uint64_t latencies = 0;
  std::uint64_t cpuMillis = 0;
  std::map<int, std::uint64_t> statusCounts;
  std::set<std::string> releases;
  std::uint64_t previousEnd = start;
  for (const auto& window : windows) {
    CHECK(window.startMillis == previousEnd);  // contiguous, no gap and no overlap
    previousEnd = window.endMillis;
    requests += window.requests;
    unparsed += window.unparsedLines;
    errorLines += window.errorLogLines;
    cpuMillis += window.cpuMillis;
    for (auto count : window.latencyBucketCounts) latencies += count;
    for (const auto& status : window.statusCodes) statusCounts[status.code] += status.count;
    CHECK(window.status2xx + window.status4xx + window.status5xx == window.requests);
    releases.insert(window.release);
  }
  CHECK(requests == lines.size());
  CHECK(unparsed == 0);
  CHECK(latencies == requests);
  const auto expected = statusBySplitting(lines);
  CHECK(statusCounts == expected);
  CHECK(expected.count(200) == 1);
  CHECK(expected.count(404) == 1);
  CHECK(expected.count(503) == 1);
  // Every 404 is a missing file, which nginx reports as one [error] line.
  CHECK(errorLines == expected.at(404));
  CHECK(releases == std::set<std::string>{"v1", "v2"});
  CHECK(nginxProcesses == 2);  // master and one worker, from /proc
  CHECK(windows.back().memoryBytes > 0);
  CHECK(windows.back().mainPid == static_cast<std::uint32_t>(nginx.pid()));
  MESSAGE("nginx CPU over the run: "
          << cpuMillis << " ms; follow+parse+window CPU: " << followCpuMicros / 1000 << " ms for "
          << lines.size() << " lines ("
          << static_cast<double>(followCpuMicros) * 1000.0 / static_cast<double>(lines.size())
          << " ns/line); /proc sampling: " << procCpuMicros / 1000 << " ms");

  // wrk's own count of completed requests: nginx logged at least those.
  const auto wrkOutput = readLines(dir.file("wrk.out"));
  for (const auto& line : wrkOutput) {
    const auto at = line.find(" requests in ");
    if (at != std::string::npos) CHECK(std::stoull(line.substr(0, at)) <= lines.size());
  }
}
