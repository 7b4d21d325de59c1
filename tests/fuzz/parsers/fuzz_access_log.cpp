// Fuzzes each fixed access-log parser with arbitrary lines. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/telemetry/access_log.h"

using rollgate::agent::AccessLogParser;
using rollgate::agent::AccessRecord;
using rollgate::agent::JsonFields;
using rollgate::agent::LatencyUnit;

namespace {

struct Parsers {
  AccessLogParser parsers[6] = {
      AccessLogParser::combined(),
      AccessLogParser::combinedRt(false),
      AccessLogParser::combinedRt(true),
      AccessLogParser::json(),
      AccessLogParser::json(JsonFields{"code", "duration", LatencyUnit::kNanos, "request"}),
      AccessLogParser::fromLogFormat(
          R"($remote_addr "${request}" $status [$time_local] $upstream_response_time "$http_user_agent")")
          .value(),
  };
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Parsers kParsers;  // built once per fuzzing process
  if (size == 0) return 0;
  const AccessLogParser& parser = kParsers.parsers[data[0] % 6];
  const std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);
  const AccessRecord record = parser.parseLine(line);
  if (record.parsed && (record.status < 100 || record.status > 599)) std::abort();
  if (!record.parsed && (record.status != 0 || record.hasLatency)) std::abort();
  return 0;
}
