#include "coordinator/metrics/metrics_server.h"

#include <httplib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>

#include "common/http_listen.h"

namespace rollgate::coordinator::metrics {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

Result<int> parsePort(const std::string& text, const std::string& whole) {
  char* end = nullptr;
  errno = 0;
  long port = text.empty() ? -1 : std::strtol(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0' || port < 0 || port > 65535) {
    return makeError("metrics listen address \"" + whole +
                     "\": expected HOST:PORT, :PORT or PORT with a port from 0 to 65535");
  }
  return static_cast<int>(port);
}

}  // namespace

Result<ListenAddress> parseListenAddress(const std::string& text) {
  ListenAddress address;
  std::string portText = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) {
      return makeError("metrics listen address \"" + text + "\": expected [IPV6]:PORT");
    }
    address.host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    address.host = text.substr(0, colon);
    portText = text.substr(colon + 1);
  }
  if (address.host.empty()) address.host = "127.0.0.1";
  auto port = parsePort(portText, text);
  if (!port) return port.error();
  address.port = *port;
  return address;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            Logger logger) {
  auto address = parseListenAddress(listen);
  if (!address) return address.error();
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->logger_ = std::move(logger);
  server->server_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *server->server_;
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_keep_alive_max_count(10);
  http.set_payload_max_length(4096);
  MetricsServer* self = server.get();
  http.Get("/metrics", [self](const httplib::Request&, httplib::Response& response) {
    auto snapshot = self->latest();
    response.set_content(renderMetrics(snapshot ? *snapshot : MetricsSnapshot{}), kContentType);
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("rollgate coordinator: metrics on /metrics\n", "text/plain");
  });
  if (address->port == 0) {
    server->port_ = http.bind_to_any_port(address->host);
    if (server->port_ <= 0) {
      return makeError("metrics: cannot listen on " + listen + " (" + address->host + ")");
    }
  } else {
    if (!http.bind_to_port(address->host, address->port)) {
      return makeError("metrics: cannot listen on " + listen + ": " + std::strerror(errno));
    }
    server->port_ = address->port;
  }
  const std::string& host = address->host;
  if (host.rfind("127.", 0) != 0 && host != "::1" && host != "localhost") {
    server->logger_->warn("metrics: /metrics is served without authentication on {} (not "
                          "loopback): keep it behind a firewall or an authenticating proxy",
                          listen);
  }
  listenInBackground(http, server->thread_);
  return server;
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void MetricsServer::publish(std::shared_ptr<const MetricsSnapshot> snapshot) {
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const MetricsSnapshot> MetricsServer::latest() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

}  // namespace rollgate::coordinator::metrics
