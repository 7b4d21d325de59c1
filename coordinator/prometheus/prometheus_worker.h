// PrometheusWorker: runs Prometheus queries for the coordinator's loop without blocking it. The
// loop submits queries (each with a tag of its own) and collects answers with take(); one worker
// thread runs them concurrently (a libcurl multi handle, at most `maxParallel` at a time), each
// bounded by the options' timeout, so an unreachable or slow Prometheus costs the loop nothing and
// every query is answered (with kUnreachable at worst) within about the timeout once it starts.
// Thread-safety: submit() and take() may be called from any thread; the worker thread owns the
// multi handle and the requests in flight.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "coordinator/prometheus/prometheus_client.h"

namespace rollgate::coordinator {

struct PrometheusQuery {
  std::uint64_t tag = 0;
  std::string promql;
};

struct PrometheusAnswer {
  std::uint64_t tag = 0;
  QueryOutcome outcome;
};

class PrometheusWorker {
 public:
  // Starts the worker thread. Fails when libcurl cannot make a multi handle.
  static Result<std::unique_ptr<PrometheusWorker>> start(PrometheusOptions options,
                                                         std::size_t maxParallel = 8,
                                                         std::size_t maxQueued = 10'000);
  // Stops the thread; queries not answered yet are dropped.
  ~PrometheusWorker();
  PrometheusWorker(const PrometheusWorker&) = delete;
  PrometheusWorker& operator=(const PrometheusWorker&) = delete;

  const PrometheusOptions& options() const { return options_; }
  // Queues a query; fails, naming the limit, when maxQueued queries are waiting.
  Status submit(PrometheusQuery query);
  // The answers that arrived since the last call.
  std::vector<PrometheusAnswer> take();

 private:
  struct MultiDeleter {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
  };
  PrometheusWorker(PrometheusOptions options, std::size_t maxParallel, std::size_t maxQueued);
  void run();

  PrometheusOptions options_;
  std::size_t maxParallel_;
  std::size_t maxQueued_;
  std::unique_ptr<CURLM, MultiDeleter> multi_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<PrometheusQuery> queued_;     // guarded by mutex_
  std::vector<PrometheusAnswer> answers_;  // guarded by mutex_
  bool stopping_ = false;                  // guarded by mutex_
  std::thread thread_;
};

}  // namespace rollgate::coordinator
