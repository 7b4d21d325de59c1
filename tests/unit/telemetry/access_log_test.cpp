#include "agent/telemetry/access_log.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>

#include "tests/support/reference.h"

using rollgate::agent::AccessLogParser;
using rollgate::agent::AccessRecord;
using rollgate::agent::HttpMethod;
using rollgate::agent::JsonFields;
using rollgate::agent::LatencyUnit;

namespace {

const std::string kReferenceLog = rollgate::testing::referenceFile("apache_logs.combined");

const std::string kCombinedLine =
    R"(83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36")";

std::map<int, int> statusCountsOf(const AccessLogParser& parser, int& lines, int& unparsed) {
  std::ifstream in(kReferenceLog);
  REQUIRE_MESSAGE(in.good(), rollgate::testing::missingReferenceMessage(kReferenceLog));
  std::map<int, int> counts;
  std::string line;
  lines = 0;
  unparsed = 0;
  while (std::getline(in, line)) {
    ++lines;
    const AccessRecord record = parser.parseLine(line);
    if (!record.parsed) {
      ++unparsed;
      MESSAGE("unparsed: " << line);
      continue;
    }
    ++counts[record.status];
  }
  return counts;
}

const std::map<int, int> kReferenceCounts = {{200, 9126}, {304, 445}, {404, 213}, {301, 164},
                                             {206, 45},   {500, 3},   {416, 2},   {403, 2}};

}  // namespace

TEST_CASE("combined parses every line of the reference Apache log with exact status counts") {
  int lines = 0;
  int unparsed = 0;
  const auto counts = statusCountsOf(AccessLogParser::combined(), lines, unparsed);
  CHECK(lines == 10000);
  CHECK(unparsed == 0);
  CHECK(counts == kReferenceCounts);
}

TEST_CASE("the combined log_format string compiled at run time gives the same counts") {
  auto parser = AccessLogParser::fromLogFormat(
      R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent")");
  REQUIRE(parser.ok());
  int lines = 0;
  int unparsed = 0;
  CHECK(statusCountsOf(*parser, lines, unparsed) == kReferenceCounts);
  CHECK(unparsed == 0);
}

TEST_CASE("combined takes status and method, no latency") {
  const auto record = AccessLogParser::combined().parseLine(kCombinedLine);
  CHECK(record.parsed);
  CHECK(record.status == 200);
  CHECK(record.method == HttpMethod::kGet);
  CHECK_FALSE(record.hasLatency);
  CHECK_FALSE(AccessLogParser::combined().hasLatency());
}

TEST_CASE("combined: lines that do not fit are unparsed, never guessed") {
  const auto parser = AccessLogParser::combined();
  const std::string good =
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8")";
  CHECK(parser.parseLine(good).parsed);
  CHECK(parser.parseLine(good + "\r").parsed);
  const char* bad[] = {
      "",
      "garbage",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 2000 12 "-" "curl/8")",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 20 12 "-" "curl/8")",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" abc 12 "-" "curl/8")",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 600 12 "-" "curl/8")",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 099 12 "-" "curl/8")",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8" extra)",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 12)",
      R"(1.2.3.4 - - 17/May/2015:10:05:03 +0000 "GET / HTTP/1.1" 200 12 "-" "curl/8")",
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1)",
  };
  for (const char* line : bad) {
    CAPTURE(line);
    CHECK_FALSE(parser.parseLine(line).parsed);
  }
}

