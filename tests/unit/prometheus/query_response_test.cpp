// Answers as Prometheus 2.x writes them (bodies copied from its HTTP API documentation and from
// Debian's prometheus 2.42), parsed by query_response.h.
#include "coordinator/prometheus/query_response.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace rollgate;
using namespace rollgate::coordinator;

namespace {

std::string error(const Result<double>& r) { return r.ok() ? "" : r.error().message; }

}  // namespace

TEST_CASE("an instant vector with one series gives its value; labels and __name__ are kept") {
  auto out = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{"__name__":"app_error_ratio","host":"eu-a-1","job":"web"},
               "value":[1701500000.123,"0.0125"]}]}})");
  REQUIRE(out.ok());
  CHECK(out.result.resultType == "vector");
  REQUIRE(out.result.series.size() == 1);
  CHECK(out.result.series[0].labels.at("host") == "eu-a-1");
  CHECK(out.result.series[0].labels.at("__name__") == "app_error_ratio");
  auto value = singleValue(out.result);
  REQUIRE(value.ok());
  CHECK(*value == doctest::Approx(0.0125));
}

TEST_CASE("a matrix (query_range) gives the mean of its finite points") {
  auto out = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"matrix",
    "result":[{"metric":{"host":"eu-a-1"},
               "values":[[1701500000,"1"],[1701500010,"NaN"],[1701500020,"3"]]}]}})");
  REQUIRE(out.ok());
  CHECK(out.result.series[0].values.size() == 3);
  CHECK(*singleValue(out.result) == doctest::Approx(2.0));
}

TEST_CASE("a scalar gives its value; a string is no data") {
  auto scalar = parseQueryResponse(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[1701500000,"42"]}})");
  REQUIRE(scalar.ok());
  CHECK(*singleValue(scalar.result) == doctest::Approx(42));
  auto text = parseQueryResponse(
      200, R"({"status":"success","data":{"resultType":"string","result":[1701500000,"hello"]}})");
  REQUIRE(text.ok());
  CHECK(error(singleValue(text.result)).find("string") != std::string::npos);
}

TEST_CASE("empty results, NaN, infinity and several series are no data, saying which") {
  auto empty =
      parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  REQUIRE(empty.ok());
  CHECK(error(singleValue(empty.result)) == "no data: the query returned no series");

  auto nan = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"value":[1701500000,"NaN"]}]}})");
  REQUIRE(nan.ok());
  CHECK(std::isnan(nan.result.series[0].values[0]));
  CHECK(error(singleValue(nan.result)) == "no data: the value is NaN");

  auto inf = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"value":[1701500000,"+Inf"]}]}})");
  REQUIRE(inf.ok());
  CHECK(error(singleValue(inf.result)) == "no data: the value is infinite");

  auto two = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{"host":"a"},"value":[1,"1"]},{"metric":{"host":"b"},"value":[1,"2"]}]}})");
  REQUIRE(two.ok());
  CHECK(error(singleValue(two.result)).find("returned 2 series") != std::string::npos);
}

TEST_CASE("Prometheus's error answers are refusals with its own text") {
  auto bad = parseQueryResponse(400, R"({"status":"error","errorType":"bad_data",
    "error":"invalid parameter \"query\": 1:6: parse error: unexpected right parenthesis ')'"})");
  CHECK((bad.failure == QueryFailure::kRefused));
  CHECK(bad.error ==
        "Prometheus refused the query: bad_data: invalid parameter \"query\": 1:6: parse error: "
        "unexpected right parenthesis ')'");
  auto exec = parseQueryResponse(422, R"({"status":"error","errorType":"execution",
    "error":"vector cannot contain metrics with the same labelset"})");
  CHECK((exec.failure == QueryFailure::kRefused));
  CHECK(exec.error.find("execution: vector cannot contain") != std::string::npos);
}

TEST_CASE("an answer that is not the API's JSON (a proxy's page, garbage) is unreachable") {
  auto html = parseQueryResponse(502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
  CHECK((html.failure == QueryFailure::kUnreachable));
  CHECK(html.error.find("HTTP 502") != std::string::npos);
  CHECK(html.error.find("502 Bad Gateway") != std::string::npos);
  auto malformed = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"value":[1,"twelve"]}]}})");
  CHECK((malformed.failure == QueryFailure::kUnreachable));
  CHECK(malformed.error.find("\"twelve\" is not a number") != std::string::npos);
  auto unknown = parseQueryResponse(
      200, R"({"status":"success","data":{"resultType":"histogram","result":[]}})");
  CHECK(!unknown.ok());
}

TEST_CASE("raw counters are the series that kept a counter's __name__") {
  auto out = parseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{"__name__":"app_requests_total","host":"a"},"value":[1,"1200"]},
              {"metric":{"__name__":"app_requests_total","host":"b"},"value":[1,"1300"]},
              {"metric":{"__name__":"app_temperature","host":"b"},"value":[1,"30"]},
              {"metric":{"host":"c"},"value":[1,"0.5"]}]}})");
  REQUIRE(out.ok());
  auto names = rawCounterNames(out.result, [](const std::string& n) { return counterByName(n); });
  REQUIRE(names.size() == 1);
  CHECK(names[0] == "app_requests_total");
  CHECK(counterByName("http_request_duration_seconds_bucket"));
  CHECK(counterByName("rpc_seconds_count"));
  CHECK(!counterByName("app_temperature"));
  CHECK(!counterByName("_total"));
}

TEST_CASE("metadata gives a metric's type, empty when Prometheus has none") {
  std::string body = R"({"status":"success","data":{"app_requests":[
    {"type":"counter","help":"Requests.","unit":""}]}})";
  CHECK(*parseMetadataType(200, body, "app_requests") == "counter");
  CHECK(parseMetadataType(200, R"({"status":"success","data":{}})", "x")->empty());
  CHECK(!parseMetadataType(200, "not json", "x").ok());
}
