#include "agent/sentry/sentry_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "agent/sentry/envelope.h"
#include "agent/sentry/mhd_library.h"
#include "agent/sentry/relay_queue.h"
#include "agent/sentry/sentry_tally.h"
#include "agent/sentry/upstream_relay.h"

namespace rollgate::agent::sentry {
namespace {

struct DaemonDeleter {
  decltype(&MHD_stop_daemon) stop = nullptr;
  void operator()(MHD_Daemon* d) const { stop(d); }
};
using DaemonPtr = std::unique_ptr<MHD_Daemon, DaemonDeleter>;

// What one request is, from its first callback to its answer.
struct Request {
  std::size_t service = 0;
  bool store = false;
  unsigned status = 0;        // non-zero: refused with this status (the body is discarded)
  std::string reason;         // for the log
  std::uint64_t retryAfter = 0;
  bool keyChecked = false;    // the key came in a header or the query string and matched
  std::string encoding;
  std::string body;
};

// "/api/<project>/envelope/" -> ("<project>", false); "/api/<project>/store/" -> (.., true).
bool matchPath(std::string_view url, std::string& project, bool& store) {
  constexpr std::string_view kApi = "/api/";
  if (!url.starts_with(kApi)) return false;
  url.remove_prefix(kApi.size());
  std::size_t slash = url.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  project = std::string(url.substr(0, slash));
  std::string_view rest = url.substr(slash);
  if (rest == "/envelope/" || rest == "/envelope") {
    store = false;
  } else if (rest == "/store/" || rest == "/store") {
    store = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace

struct SentryEndpoint::Impl {
  struct Service {
    Impl* impl = nullptr;
    std::size_t index = 0;
    SentryServiceConfig config;
    std::optional<DsnTarget> upstream;
    DaemonPtr daemon;
    int epollFd = -1;
    std::uint16_t port = 0;
    RateLimiter limiter{0};
    RelayQueue queue{0, 0};
    SentryTally tally;         // guarded by Impl::mutex
    SentryCounters counters;   // guarded by Impl::mutex
  };

  const MhdLibrary* mhd = nullptr;
  Logger logger;
  SentryEndpointOptions options;
  std::vector<std::unique_ptr<Service>> services;
  std::atomic<std::size_t> bodyBytesHeld{0};  // written by the endpoint thread only
  std::string scratch;            // decompression buffer, endpoint thread only
  mutable std::mutex mutex;
  std::atomic<bool> stopping{false};
  std::unique_ptr<curl::CurlLibrary> curl;  // the relay's, and its wait for the listeners
  std::unique_ptr<UpstreamRelay> relay;
  std::thread thread;

  std::uint64_t now() const { return options.nowMillis(); }

  void run() {
    while (!stopping.load()) {
      std::vector<int> fds;
      int timeout = 1000;
      for (auto& s : services) {
        fds.push_back(s->epollFd);
        MHD_UNSIGNED_LONG_LONG t = 0;
        if (mhd->getTimeout(s->daemon.get(), &t) == MHD_YES) {
          timeout = std::min<int>(timeout, static_cast<int>(std::min<MHD_UNSIGNED_LONG_LONG>(t, 1000)));
        }
      }
      relay->poll(fds, timeout);
      for (auto& s : services) mhd->run(s->daemon.get());
      relay->perform();
      startRelays();
    }
  }

  void startRelays() {
    bool more = true;
    while (more && relay->canStart()) {
      more = false;
      for (auto& s : services) {
        if (!s->upstream || s->queue.empty() || !relay->canStart()) continue;
        relay->send(s->queue.pop(), *s->upstream);
        more = true;
      }
    }
    std::lock_guard lock(mutex);
    for (auto& s : services) s->counters.relayQueueBytes = s->queue.bytes();
  }

  void relayDone(const std::string& service, bool ok, long status, const std::string& error) {
    std::lock_guard lock(mutex);
    for (auto& s : services) {
      if (s->config.service != service) continue;
      if (ok) {
        s->counters.relayed += 1;
      } else {
        s->counters.relayDropped += 1;
        s->tally.addRelayDropped(1);
        logger->warn("service {}: Sentry relay to {} failed: {}", service, s->upstream->base,
                     error.empty() ? "HTTP " + std::to_string(status) : error);
      }
    }
  }

  MHD_Result answer(MHD_Connection* connection, unsigned status, const std::string& text,
                           std::uint64_t retryAfter = 0) {
    MHD_Response* response = mhd->createResponseFromBuffer(
        text.size(), const_cast<char*>(text.data()), MHD_RESPMEM_MUST_COPY);
    mhd->addResponseHeader(response, "Content-Type", "application/json");
    if (retryAfter > 0) {
      mhd->addResponseHeader(response, "Retry-After", std::to_string(retryAfter).c_str());
    }
    MHD_Result rc = mhd->queueResponse(connection, status, response);
    mhd->destroyResponse(response);
    return rc;
  }

  static std::string detail(const std::string& text) {
    std::string out = "{\"detail\":\"";
    for (char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"}";
  }

  void refuse(Request& request, unsigned status, std::string reason, std::uint64_t retryAfter = 0) {
    request.status = status;
    request.reason = std::move(reason);
    request.retryAfter = retryAfter;
    bodyBytesHeld -= request.body.size();
    request.body.clear();
    request.body.shrink_to_fit();
  }

  // The first callback: everything that can be decided from the request line and headers.
  void screen(MHD_Connection* connection, const char* url, const char* method, Request& request) {
    Service& s = *services[request.service];
    std::string project;
    if (std::strcmp(method, "POST") != 0) return refuse(request, 405, "method is not POST");
    if (!matchPath(url, project, request.store)) {
      return refuse(request, 404, std::string("unknown path ") + url);
    }
    if (!s.config.project.empty() && project != s.config.project) {
      return refuse(request, 403, "project " + project + " is not " + s.config.project);
    }
    const char* auth = mhd->lookupConnectionValue(connection, MHD_HEADER_KIND, "X-Sentry-Auth");
    std::optional<std::string> key = auth != nullptr ? keyFromAuthHeader(auth) : std::nullopt;
    if (!key) {
      const char* query =
          mhd->lookupConnectionValue(connection, MHD_GET_ARGUMENT_KIND, "sentry_key");
      if (query != nullptr) key = std::string(query);
    }
    if (key) {
      if (*key != s.config.key) return refuse(request, 403, "wrong sentry_key");
      request.keyChecked = true;
    } else if (request.store) {
      return refuse(request, 401, "no sentry_key in X-Sentry-Auth or the query string");
    }
    const char* encoding =
        mhd->lookupConnectionValue(connection, MHD_HEADER_KIND, "Content-Encoding");
    request.encoding = encoding != nullptr ? encoding : "";
    if (request.encoding == "identity") request.encoding.clear();
    if (!request.encoding.empty() && request.encoding != "gzip" && request.encoding != "deflate") {
      return refuse(request, 415, "Content-Encoding " + request.encoding + " is not gzip or deflate");
    }
    const char* length = mhd->lookupConnectionValue(connection, MHD_HEADER_KIND, "Content-Length");
    if (length != nullptr && std::strtoull(length, nullptr, 10) > s.config.maxBodyBytes) {
      return refuse(request, 413, std::string("body of ") + length + " bytes exceeds " +
                                      std::to_string(s.config.maxBodyBytes));
    }
    if (!s.limiter.allow(now())) {
      return refuse(request, 429, "over " + std::to_string(s.config.maxRequestsPerSecond) +
                                      " requests per second",
                    s.limiter.retryAfterSeconds());
    }
  }

  void receive(Request& request, const char* data, std::size_t size) {
    if (request.status != 0) return;  // refused: the rest of the body is read and discarded
    Service& s = *services[request.service];
    if (request.body.size() + size > s.config.maxBodyBytes) {
      return refuse(request, 413, "body exceeds " + std::to_string(s.config.maxBodyBytes) + " bytes");
    }
    if (bodyBytesHeld + size > options.bodyBudgetBytes) {
      return refuse(request, 503, "request bodies held would exceed " +
                                      std::to_string(options.bodyBudgetBytes) + " bytes",
                    1);
    }
    request.body.append(data, size);
    bodyBytesHeld += size;
  }

  // The body is complete: decompress, parse, check the envelope's key, count, queue for relay.
  void finish(Request& request) {
    if (request.status != 0) return;
    decide(request);
    scratch = std::string();  // give the decompressed body's memory back, whatever the outcome
  }

  void decide(Request& request) {
    Service& s = *services[request.service];
    std::string_view body = request.body;
    if (!request.encoding.empty()) {
      std::string error;
      InflateStatus inflated = inflateBody(body, s.config.maxDecompressedBytes, scratch, error);
      if (inflated == InflateStatus::kTooLarge) return refuse(request, 413, error);
      if (inflated == InflateStatus::kMalformed) return refuse(request, 400, error);
      body = scratch;
    }
    auto parsed = request.store ? parseStoreBody(body) : parseEnvelope(body);
    if (!parsed) return refuse(request, 400, parsed.error().message);
    if (!request.keyChecked) {
      if (parsed->dsnKey.empty()) return refuse(request, 401, "no sentry_key in the request");
      if (parsed->dsnKey != s.config.key) return refuse(request, 403, "wrong sentry_key in the envelope's dsn");
    }
    std::uint64_t dropped = 0;
    bodyBytesHeld -= request.body.size();  // the queue has its own bound from here
    if (s.upstream) {
      dropped = s.queue.push(
          RelayItem{s.config.service, request.store, request.encoding, std::move(request.body)});
    }
    request.body = std::string();
    std::lock_guard lock(mutex);
    s.tally.add(*parsed);
    s.counters.accepted += 1;
    if (dropped > 0) {
      s.tally.addRelayDropped(dropped);
      s.counters.relayDropped += dropped;
    }
  }

  static MHD_Result onRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char*, const char* upload,
                              std::size_t* uploadSize, void** state) {
    auto* service = static_cast<Service*>(cls);
    Impl& self = *service->impl;
    if (*state == nullptr) {
      auto* request = new Request;
      request->service = service->index;
      *state = request;
      self.screen(connection, url, method, *request);
      // Refused on the headers alone: answer now, without reading the body.
      if (request->status != 0) return self.respond(connection, *request);
      return MHD_YES;
    }
    auto* request = static_cast<Request*>(*state);
    if (*uploadSize > 0) {
      self.receive(*request, upload, *uploadSize);
      *uploadSize = 0;
      return MHD_YES;
    }
    self.finish(*request);
    return self.respond(connection, *request);
  }

  MHD_Result respond(MHD_Connection* connection, Request& request) {
    Service& s = *services[request.service];
    if (request.status == 0) return answer(connection, 200, "{}");
    {
      std::lock_guard lock(mutex);
      if (request.status == 429) {
        s.tally.addRateLimited();
        s.counters.rateLimited += 1;
      } else {
        s.tally.addRejected();
        s.counters.rejected += 1;
      }
    }
    if (request.status != 429) {
      logger->debug("service {}: Sentry request refused ({}): {}", s.config.service, request.status,
                    request.reason);
    }
    return answer(connection, request.status, detail(request.reason), request.retryAfter);
  }

  static void onCompleted(void* cls, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
    auto* request = static_cast<Request*>(*state);
    if (request == nullptr) return;
    auto* service = static_cast<Service*>(cls);
    service->impl->bodyBytesHeld -= std::min(service->impl->bodyBytesHeld.load(), request->body.size());
    delete request;
    *state = nullptr;
  }
};

SentryEndpoint::SentryEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SentryEndpoint::~SentryEndpoint() {
  impl_->stopping.store(true);
  impl_->relay->wakeup();
  if (impl_->thread.joinable()) impl_->thread.join();
  for (auto& s : impl_->services) s->daemon.reset();
}

Result<std::unique_ptr<SentryEndpoint>> SentryEndpoint::start(
    std::vector<SentryServiceConfig> services, Logger logger, SentryEndpointOptions options) {
  auto impl = std::make_unique<Impl>();
  auto library = MhdLibrary::load();
  if (!library) return library.error();
  const MhdLibrary* mhd = *library;
  impl->mhd = mhd;
  auto curl = curl::CurlLibrary::open();
  if (!curl) return makeError("Sentry endpoint: " + curl.error().message);
  impl->curl = std::move(*curl);
  impl->logger = std::move(logger);
  if (!options.nowMillis) {
    options.nowMillis = [] {
      return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now().time_since_epoch())
                                            .count());
    };
  }
  impl->options = std::move(options);
  Impl* raw = impl.get();
  impl->relay = std::make_unique<UpstreamRelay>(
      *impl->curl, [raw](const std::string& service, bool ok, long status, const std::string& error) {
        raw->relayDone(service, ok, status, error);
      });
  for (auto& config : services) {
    auto s = std::make_unique<Impl::Service>();
    s->impl = raw;
    s->index = impl->services.size();
    std::string where = "service " + config.service + ": sentry endpoint " + config.bind + ":" +
                        std::to_string(config.port);
    if (config.key.empty()) return makeError(where + ": no key (sentry_key)");
    if (!config.upstreamDsn.empty()) {
      auto target = parseDsn(config.upstreamDsn);
      if (!target) {
        return makeError("service " + config.service + ": sentry_upstream_dsn: " +
                         target.error().message);
      }
      s->upstream = *target;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(config.port);
    if (inet_pton(AF_INET, config.bind.c_str(), &addr.sin_addr) != 1) {
      return makeError(where + ": \"" + config.bind + "\" is not an IPv4 address");
    }
    s->limiter = RateLimiter(config.maxRequestsPerSecond);
    s->queue = RelayQueue(config.relayQueueEnvelopes, config.relayQueueBytes);
    s->config = config;
    MHD_Daemon* daemon = mhd->startDaemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, nullptr, nullptr, &Impl::onRequest, s.get(),
        MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),
        MHD_OPTION_CONNECTION_LIMIT, kMaxSentryConnections,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<std::size_t>(32 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, &Impl::onCompleted, s.get(),
        MHD_OPTION_END);
    if (daemon == nullptr) {
      return makeError(where + ": cannot listen (address in use, or not allowed)");
    }
    s->daemon = DaemonPtr(daemon, DaemonDeleter{mhd->stopDaemon});
    const MHD_DaemonInfo* info = mhd->getDaemonInfo(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    s->epollFd = info != nullptr ? info->epoll_fd : -1;
    info = mhd->getDaemonInfo(daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != nullptr ? info->port : config.port;
    impl->logger->info("service {}: Sentry endpoint on http://{}:{} (DSN http://<key>@{}:{}/{}){}",
                       config.service, config.bind, s->port, config.bind, s->port,
                       config.project.empty() ? "<project>" : config.project,
                       s->upstream ? ", relaying to " + s->upstream->base : "");
    impl->services.push_back(std::move(s));
  }
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<SentryEndpoint>(new SentryEndpoint(std::move(impl)));
}

std::optional<SentryWindow> SentryEndpoint::take(const std::string& service) {
  std::lock_guard lock(impl_->mutex);
  for (auto& s : impl_->services) {
    if (s->config.service == service) return s->tally.take();
  }
  return std::nullopt;
}

std::uint16_t SentryEndpoint::port(const std::string& service) const {
  for (const auto& s : impl_->services) {
    if (s->config.service == service) return s->port;
  }
  return 0;
}

SentryCounters SentryEndpoint::counters(const std::string& service) const {
  std::lock_guard lock(impl_->mutex);
  for (const auto& s : impl_->services) {
    if (s->config.service != service) continue;
    SentryCounters out = s->counters;
    out.bodyBytesHeld = impl_->bodyBytesHeld.load();
    return out;
  }
  return {};
}

}  // namespace rollgate::agent::sentry