TEST_CASE("combined: escaped quotes, odd request lines, truncated user agent") {
  const auto parser = AccessLogParser::combined();
  // Apache escapes a quote inside a field as \".
  auto record = parser.parseLine(
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a\"b HTTP/1.1" 404 12 "-" "say \"hi\" bot")");
  CHECK(record.parsed);
  CHECK(record.status == 404);
  // A TLS handshake sent to a plain port: nginx logs the bytes, escaped, with status 400.
  record = parser.parseLine(
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "\x16\x03\x01\x00\xA5\x01" 400 157 "-" "-")");
  CHECK(record.parsed);
  CHECK(record.status == 400);
  CHECK(record.method == HttpMethod::kNone);
  record = parser.parseLine(R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "-" 408 0 "-" "-")");
  CHECK(record.parsed);
  CHECK(record.method == HttpMethod::kNone);
  record = parser.parseLine(
      R"(1.2.3.4 - - [17/May/2015:10:05:03 +0000] "PROPFIND / HTTP/1.1" 405 0 "-" "-")");
  CHECK(record.method == HttpMethod::kOther);
  // The final quoted field cut off before its closing quote (one such line in the reference log).
  record = parser.parseLine(
      R"(46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /x.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
  CHECK(record.parsed);
  CHECK(record.status == 200);
}

TEST_CASE("combined_rt takes $request_time in microseconds") {
  const auto parser = AccessLogParser::combinedRt();
  CHECK(parser.hasLatency());
  auto record = parser.parseLine(kCombinedLine + " 0.123");
  REQUIRE(record.parsed);
  CHECK(record.status == 200);
  CHECK(record.hasLatency);
  CHECK(record.latencyMicros == 123000);
  record = parser.parseLine(kCombinedLine + " 12.5");
  CHECK(record.latencyMicros == 12500000);
  record = parser.parseLine(kCombinedLine + " 0");
  CHECK(record.latencyMicros == 0);
  CHECK_FALSE(parser.parseLine(kCombinedLine).parsed);
  CHECK_FALSE(parser.parseLine(kCombinedLine + " -").parsed);
  CHECK_FALSE(parser.parseLine(kCombinedLine + " 0.1x").parsed);
  CHECK_FALSE(parser.parseLine(kCombinedLine + " .5").parsed);
  CHECK_FALSE(parser.parseLine(kCombinedLine + " 0.123 ").parsed);
}

TEST_CASE("combined_rt with $upstream_response_time") {
  const auto parser = AccessLogParser::combinedRt(true);
  auto record = parser.parseLine(kCombinedLine + " 0.200 0.150");
  REQUIRE(record.parsed);
  CHECK(record.latencyMicros == 200000);  // $request_time wins
  CHECK(parser.parseLine(kCombinedLine + " 0.200 -").parsed);
  CHECK(parser.parseLine(kCombinedLine + " 0.200 0.010, 0.020 : 0.003").parsed);
  CHECK_FALSE(parser.parseLine(kCombinedLine + " 0.200").parsed);
  CHECK_FALSE(parser.parseLine(kCombinedLine + " 0.200 x").parsed);

  auto upstreamOnly =
      AccessLogParser::fromLogFormat(R"("$request" $status $upstream_response_time)");
  REQUIRE(upstreamOnly.ok());
  record = upstreamOnly->parseLine(R"("POST /x HTTP/1.1" 502 0.010, 0.020 : 0.003)");
  REQUIRE(record.parsed);
  CHECK(record.status == 502);
  CHECK(record.method == HttpMethod::kPost);
  CHECK(record.latencyMicros == 33000);  // all tries summed
  record = upstreamOnly->parseLine(R"("GET / HTTP/1.1" 504 -)");
  REQUIRE(record.parsed);
  CHECK_FALSE(record.hasLatency);
}

TEST_CASE("any log_format: variables quoted and unquoted, ${name}, literal text between") {
  auto parser = AccessLogParser::fromLogFormat(
      R"(ts=$time_iso8601 client=$remote_addr method=$request_method uri="$uri" st=${status} rt=$request_time ua="$http_user_agent")");
  REQUIRE(parser.ok());
  auto record = parser->parseLine(
      R"(ts=2024-01-01T00:00:00+00:00 client=10.0.0.1 method=DELETE uri="/a b" st=503 rt=1.002 ua="x y")");
  REQUIRE(record.parsed);
  CHECK(record.status == 503);
  CHECK(record.method == HttpMethod::kDelete);
  CHECK(record.latencyMicros == 1002000);
  CHECK_FALSE(
      parser
          ->parseLine(
              R"(ts=2024-01-01T00:00:00+00:00 client=10.0.0.1 method=DELETE uri="/a b" st=503 rt=1.002)")
          .parsed);
  CHECK_FALSE(
      parser
          ->parseLine(
              R"(ts=2024-01-01T00:00:00+00:00 client=10.0.0.1 method=DELETE uri="/a b" status=503 rt=1.002 ua="x y")")
          .parsed);
}

TEST_CASE("log_format strings that cannot be matched are rejected with the reason") {
  auto noStatus = AccessLogParser::fromLogFormat("$remote_addr $request_time");
  REQUIRE_FALSE(noStatus.ok());
  CHECK(noStatus.error().message.find("no '$status'") != std::string::npos);
  auto adjacent = AccessLogParser::fromLogFormat("$remote_addr$status");
  REQUIRE_FALSE(adjacent.ok());
  CHECK(adjacent.error().message.find("'$status' follows another variable") != std::string::npos);
  CHECK_FALSE(AccessLogParser::fromLogFormat("$status ${oops").ok());
  CHECK_FALSE(AccessLogParser::fromLogFormat("$status $").ok());
  CHECK_FALSE(AccessLogParser::fromLogFormat("$status $status").ok());
  auto name = AccessLogParser::fromName("combind");
  REQUIRE_FALSE(name.ok());
  CHECK(name.error().message.find("'combind'") != std::string::npos);
}

TEST_CASE("JSON lines with default and configured field names") {
  const auto parser = AccessLogParser::json();
  auto record = parser.parseLine(
      R"({"time":"2024-01-01T00:00:00+00:00","status":"404","request_time":"0.002","request_method":"HEAD","uri":"/a\"b"})");
  REQUIRE(record.parsed);
  CHECK(record.status == 404);
  CHECK(record.latencyMicros == 2000);
  CHECK(record.method == HttpMethod::kHead);
  record = parser.parseLine(
      R"( { "status" : 200 , "request_time" : 1.5, "extra": {"a":[1,2,{"b":"}"}]} } )");
  REQUIRE(record.parsed);
  CHECK(record.status == 200);
  CHECK(record.latencyMicros == 1500000);
  CHECK(record.method == HttpMethod::kNone);
  record = parser.parseLine(R"({"status":200})");
  REQUIRE(record.parsed);
  CHECK_FALSE(record.hasLatency);

  const char* bad[] = {
      "",
      "{}",
      "[]",
      "not json",
      R"({"status":200)",
      R"({"status":200} x)",
      R"({"status":"2000"})",
      R"({"status":"abc"})",
      R"({"status":{"code":200}})",
      R"({"request_time":0.1})",
      R"({"status":200,"request_time":"fast"})",
      R"({"status":200,})",
      R"({"status":200 "x":1})",
      R"({"status":200,"status":500})",
  };
  for (const char* line : bad) {
    CAPTURE(line);
    CHECK_FALSE(parser.parseLine(line).parsed);
  }

  const auto custom =
      AccessLogParser::json(JsonFields{"code", "duration_ms", LatencyUnit::kMillis, "request"});
  record = custom.parseLine(R"({"code":201,"duration_ms":12.5,"request":"PUT /x HTTP/1.1"})");
  REQUIRE(record.parsed);
  CHECK(record.status == 201);
  CHECK(record.latencyMicros == 12500);
  CHECK(record.method == HttpMethod::kPut);
  const auto nanos = AccessLogParser::json(JsonFields{"status", "ns", LatencyUnit::kNanos, ""});
  CHECK(nanos.parseLine(R"({"status":200,"ns":2500000})").latencyMicros == 2500);
}
