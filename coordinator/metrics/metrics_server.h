// MetricsServer: serves GET /metrics in the Prometheus text format on a plain-HTTP listener of its
// own ([metrics] listen), on threads of its own (cpp-httplib; a pool of two workers, short read
// and write timeouts, small requests only), so a slow or hostile scraper cannot stall the
// coordinator's loop. The loop publishes a MetricsSnapshot (publish(), a pointer swap under a
// mutex); a scrape renders the latest one. Nothing here reads the loop's own state.
// Thread-safety: publish() and stop() from any thread; the server's threads only read snapshots.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/logging.h"
#include "common/result.h"
#include "coordinator/metrics/coordinator_metrics.h"

namespace httplib {
class Server;
}

namespace rollgate::coordinator::metrics {

struct ListenAddress {
  std::string host;
  int port = 0;
  bool operator==(const ListenAddress&) const = default;
};

// "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (these two on 127.0.0.1, loopback). Port 0 picks a
// free one. An error names the value and what was expected.
Result<ListenAddress> parseListenAddress(const std::string& text);

class MetricsServer {
 public:
  // Binds `listen` and starts serving. An error names the address and why it cannot be bound.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, Logger logger);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void publish(std::shared_ptr<const MetricsSnapshot> snapshot);
  int port() const { return port_; }
  void stop();

 private:
  MetricsServer() = default;
  std::shared_ptr<const MetricsSnapshot> latest() const;

  Logger logger_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::shared_ptr<const MetricsSnapshot> snapshot_;
};

}  // namespace rollgate::coordinator::metrics
