#include "agent/telemetry/parse_command.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/reference.h"
#include "tests/unit/telemetry/test_files.h"

using rollgate::agent::AccessLogParser;
using rollgate::agent::addParseCommand;
using rollgate::agent::parseFileSummary;
using rollgate::testing::TempDir;

namespace {

const std::string kReferenceLog = rollgate::testing::referenceFile("apache_logs.combined");

struct CommandRun {
  int exitCode = 0;
  std::string out;
  std::string err;
};

// Runs `prog parse ARGS...` through CLI11 in-process, capturing stdout and stderr.
CommandRun runCommand(std::vector<std::string> args) {
  CLI::App app("test");
  addParseCommand(app);
  app.require_subcommand(1);
  std::ostringstream out;
  std::ostringstream err;
  auto* oldOut = std::cout.rdbuf(out.rdbuf());
  auto* oldErr = std::cerr.rdbuf(err.rdbuf());
  CommandRun run;
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::Error& error) {
    run.exitCode = app.exit(error, out, err);
  }
  std::cout.rdbuf(oldOut);
  std::cerr.rdbuf(oldErr);
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace

TEST_CASE("parse summary of the reference log") {
  REQUIRE_MESSAGE(std::ifstream(kReferenceLog).good(),
                  rollgate::testing::missingReferenceMessage(kReferenceLog));
  auto summary = parseFileSummary(kReferenceLog, AccessLogParser::combined());
  REQUIRE(summary.ok());
  CHECK(summary->lines == 10000);
  CHECK(summary->parsed == 10000);
  CHECK(summary->unparsed == 0);
  CHECK(summary->statusCounts.at(200) == 9126);
  CHECK(summary->statusCounts.at(416) == 2);
  CHECK_FALSE(summary->hasLatency);
  CHECK(summary->linesPerSecond > 0);
}

TEST_CASE("parse command: text output with latency percentiles, last line without newline") {
  TempDir dir;
  const auto path = dir.file("rt.log");
  {
    std::ofstream out(path);
    for (int i = 1; i <= 100; ++i) {
      out << R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" )"
          << (i % 10 == 0 ? 500 : 200) << R"( 5 "-" "curl" 0.)"
          << (i < 10    ? "00"
              : i < 100 ? "0"
                        : "")
          << i;
      if (i != 100) out << "\n";
    }
    out << "\nnot a log line\n";
  }
  const auto run = runCommand({"parse", "--format", "combined_rt", path});
  CHECK(run.exitCode == 0);
  CAPTURE(run.out);
  CHECK(run.out.find("lines:     101\n") != std::string::npos);
  CHECK(run.out.find("parsed:    100\n") != std::string::npos);
  CHECK(run.out.find("unparsed:  1\n") != std::string::npos);
  CHECK(run.out.find("status 200: 90\n") != std::string::npos);
  CHECK(run.out.find("status 500: 10\n") != std::string::npos);
  CHECK(run.out.find("latency p50: 50.000 ms\n") != std::string::npos);
  CHECK(run.out.find("latency p90: 90.000 ms\n") != std::string::npos);
  CHECK(run.out.find("latency p99: 99.000 ms\n") != std::string::npos);
  CHECK(run.out.find("lines/s:") != std::string::npos);

  const auto json = runCommand({"parse", "--format", "combined_rt", path, "--json"});
  CHECK(json.exitCode == 0);
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["lines"] == 101);
  CHECK(doc["status"]["500"] == 10);
  CHECK(doc["latency_p99_micros"] == 99000);
}

TEST_CASE("parse command: a log_format string and json lines") {
  TempDir dir;
  const auto path = dir.file("custom.log");
  {
    std::ofstream out(path);
    out << "10.0.0.1 [x] 204 0.001\n10.0.0.1 [x] 404 0.003\n";
  }
  auto run =
      runCommand({"parse", "--format", "$remote_addr [$time_local] $status $request_time", path});
  CHECK(run.exitCode == 0);
  CHECK(run.out.find("status 204: 1\n") != std::string::npos);
  CHECK(run.out.find("latency p50: 1.000 ms\n") != std::string::npos);

  const auto jsonPath = dir.file("json.log");
  {
    std::ofstream out(jsonPath);
    out << R"({"code":"200","ms":"5"})"
        << "\n"
        << R"({"code":"503","ms":"7"})"
        << "\n";
  }
  run = runCommand({"parse", "--format", "json", "--json-status", "code", "--json-latency", "ms",
                    "--json-latency-unit", "ms", jsonPath});
  CHECK(run.exitCode == 0);
  CHECK(run.out.find("parsed:    2\n") != std::string::npos);
  CHECK(run.out.find("status 503: 1\n") != std::string::npos);
  CHECK(run.out.find("latency p99: 7.000 ms\n") != std::string::npos);
}

TEST_CASE("parse command errors: one stderr line naming the thing and value, exit code 2") {
  auto run = runCommand({"parse", "--format", "combined", "/nonexistent/access.log"});
  CHECK(run.exitCode == 2);
  CHECK(run.err == "parse: file '/nonexistent/access.log': No such file or directory\n");
  run = runCommand({"parse", "--format", "$remote_addr$status", kReferenceLog});
  CHECK(run.exitCode == 2);
  CHECK(run.err.find("parse: --format: log_format: variable '$status'") == 0);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  run = runCommand({"parse", "--format", "apache", kReferenceLog});
  CHECK(run.exitCode == 2);
  CHECK(run.err.find("'apache'") != std::string::npos);
  run = runCommand({"parse", "--format", "json", "--json-latency-unit", "hours", kReferenceLog});
  CHECK(run.exitCode == 2);
  CHECK(run.err.find("'hours'") != std::string::npos);
}
