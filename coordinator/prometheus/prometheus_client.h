// The coordinator's HTTP client for the team's Prometheus: instant queries (/api/v1/query) and
// metric metadata (/api/v1/metadata), over libcurl with a bounded timeout. One libcurl easy handle
// per request, owned by a PrometheusRequest (RAII). PrometheusClient's calls block (up to the
// timeout): the coordinator runs them off its loop, on a thread of their own when a rollout
// starts; each look's queries go through PrometheusWorker (prometheus_worker.h) instead.
// Thread-safety: a PrometheusRequest belongs to one thread at a time; PrometheusClient is
// immutable and its calls may run on any thread.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "coordinator/prometheus/query_response.h"

namespace rollgate::coordinator {

struct PrometheusOptions {
  std::string url;  // base URL, e.g. "http://127.0.0.1:9090" (empty: no Prometheus)
  std::uint64_t timeoutMillis = 2000;  // whole request, connect included
};

// One GET against the API, ready to perform (blocking) or to add to a curl multi handle.
class PrometheusRequest {
 public:
  // `pathAndQuery` is appended to the base URL ("/api/v1/query?query=...").
  static Result<std::unique_ptr<PrometheusRequest>> make(const PrometheusOptions& options,
                                                         const std::string& pathAndQuery);
  CURL* handle() const { return curl_.get(); }
  // Performs it on this thread (blocks up to the timeout).
  void perform();
  // Records how a transfer run by a multi handle ended.
  void finished(CURLcode code);
  // The answer, once performed or finished: the API JSON body, or why there is none.
  bool reached() const { return code_ == CURLE_OK; }
  long httpStatus() const;
  const std::string& body() const { return body_; }
  std::string transportError() const;  // "Prometheus at URL unreachable: ..."

 private:
  struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  PrometheusRequest() = default;
  static std::size_t onData(char* data, std::size_t size, std::size_t count, void* self);

  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::string base_;
  std::string body_;
  char errorBuffer_[CURL_ERROR_SIZE] = {};
  CURLcode code_ = CURLE_OK;
};

// "/api/v1/query?query=<escaped>"; `timeSeconds` > 0 adds "&time=".
std::string instantQueryPath(const std::string& promql, double timeSeconds = 0);
// "/api/v1/metadata?metric=<escaped>".
std::string metadataPath(const std::string& metric);
// The outcome of a performed query request.
QueryOutcome queryOutcome(const PrometheusRequest& request);

class PrometheusClient {
 public:
  explicit PrometheusClient(PrometheusOptions options) : options_(std::move(options)) {}
  const PrometheusOptions& options() const { return options_; }

  // Runs an instant query now (blocking, bounded by the timeout).
  QueryOutcome query(const std::string& promql) const;
  // The metric's type from Prometheus's metadata ("counter", ...; empty when it has none).
  Result<std::string> metricType(const std::string& metric) const;
  // The raw counters `result` returns (rawCounterNames): by metadata, or by name when Prometheus
  // has no metadata for the name.
  std::vector<std::string> rawCounters(const PromQueryResult& result) const;

 private:
  PrometheusOptions options_;
};

}  // namespace rollgate::coordinator
