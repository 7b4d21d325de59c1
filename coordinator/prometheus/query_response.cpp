#include "coordinator/prometheus/query_response.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace rollgate::coordinator {
namespace {

using nlohmann::json;

std::string bodyStart(std::string_view body) {
  std::string start(body.substr(0, 200));
  for (char& c : start) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return "\"" + start + (body.size() > 200 ? "...\"" : "\"");
}

// Prometheus writes sample values as strings: "1.5", "NaN", "+Inf", "-Inf".
double sampleValue(const json& value) {
  if (!value.is_string()) throw std::runtime_error("a sample value is not a string");
  const std::string text = value.get<std::string>();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  double parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw std::runtime_error("sample value \"" + text + "\" is not a number");
  }
  return parsed;
}

// [time, "value"]
double pointValue(const json& point) {
  if (!point.is_array() || point.size() != 2) {
    throw std::runtime_error("a sample is not [time, value]");
  }
  return sampleValue(point[1]);
}

PromSeries seriesOf(const json& item, const std::string& type) {
  PromSeries series;
  for (const auto& [key, value] : item.at("metric").items()) {
    series.labels[key] = value.get<std::string>();
  }
  if (type == "vector") {
    series.values.push_back(pointValue(item.at("value")));
  } else {
    for (const auto& point : item.at("values")) series.values.push_back(pointValue(point));
  }
  return series;
}

// The API's JSON of a successful answer, or the failure.
QueryFailure parseApiJson(long httpStatus, std::string_view body, json& j, std::string& error) {
  j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("status")) {
    error = "Prometheus answered HTTP " + std::to_string(httpStatus) +
            " with something other than its API's JSON: " + bodyStart(body);
    return QueryFailure::kUnreachable;
  }
  if (j.value("status", "") != "success") {
    std::string type = j.contains("errorType") && j["errorType"].is_string()
                           ? j["errorType"].get<std::string>()
                           : "error";
    std::string text = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                     : "(no message)";
    error = "Prometheus refused the query: " + type + ": " + text;
    return QueryFailure::kRefused;
  }
  return QueryFailure::kNone;
}

}  // namespace

QueryOutcome parseQueryResponse(long httpStatus, std::string_view body) {
  QueryOutcome outcome;
  json j;
  outcome.failure = parseApiJson(httpStatus, body, j, outcome.error);
  if (!outcome.ok()) return outcome;
  auto malformed = [&](const std::string& why) {
    outcome.failure = QueryFailure::kUnreachable;
    outcome.error = "Prometheus's answer is malformed: " + why;
    outcome.result = {};
    return outcome;
  };
  try {
    PromQueryResult& result = outcome.result;
    const json& data = j.at("data");
    result.resultType = data.at("resultType").get<std::string>();
    const json& items = data.at("result");
    if (result.resultType == "vector" || result.resultType == "matrix") {
      for (const auto& item : items) result.series.push_back(seriesOf(item, result.resultType));
    } else if (result.resultType == "scalar") {
      PromSeries series;
      series.values.push_back(pointValue(items));
      result.series.push_back(std::move(series));
    } else if (result.resultType != "string") {
      return malformed("unknown resultType \"" + result.resultType + "\"");
    }
    if (j.contains("warnings")) {
      for (const auto& w : j.at("warnings")) result.warnings.push_back(w.get<std::string>());
    }
    return outcome;
  } catch (const std::exception& error) {
    return malformed(error.what());
  }
}

Result<double> singleValue(const PromQueryResult& result) {
  if (result.resultType == "string") {
    return makeError("no data: the query returns a string, not a number");
  }
  if (result.series.empty()) return makeError("no data: the query returned no series");
  if (result.series.size() > 1) {
    return makeError("no data: the query returned " + std::to_string(result.series.size()) +
                     " series; it must select one series per host (filter on {{host}} or "
                     "{{address}}) or aggregate them (sum, avg)");
  }
  const auto& values = result.series.front().values;
  double sum = 0;
  std::size_t finite = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    sum += v;
    finite += 1;
  }
  if (finite == 0) {
    if (values.empty()) return makeError("no data: the series has no points");
    return makeError(std::string("no data: the value is ") +
                     (std::isnan(values.back()) ? "NaN" : "infinite"));
  }
  return sum / static_cast<double>(finite);
}

Result<std::string> parseMetadataType(long httpStatus, std::string_view body,
                                      const std::string& metric) {
  json j;
  std::string error;
  if (parseApiJson(httpStatus, body, j, error) != QueryFailure::kNone) return makeError(error);
  try {
    const json& data = j.at("data");
    if (!data.contains(metric)) return std::string();
    const json& entries = data.at(metric);
    if (!entries.is_array() || entries.empty()) return std::string();
    return entries.front().value("type", std::string());
  } catch (const std::exception& error) {
    return makeError("Prometheus's metadata answer is malformed: " + std::string(error.what()));
  }
}

bool counterByName(std::string_view name) {
  for (std::string_view suffix : {"_total", "_count", "_sum", "_bucket"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

}  // namespace rollgate::coordinator
