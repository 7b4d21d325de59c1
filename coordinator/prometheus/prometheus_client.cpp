#include "coordinator/prometheus/prometheus_client.h"

#include <cctype>
#include <cstdio>

namespace rollgate::coordinator {
namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string trimmedBase(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

Result<std::unique_ptr<PrometheusRequest>> PrometheusRequest::make(
    const PrometheusOptions& options, const std::string& pathAndQuery) {
  std::unique_ptr<PrometheusRequest> request(new PrometheusRequest());
  request->curl_.reset(curl_easy_init());
  if (!request->curl_) return makeError("libcurl: curl_easy_init failed");
  request->base_ = trimmedBase(options.url);
  std::string url = request->base_ + pathAndQuery;
  CURL* c = request->curl_.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, request->errorBuffer_);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeoutMillis));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeoutMillis));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &PrometheusRequest::onData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, request.get());
  curl_easy_setopt(c, CURLOPT_PRIVATE, request.get());
  return request;
}

std::size_t PrometheusRequest::onData(char* data, std::size_t size, std::size_t count, void* self) {
  auto* request = static_cast<PrometheusRequest*>(self);
  constexpr std::size_t kMaxBodyBytes = 8 * 1024 * 1024;
  if (request->body_.size() + size * count > kMaxBodyBytes) return 0;  // aborts the transfer
  request->body_.append(data, size * count);
  return size * count;
}

void PrometheusRequest::perform() { finished(curl_easy_perform(curl_.get())); }

void PrometheusRequest::finished(CURLcode code) { code_ = code; }

long PrometheusRequest::httpStatus() const {
  long status = 0;
  curl_easy_getinfo(curl_.get(), CURLINFO_RESPONSE_CODE, &status);
  return status;
}

std::string PrometheusRequest::transportError() const {
  std::string detail = errorBuffer_[0] != '\0' ? errorBuffer_ : curl_easy_strerror(code_);
  return "Prometheus at " + base_ + " unreachable: " + detail;
}

std::string instantQueryPath(const std::string& promql, double timeSeconds) {
  std::string path = "/api/v1/query?query=" + escaped(promql);
  if (timeSeconds > 0) {
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", timeSeconds);
    path += "&time=" + std::string(time);
  }
  return path;
}

std::string metadataPath(const std::string& metric) {
  return "/api/v1/metadata?metric=" + escaped(metric);
}

QueryOutcome queryOutcome(const PrometheusRequest& request) {
  QueryOutcome outcome;
  if (!request.reached()) {
    outcome.failure = QueryFailure::kUnreachable;
    outcome.error = request.transportError();
    return outcome;
  }
  return parseQueryResponse(request.httpStatus(), request.body());
}

QueryOutcome PrometheusClient::query(const std::string& promql) const {
  auto request = PrometheusRequest::make(options_, instantQueryPath(promql));
  if (!request) return QueryOutcome{QueryFailure::kUnreachable, {}, request.error().message};
  (*request)->perform();
  return queryOutcome(**request);
}

Result<std::string> PrometheusClient::metricType(const std::string& metric) const {
  auto request = PrometheusRequest::make(options_, metadataPath(metric));
  if (!request) return request.error();
  (*request)->perform();
  if (!(*request)->reached()) return makeError((*request)->transportError());
  return parseMetadataType((*request)->httpStatus(), (*request)->body(), metric);
}

std::vector<std::string> PrometheusClient::rawCounters(const PromQueryResult& result) const {
  return rawCounterNames(result, [this](const std::string& name) {
    auto type = metricType(name);
    if (type && !type->empty()) return *type == "counter";
    return counterByName(name);
  });
}

}  // namespace rollgate::coordinator
