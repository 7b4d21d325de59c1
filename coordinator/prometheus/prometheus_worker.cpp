#include "coordinator/prometheus/prometheus_worker.h"

#include <map>

namespace rollgate::coordinator {

Result<std::unique_ptr<PrometheusWorker>> PrometheusWorker::start(PrometheusOptions options,
                                                                  std::size_t maxParallel,
                                                                  std::size_t maxQueued) {
  std::unique_ptr<PrometheusWorker> worker(
      new PrometheusWorker(std::move(options), std::max<std::size_t>(maxParallel, 1), maxQueued));
  worker->multi_.reset(curl_multi_init());
  if (!worker->multi_) return makeError("libcurl: curl_multi_init failed");
  worker->thread_ = std::thread([raw = worker.get()] { raw->run(); });
  return worker;
}

PrometheusWorker::PrometheusWorker(PrometheusOptions options, std::size_t maxParallel,
                                   std::size_t maxQueued)
    : options_(std::move(options)), maxParallel_(maxParallel), maxQueued_(maxQueued) {}

PrometheusWorker::~PrometheusWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (multi_) curl_multi_wakeup(multi_.get());
  if (thread_.joinable()) thread_.join();
}

Status PrometheusWorker::submit(PrometheusQuery query) {
  {
    std::lock_guard lock(mutex_);
    if (queued_.size() >= maxQueued_) {
      return makeError("Prometheus queries: " + std::to_string(maxQueued_) +
                       " are already waiting; query dropped");
    }
    queued_.push_back(std::move(query));
  }
  wake_.notify_one();
  curl_multi_wakeup(multi_.get());
  return {};
}

std::vector<PrometheusAnswer> PrometheusWorker::take() {
  std::lock_guard lock(mutex_);
  std::vector<PrometheusAnswer> out;
  out.swap(answers_);
  return out;
}

void PrometheusWorker::run() {
  struct InFlight {
    std::uint64_t tag;
    std::unique_ptr<PrometheusRequest> request;
  };
  std::map<CURL*, InFlight> inFlight;
  CURLM* multi = multi_.get();
  while (true) {
    std::vector<PrometheusQuery> starting;
    {
      std::unique_lock lock(mutex_);
      if (inFlight.empty()) {
        wake_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
      }
      if (stopping_) break;
      while (!queued_.empty() && inFlight.size() + starting.size() < maxParallel_) {
        starting.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
    }
    for (auto& query : starting) {
      auto request = PrometheusRequest::make(options_, instantQueryPath(query.promql));
      if (!request) {
        std::lock_guard lock(mutex_);
        answers_.push_back({query.tag, {QueryFailure::kUnreachable, {}, request.error().message}});
        continue;
      }
      CURL* handle = (*request)->handle();
      curl_multi_add_handle(multi, handle);
      inFlight.emplace(handle, InFlight{query.tag, std::move(*request)});
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      auto found = inFlight.find(message->easy_handle);
      if (found == inFlight.end()) continue;
      found->second.request->finished(message->data.result);
      curl_multi_remove_handle(multi, message->easy_handle);
      PrometheusAnswer answer{found->second.tag, queryOutcome(*found->second.request)};
      inFlight.erase(found);
      std::lock_guard lock(mutex_);
      answers_.push_back(std::move(answer));
    }
    if (!inFlight.empty()) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  for (auto& [handle, flight] : inFlight) curl_multi_remove_handle(multi, handle);
}

}  // namespace rollgate::coordinator
