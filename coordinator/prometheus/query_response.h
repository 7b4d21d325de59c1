// Prometheus HTTP API answers (/api/v1/query, /api/v1/query_range, /api/v1/metadata), parsed
// into plain values, and the one number a Prometheus check takes from a query's answer for one
// host at one look.
//
// An answer is {"status": "success", "data": {"resultType": ..., "result": ...}} or
// {"status": "error", "errorType": "bad_data", "error": "..."}; values are strings ("0.5", "NaN",
// "+Inf"). Result types: vector (series with one [time, value]), matrix (series with
// "values": [[time, value], ...]), scalar and string ([time, value]).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rollgate::coordinator {

struct PromSeries {
  std::map<std::string, std::string> labels;  // the "metric" object, __name__ included if kept
  std::vector<double> values;                 // one for a vector; the points for a matrix
};

struct PromQueryResult {
  std::string resultType;             // "vector", "matrix", "scalar" or "string"
  std::vector<PromSeries> series;     // scalar: one series without labels
  std::vector<std::string> warnings;  // Prometheus's own "warnings"
};

// How a query ended. kUnreachable: no HTTP answer (connection refused, timeout, DNS) or one that
// is not the API's JSON (a proxy's error page); kRefused: Prometheus answered with an API error
// (an invalid query: "bad_data", an execution error), `error` is its text.
enum class QueryFailure : std::uint8_t { kNone, kUnreachable, kRefused };

struct QueryOutcome {
  QueryFailure failure = QueryFailure::kNone;
  PromQueryResult result;  // when failure is kNone
  std::string error;       // otherwise: what happened
  bool ok() const { return failure == QueryFailure::kNone; }
};

// Parses an answer. An error answer (any HTTP status) is kRefused with "Prometheus refused the
// query: <errorType>: <error>"; anything that is not the API's JSON (or a malformed one) is
// kUnreachable naming the HTTP status and the start of the body.
QueryOutcome parseQueryResponse(long httpStatus, std::string_view body);

// The value a check takes from one host's answer: the single series' value (a matrix: the mean
// of its finite points). Fails, saying why there is no data, for an empty result, NaN or
// infinite values, more than one series (the query must select one host's series or aggregate
// them) and a string result.
Result<double> singleValue(const PromQueryResult& result);

// Names of raw counters in a result: the __name__ of each series that kept one (functions such
// as rate() drop it, so a kept name is a selector returned as it is), when `isCounter` says the
// name is a counter.
template <typename IsCounter>
std::vector<std::string> rawCounterNames(const PromQueryResult& result, IsCounter isCounter) {
  std::vector<std::string> names;
  for (const auto& series : result.series) {
    auto name = series.labels.find("__name__");
    if (name == series.labels.end() || !isCounter(name->second)) continue;
    bool seen = false;
    for (const auto& n : names) seen |= n == name->second;
    if (!seen) names.push_back(name->second);
  }
  return names;
}

// Parses /api/v1/metadata?metric=NAME: the metric's type ("counter", "gauge", "histogram",
// "summary", "unknown"), or empty when Prometheus has no metadata for it.
Result<std::string> parseMetadataType(long httpStatus, std::string_view body,
                                      const std::string& metric);

// Whether a metric name is a counter by the exposition conventions (a `_total` suffix, or a
// histogram's or summary's `_count`, `_sum` or `_bucket`), for names without metadata.
bool counterByName(std::string_view name);

}  // namespace rollgate::coordinator
