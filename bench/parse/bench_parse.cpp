// bench_parse: generates a deterministic file of nginx `combined_rt` lines (combined +
// $request_time) and measures rollgate's parse rate on one core:
//   - "in-memory": the file is read into memory first, then split with memchr and parsed;
//   - "file": parseFileSummary, i.e. what `rollgate-agent parse` does (read(2) in 1 MiB chunks,
//     split, parse, count, percentiles).
// Each is run --repeat times; the best and median rates are printed in lines per second.
// Usage: bench_parse [--lines N] [--file PATH] [--keep] [--generate-only]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "agent/telemetry/access_log.h"
#include "agent/telemetry/parse_command.h"

namespace {

using rollgate::agent::AccessLogParser;

// xorshift64*: deterministic across platforms.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

void generate(const std::string& path, std::uint64_t lines) {
  static const char* const kMethods[] = {"GET",  "GET",  "GET", "GET",
                                         "POST", "HEAD", "PUT", "DELETE"};
  static const char* const kPaths[] = {"/",
                                       "/index.html",
                                       "/api/v1/users",
                                       "/api/v1/orders/",
                                       "/static/app.js",
                                       "/static/style.css",
                                       "/images/logo.png",
                                       "/search?q=rollgate&page=",
                                       "/healthz",
                                       "/favicon.ico"};
  static const char* const kAgents[] = {
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.1 Safari/605.1.15",
      "curl/7.88.1", "Go-http-client/1.1",
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"};
  static const char* const kReferers[] = {"-", "-", "https://example.com/",
                                          "https://www.google.com/"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  Rng rng{0x9E3779B97F4A7C15ULL};
  for (std::uint64_t i = 0; i < lines; ++i) {
    const std::uint64_t r = rng.below(1000);
    const int status = r < 900   ? 200
                       : r < 930 ? 304
                       : r < 950 ? 301
                       : r < 985 ? 404
                       : r < 995 ? 500
                                 : 503;
    const std::uint64_t latencyMillis =
        rng.below(100) < 95 ? rng.below(200) : 200 + rng.below(3000);
    const std::uint64_t second = i / 1000;
    std::fprintf(
        out,
        "%u.%u.%u.%u - %s [%02u/%s/2024:%02u:%02u:%02u +0000] \"%s %s%u HTTP/1.1\" %d %u \"%s\" "
        "\"%s\" %u.%03u\n",
        static_cast<unsigned>(10 + rng.below(200)), static_cast<unsigned>(rng.below(256)),
        static_cast<unsigned>(rng.below(256)), static_cast<unsigned>(1 + rng.below(254)),
        rng.below(20) == 0 ? "alice" : "-", static_cast<unsigned>(1 + (second / 86400) % 28),
        kMonths[(second / (86400 * 28)) % 12], static_cast<unsigned>((second / 3600) % 24),
        static_cast<unsigned>((second / 60) % 60), static_cast<unsigned>(second % 60),
        kMethods[rng.below(8)], kPaths[rng.below(10)], static_cast<unsigned>(rng.below(10000)),
        status, static_cast<unsigned>(status == 304 ? 0 : 100 + rng.below(50000)),
        kReferers[rng.below(4)], kAgents[rng.below(5)], static_cast<unsigned>(latencyMillis / 1000),
        static_cast<unsigned>(latencyMillis % 1000));
  }
  std::fclose(out);
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double threadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct Rates {
  double best = 0;
  double median = 0;
};

Rates summarize(std::vector<double> rates) {
  std::sort(rates.begin(), rates.end());
  return {rates.back(), rates[rates.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Measure rollgate's combined_rt parse rate on one core");
  std::uint64_t lines = 2000000;
  std::string path = "/tmp/rollgate-bench-parse.log";
  bool keep = false;
  bool generateOnly = false;
  int repeat = 5;
  app.add_option("--lines", lines, "Lines to generate")->capture_default_str();
  app.add_option("--file", path, "Where to write the generated file")->capture_default_str();
  app.add_option("--repeat", repeat, "Runs per measurement")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--keep", keep, "Keep the file (for bench/parse/compare.sh)");
  app.add_flag("--generate-only", generateOnly, "Only write the file (implies --keep)");
  CLI11_PARSE(app, argc, argv);

  generate(path, lines);
  struct stat st {};
  ::stat(path.c_str(), &st);
  std::printf("file: %s, %llu lines, %.1f MB\n", path.c_str(),
              static_cast<unsigned long long>(lines), static_cast<double>(st.st_size) / 1e6);
  if (generateOnly) return 0;

  const AccessLogParser parser = AccessLogParser::combinedRt();
  const std::string data = readAll(path);
  std::vector<double> memoryRates;
  std::vector<double> memoryCpuRates;
  std::uint64_t parsed = 0;
  std::uint64_t checksum = 0;
  for (int run = 0; run < repeat; ++run) {
    parsed = 0;
    checksum = 0;
    std::uint64_t count = 0;
    const auto start = std::chrono::steady_clock::now();
    const double cpuStart = threadCpuSeconds();
    const char* p = data.data();
    const char* const end = p + data.size();
    while (p < end) {
      const auto* newline =
          static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      const char* stop = newline != nullptr ? newline : end;
      const auto record = parser.parseLine({p, static_cast<std::size_t>(stop - p)});
      ++count;
      parsed += record.parsed ? 1 : 0;
      checksum += record.status + record.latencyMicros + static_cast<std::uint64_t>(record.method);
      p = stop + 1;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpuSeconds = threadCpuSeconds() - cpuStart;
    memoryRates.push_back(static_cast<double>(count) / seconds);
    memoryCpuRates.push_back(static_cast<double>(count) / cpuSeconds);
  }
  const Rates memory = summarize(memoryRates);
  const Rates memoryCpu = summarize(memoryCpuRates);
  std::printf(
      "rollgate in-memory parse: per CPU second best %.2f M lines/s, median %.2f M lines/s; "
      "per wall second best %.2f M lines/s (parsed %llu, checksum %llu)\n",
      memoryCpu.best / 1e6, memoryCpu.median / 1e6, memory.best / 1e6,
      static_cast<unsigned long long>(parsed), static_cast<unsigned long long>(checksum));

  std::vector<double> fileRates;
  std::vector<double> fileCpuRates;
  for (int run = 0; run < repeat; ++run) {
    const double cpuStart = threadCpuSeconds();
    auto summary = rollgate::agent::parseFileSummary(path, parser);
    const double cpuSeconds = threadCpuSeconds() - cpuStart;
    if (!summary) {
      std::fprintf(stderr, "%s\n", summary.error().message.c_str());
      return 1;
    }
    fileRates.push_back(summary->linesPerSecond);
    fileCpuRates.push_back(static_cast<double>(summary->lines) / cpuSeconds);
    if (run == 0) {
      std::printf("parse summary: parsed %llu unparsed %llu p50 %.3f ms p99 %.3f ms\n",
                  static_cast<unsigned long long>(summary->parsed),
                  static_cast<unsigned long long>(summary->unparsed), summary->p50Micros / 1000.0,
                  summary->p99Micros / 1000.0);
    }
  }
  const Rates file = summarize(fileRates);
  const Rates fileCpu = summarize(fileCpuRates);
  std::printf(
      "rollgate file parse (read + parse + counts + percentiles): per CPU second best %.2f M "
      "lines/s, median %.2f M lines/s; per wall second best %.2f M lines/s\n",
      fileCpu.best / 1e6, fileCpu.median / 1e6, file.best / 1e6);
  if (!keep) ::unlink(path.c_str());
  return 0;
}
