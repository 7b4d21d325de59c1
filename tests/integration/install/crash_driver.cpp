// Test-only driver: runs ONE install command with the real Installer, and can be made to stop at
// a chosen step so a test can SIGKILL it there:
//   ROLLGATE_TEST_PAUSE_AT=<fetch|verify|unpack|switch|restart|health|done|fetch-bytes>
//   ROLLGATE_TEST_MARKER=<path>   written when the driver has paused
//   ROLLGATE_TEST_CONTINUE=<path> optional: the driver resumes once this file exists (so a test
//                                 can kill it a little later, e.g. in the middle of the unpack)
// ("fetch-bytes" pauses in the middle of the download, after the first chunk.)
// Usage: install_crash_driver ROOT LEDGER BUS_ADDRESS UNIT HEALTH_URL SOURCE_URL SHA256 SIZE
//                             VERSION SEQUENCE
// Prints the outcome and message when it is not killed.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "agent/install/installer.h"
#include "common/sys/env.h"
#include "agent/systemd/systemd_client.h"

using namespace rollgate;

namespace {
void pauseHere(const char* marker) {
  { std::ofstream(marker) << getpid() << "\n"; }
  const char* resume = std::getenv("ROLLGATE_TEST_CONTINUE");
  for (;;) {
    if (resume && ::access(resume, F_OK) == 0) return;
    ::usleep(1000);
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 11) {
    std::cerr << "usage: install_crash_driver ROOT LEDGER BUS UNIT HEALTH_URL SOURCE SHA256 SIZE "
                 "VERSION SEQUENCE\n";
    return 2;
  }
  const char* pauseAt = std::getenv("ROLLGATE_TEST_PAUSE_AT");
  const char* marker = std::getenv("ROLLGATE_TEST_MARKER");
  std::string pause = pauseAt ? pauseAt : "";
  auto client = systemd::SystemdClient::connect({systemd::BusKind::kUser, argv[3]});
  if (!client) {
    std::cerr << client.error().message << "\n";
    return 1;
  }
  sys::PosixEnv env;
  install::CommandLedger ledger(argv[2], env);
  if (auto s = ledger.load(); !s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  install::InstallerConfig config;
  config.service = "web";
  config.installRoot = argv[1];
  config.unit = argv[4];
  config.healthUrl = argv[5];
  config.healthTimeoutMillis = 5000;
  config.healthIntervalMillis = 50;
  install::FileSource source;
  auto logger = spdlog::stderr_logger_mt("driver");
  install::Installer installer(config, **client, ledger, {&source}, env, logger);
  if (auto s = installer.open(); !s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  installer.setBeforeStepHook([&](install::Step step) {
    if (marker && pause == install::stepName(step)) pauseHere(marker);
  });
  Command command;
  command.ref = {"rollout-crash", std::strtoull(argv[10], nullptr, 10), 1};
  command.service = "web";
  InstallRelease body;
  body.version = argv[9];
  body.sha256 = argv[7];
  body.sizeBytes = std::strtoull(argv[8], nullptr, 10);
  body.source = argv[6];
  command.body = body;
  std::atomic<bool> cancel{false};
  auto result = installer.execute(
      command,
      [&](const CommandResult& progress) {
        if (marker && pause == "fetch-bytes" && progress.bytesDone > 0 &&
            progress.bytesDone < progress.bytesTotal) {
          pauseHere(marker);
        }
      },
      cancel);
  std::cout << static_cast<int>(result.outcome) << " " << result.message << "\n";
  return 0;
}
