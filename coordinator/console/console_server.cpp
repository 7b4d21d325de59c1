#include "coordinator/console/console_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <nlohmann/json.hpp>

#include "common/codec.h"
#include "common/http_listen.h"
#include "common/rollout_view.h"
#include "common/sha256.h"
#include "coordinator/console/assets.h"
#include "coordinator/console/tls.h"

namespace rollgate::console {
namespace {

using nlohmann::json;

constexpr const char* kCookie = "rollgate_session";
constexpr int kReservedThreads = 8;  // never taken by event streams
constexpr std::size_t kMaxPageHosts = 500;

constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void securityHeaders(httplib::Response& res, bool tls) {
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
  if (tls) res.set_header("Strict-Transport-Security", "max-age=31536000");
}

void sendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void sendError(httplib::Response& res, int status, const std::string& message) {
  sendJson(res, status, json{{"error", message}});
}

std::string cookieValue(const httplib::Request& req, const std::string& name) {
  const std::string header = req.get_header_value("Cookie");
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    part.erase(0, part.find_first_not_of(' '));
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool contains(const std::string& haystack, const std::string& lowerNeedle) {
  return lower(haystack).find(lowerNeedle) != std::string::npos;
}

json hostJson(const HostInfo& host) {
  json services = json::array();
  for (const auto& s : host.services) {
    services.push_back({{"service", s.service}, {"release", s.activeRelease}});
  }
  return {{"name", host.name},
          {"region", host.region},
          {"cluster", host.cluster},
          {"agentVersion", host.agentVersion},
          {"services", services},
          {"lastContactMillis", host.lastContactMillis},
          {"healthy", host.healthy},
          {"connected", host.connected}};
}

json abortJson(const AbortView& abort) {
  json acks = json::array();
  for (const auto& target : abort.targets) {
    auto it = abort.ackedAtMillis.find(target);
    acks.push_back({{"host", target},
                    {"ackedAtMillis", it == abort.ackedAtMillis.end() ? json(nullptr)
                                                                      : json(it->second)}});
  }
  return {{"id", abort.id},
          {"rolloutIds", abort.rolloutIds},
          {"reason", abort.reason},
          {"requestedBy", abort.requestedBy},
          {"createdMillis", abort.createdMillis},
          {"hosts", acks}};
}

const BacktestRunView* findRun(const ConsoleSnapshot& snap, const std::string& id) {
  for (const auto& run : snap.backtests) {
    if (run.id == id) return &run;
  }
  return nullptr;
}

json freezeJson(const ConsoleSnapshot& snap) {
  return snap.freeze ? toJson(*snap.freeze) : json(nullptr);
}

std::uint64_t topicVersion(const ConsoleSnapshot& snap, const std::string& topic,
                           const std::string& id) {
  if (topic == "fleet") return std::max(snap.fleetVersion, snap.rolloutsVersion);
  if (topic == "backtests") return snap.backtestsVersion;
  if (topic == "rollout") {
    auto it = snap.rolloutVersions.find(id);
    return std::max(snap.rolloutsVersion, it == snap.rolloutVersions.end() ? 0 : it->second);
  }
  return snap.rolloutsVersion;
}

std::size_t queryNumber(const httplib::Request& req, const char* key, std::size_t fallback,
                        std::size_t max) {
  if (!req.has_param(key)) return fallback;
  const std::string text = req.get_param_value(key);
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fallback;
  }
  return std::min<std::size_t>(std::stoul(text), max);
}

bool validRolloutId(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// The request an action of the page stands for; the error names the field and the value.
Result<AdminRequest> actionRequest(const json& body) {
  AdminRequest request;
  const std::string action = body.value("action", std::string());
  const std::string rollout = body.value("rollout", std::string());
  const std::string reason = body.value("reason", std::string());
  auto needRollout = [&]() -> Status {
    if (!validRolloutId(rollout)) {
      return makeError("action " + action + ": \"rollout\" must name a rollout, got \"" +
                       rollout + "\"");
    }
    return {};
  };
  auto rolloutAction = [&](RolloutAction::Action kind) -> Result<AdminRequest> {
    if (auto s = needRollout(); !s) return s.error();
    request.body = RolloutAction{rollout, kind};
    return request;
  };
  if (action == "abort") {
    if (auto s = needRollout(); !s) return s.error();
    request.body = AbortRequest{rollout, false, reason.empty() ? "from the console" : reason};
    return request;
  }
  if (action == "abort_all") {
    request.body = AbortRequest{"", true, reason.empty() ? "from the console" : reason};
    return request;
  }
  if (action == "pause") return rolloutAction(RolloutAction::Action::kPause);
  if (action == "resume") return rolloutAction(RolloutAction::Action::kResume);
  if (action == "promote") return rolloutAction(RolloutAction::Action::kPromote);
  if (action == "rollback") return rolloutAction(RolloutAction::Action::kRollback);
  if (action == "revert") {
    RevertRequest revert;
    revert.service = body.value("service", std::string());
    revert.toVersion = body.value("version", std::string());
    revert.reason = reason;
    if (revert.service.empty()) return makeError("action revert: \"service\" is required");
    request.body = revert;
    return request;
  }
  if (action == "freeze") {
    request.body = FreezeRequest{true, reason, body.value("holdRunning", false)};
    return request;
  }
  if (action == "unfreeze") {
    request.body = FreezeRequest{false, "", false};
    return request;
  }
  if (action == "backtest") {
    // The kept rollouts, with the gates given (TOML, as `rollout start --gates`) beside the gates
    // each ran, or with their own gates when none are given.
    BacktestRequest backtest;
    backtest.service = body.value("service", std::string());
    backtest.gatesToml = body.value("gates", std::string());
    if (!backtest.gatesToml.empty()) {
      backtest.gatesName = "gates from the console";
      backtest.compare = true;
    }
    if (body.contains("sinceMillis")) {
      const json& since = body["sinceMillis"];
      if (!since.is_number_unsigned()) {
        return makeError("action backtest: \"sinceMillis\" must be a time in Unix milliseconds, "
                         "got " + since.dump());
      }
      backtest.sinceMillis = since.get<std::uint64_t>();
    }
    request.body = backtest;
    return request;
  }
  return makeError("unknown action \"" + action +
                   "\" (expected abort, abort_all, pause, resume, promote, rollback, revert, "
                   "freeze, unfreeze or backtest)");
}

json replyJson(const AdminReply& reply, int& status) {
  status = 200;
  if (const auto* error = std::get_if<AdminError>(&reply.body)) {
    status = 409;
    return {{"error", error->message}};
  }
  if (const auto* ok = std::get_if<AdminOk>(&reply.body)) {
    return {{"ok", true}, {"message", ok->message}};
  }
  if (const auto* doc = std::get_if<JsonDocument>(&reply.body)) {
    auto parsed = json::parse(doc->text, nullptr, false);
    return {{"ok", true}, {"document", parsed.is_discarded() ? json(doc->text) : parsed}};
  }
  return {{"ok", true}};
}

}  // namespace

ConsoleServer::ConsoleServer(const ConsoleConfig& config, ConsoleBoard& board, LoopQueue& queue,
                             ConsoleBackend& backend, const Clock& clock, Logger logger)
    : config_(config),
      board_(board),
      queue_(queue),
      backend_(backend),
      clock_(clock),
      logger_(std::move(logger)) {}

ConsoleServer::~ConsoleServer() { stop(); }

namespace {

// An HTTPS server (plain HTTP on loopback with plain_http) with the console's limits, bound to
// config.listen; `host` and `port` get what it is bound to.
Result<std::unique_ptr<httplib::Server>> bindServer(const ConsoleConfig& config,
                                                    const std::string& certPath,
                                                    const std::string& keyPath, std::string& host,
                                                    int& port) {
  if (!splitListen(config.listen, host, port)) {
    return makeError("console: listen: expected HOST:PORT, got \"" + config.listen + "\"");
  }
  if (config.plainHttp && !isLoopbackHost(host)) {
    return makeError("console: plain HTTP only on loopback, listen is \"" + config.listen + "\"");
  }
  std::unique_ptr<httplib::Server> server;
  if (config.plainHttp) {
    server = std::make_unique<httplib::Server>();
  } else {
    std::string tlsError;
    auto tls = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
      auto status = configureServerContext(ctx, certPath, keyPath);
      if (!status) tlsError = status.error().message;
      return status.ok();
    });
    if (!tls->is_valid()) {
      return makeError(tlsError.empty() ? "console: cannot set up TLS" : tlsError);
    }
    server = std::move(tls);
  }
  httplib::Server& s = *server;
  const auto threads = static_cast<std::size_t>(config.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(static_cast<std::size_t>(config.maxRequestBytes));
  s.set_read_timeout(static_cast<time_t>(config.timeoutSeconds), 0);
  s.set_write_timeout(static_cast<time_t>(config.timeoutSeconds), 0);
  s.set_keep_alive_timeout(5);
  s.set_keep_alive_max_count(100);
  s.set_tcp_nodelay(true);
  if (!s.bind_to_port(host.c_str(), port)) {
    return makeError("console: cannot listen on " + config.listen +
                     " (in use, or not an address of this machine)");
  }
  return server;
}

std::string escapeHtml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string ConsoleServer::url() const { return urlOf(config_, host_, port_); }

Result<std::unique_ptr<ConsoleServer>> ConsoleServer::start(
    const ConsoleConfig& config, const std::string& certPath, const std::string& keyPath,
    ConsoleBoard& board, LoopQueue& queue, ConsoleBackend& backend, const Clock& clock,
    Logger logger) {
  std::unique_ptr<ConsoleServer> self(
      new ConsoleServer(config, board, queue, backend, clock, std::move(logger)));
  auto server = bindServer(config, certPath, keyPath, self->host_, self->port_);
  if (!server) return server.error();
  self->server_ = std::move(*server);
  self->routes();
  listenInBackground(*self->server_, self->thread_);
  return self;
}

Result<std::unique_ptr<StandbyConsole>> StandbyConsole::start(const ConsoleConfig& config,
                                                              const std::string& certPath,
                                                              const std::string& keyPath,
                                                              std::string coordinatorId) {
  std::unique_ptr<StandbyConsole> self(new StandbyConsole());
  self->coordinatorId_ = std::move(coordinatorId);
  const std::string ownUrl = advertisedUrl(config);
  auto server = bindServer(config, certPath, keyPath, self->host_, self->port_);
  if (!server) return server.error();
  self->server_ = std::move(*server);
  self->url_ = urlOf(config, self->host_, self->port_);
  const bool tls = !config.plainHttp;
  self->server_->set_pre_routing_handler(
      [self = self.get(), tls, ownUrl](const httplib::Request& req, httplib::Response& res) {
        securityHeaders(res, tls);
        std::optional<LeaderInfo> leader;
        {
          std::lock_guard lock(self->mutex_);
          leader = self->leader_;
        }
        // A page asked for in a browser goes to the same page on the leader's console (never to
        // this one's own address: two coordinators given one public_url would loop).
        const bool toLeader = leader && !leader->consoleUrl.empty() && leader->consoleUrl != ownUrl;
        const bool page = req.path.rfind("/api/", 0) != 0;
        if (toLeader && page && (req.method == "GET" || req.method == "HEAD")) {
          std::string target = leader->consoleUrl;
          if (!target.empty() && target.back() == '/') target.pop_back();
          target += req.target.empty() ? req.path : req.target;
          res.status = 307;
          res.set_header("Location", target);
          res.set_header("Cache-Control", "no-store");  // the leader can change
          res.set_content("coordinator " + self->coordinatorId_ +
                              " is a standby; the console is at " + target + "\n",
                          "text/plain; charset=utf-8");
          return httplib::Server::HandlerResponse::Handled;
        }
        res.set_header("Retry-After", "5");
        std::string said = "coordinator " + self->coordinatorId_ + " is a standby: its console "
                           "shows nothing while another coordinator leads. ";
        said += !leader ? "No coordinator leads right now; one takes over within the lease."
                        : "The leader is coordinator " + leader->id + " (admin endpoint " +
                              leader->adminEndpoint + ", epoch " + std::to_string(leader->epoch) +
                              "): " +
                              (toLeader ? "its console is at " + leader->consoleUrl + "."
                                        : "open the console on its machine.");
        if (!page) {
          json body{{"error", said}, {"standby", true}, {"coordinator", self->coordinatorId_}};
          if (leader) {
            body["leader"] = toJson(*leader);
          }
          sendJson(res, 503, body);
        } else {
          res.status = 503;
          std::string link = toLeader ? "<p><a href=\"" + escapeHtml(leader->consoleUrl) +
                                            "\">Open the leader's console</a></p>"
                                      : std::string();
          res.set_content(
              "<!doctype html><html><head><meta charset=\"utf-8\"><title>rollgate: "
              "standby</title></head><body><h1>Standby</h1><p>" +
                  escapeHtml(said) + "</p>" + link + "</body></html>\n",
              "text/html; charset=utf-8");
        }
        return httplib::Server::HandlerResponse::Handled;
      });
  listenInBackground(*self->server_, self->thread_);
  return self;
}

StandbyConsole::~StandbyConsole() { stop(); }

void StandbyConsole::setLeader(const std::optional<LeaderInfo>& leader) {
  std::lock_guard lock(mutex_);
  leader_ = leader;
}

void StandbyConsole::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void ConsoleServer::stop() {
  if (!server_) return;
  board_.stop();
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

std::shared_ptr<const std::string> ConsoleServer::rolloutBody(const ConsoleSnapshot& snap,
                                                             const std::string& id) {
  const std::uint64_t version = topicVersion(snap, "rollout", id);
  {
    std::lock_guard lock(bodiesMutex_);
    auto cached = bodies_.find(id);
    if (cached != bodies_.end() && cached->second.version == version) return cached->second.body;
  }
  const auto it = snap.details.find(id);
  json aborts = json::array();
  for (const auto& a : snap.aborts) {
    if (a.rolloutIds.empty() ||
        std::find(a.rolloutIds.begin(), a.rolloutIds.end(), id) != a.rolloutIds.end()) {
      aborts.push_back(abortJson(a));
    }
  }
  json out = toJson(*it->second);
  out["aborts"] = aborts;
  out["freeze"] = freezeJson(snap);
  // The version of what this page shows (the list and this rollout), so a page asked
  // to refresh by an event about something else need not redraw.
  out["version"] = version;
  auto specs = snap.checkSpecs.find(id);
  json floors = json::array();
  if (specs != snap.checkSpecs.end()) {
    for (const auto& spec : specs->second) {
      floors.push_back({{"name", spec.name},
                        {"alpha", spec.alpha},
                        {"minEffect", spec.minEffect},
                        {"minRatio", spec.minRatio},
                        {"threshold", spec.threshold}});
    }
  }
  out["checkSpecs"] = floors;
  auto body = std::make_shared<const std::string>(
      out.dump(-1, ' ', false, json::error_handler_t::replace));
  std::lock_guard lock(bodiesMutex_);
  CachedBody& slot = bodies_[id];
  if (slot.version <= version) slot = CachedBody{version, body};
  // Pages look at few rollouts at once: past 64, keep only the ones of this version or newer.
  if (bodies_.size() > 64) {
    for (auto b = bodies_.begin(); b != bodies_.end();) {
      b = b->second.version < version ? bodies_.erase(b) : std::next(b);
    }
  }
  return body;
}

void ConsoleServer::routes() {
  httplib::Server& s = *server_;
  const bool tls = !config_.plainHttp;

  auto session = [this](const httplib::Request& req) {
    return sessions_.find(cookieValue(req, kCookie), clock_.nowMillis());
  };
  // The session of an /api/ request, or a 401 answered.
  auto signedIn = [session](const httplib::Request& req,
                            httplib::Response& res) -> std::optional<Session> {
    auto found = session(req);
    if (!found) sendError(res, 401, "sign in first: no session, or it has expired");
    return found;
  };
  // Runs `task` on the loop and waits for what it gives; nothing when the loop did not answer.
  auto onLoop = [this](auto task) {
    using T = decltype(task());
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    if (!queue_.post([promise, task = std::move(task)]() mutable { promise->set_value(task()); })) {
      return std::optional<T>();
    }
    if (future.wait_for(std::chrono::milliseconds(kLoopWaitMillis)) != std::future_status::ready) {
      return std::optional<T>();
    }
    return std::optional<T>(future.get());
  };

  s.set_pre_routing_handler([tls](const httplib::Request&, httplib::Response& res) {
    securityHeaders(res, tls);
    return httplib::Server::HandlerResponse::Unhandled;
  });

  for (const char* path : {"/", "/console.js", "/console.css"}) {
    s.Get(path, [](const httplib::Request& req, httplib::Response& res) {
      const Asset* asset = findAsset(req.path);
      if (asset == nullptr) {
        res.status = 404;
        return;
      }
      res.set_content(std::string(asset->body), std::string(asset->contentType).c_str());
    });
  }

  s.Post("/api/login", [this, tls, onLoop](const httplib::Request& req, httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    std::string token = body.is_object() ? body.value("token", std::string()) : "";
    if (!looksLikeToken(token)) {
      sendError(res, 401, "not a console token (rollgate console token prints one)");
      return;
    }
    std::string digest = sha256Hex(token);
    auto found = onLoop([this, digest] { return backend_.findToken(digest); });
    if (!found) {
      sendError(res, 503, "the coordinator is busy; try again");
      return;
    }
    if (!*found) {
      logger_->error("console: cannot look up a sign-in token: {}", found->error().message);
      sendError(res, 500, "cannot look up the token: " + found->error().message);
      return;
    }
    std::uint64_t now = clock_.nowMillis();
    const auto& grant = **found;
    if (!grant || grant->expiresMillis <= now) {
      logger_->warn("console: refused a sign-in with an {} token from {}",
                    grant ? "expired" : "unknown", req.remote_addr);
      sendError(res, 401, grant ? "this token has expired" : "unknown token");
      return;
    }
    auto role = parseRole(grant->role);
    if (!role) {
      sendError(res, 500, role.error().message);
      return;
    }
    std::uint64_t expires = std::min<std::uint64_t>(
        grant->expiresMillis, now + static_cast<std::uint64_t>(config_.sessionMinutes) * 60'000);
    Session created{grant->operatorName, *role, "", expires};
    std::string id = sessions_.create(created, now);
    auto live = sessions_.find(id, now);
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + id +
                                     "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string((expires - now) / 1000) +
                                     (tls ? "; Secure" : ""));
    logger_->info("console: {} signed in as {} from {}", grant->operatorName, grant->role,
                  req.remote_addr);
    sendJson(res, 200,
             {{"operator", live->operatorName},
              {"role", toString(live->role)},
              {"csrf", live->csrf},
              {"expiresMillis", live->expiresMillis}});
  });

  s.Post("/api/logout", [this, tls](const httplib::Request& req, httplib::Response& res) {
    sessions_.remove(cookieValue(req, kCookie));
    res.set_header("Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; "
                                                        "Max-Age=0" +
                                     (tls ? "; Secure" : ""));
    sendJson(res, 200, {{"ok", true}});
  });

  s.Get("/api/session", [signedIn](const httplib::Request& req, httplib::Response& res) {
    auto live = signedIn(req, res);
    if (!live) return;
    sendJson(res, 200,
             {{"operator", live->operatorName},
              {"role", toString(live->role)},
              {"csrf", live->csrf},
              {"expiresMillis", live->expiresMillis}});
  });

  s.Get("/api/fleet", [this, signedIn](const httplib::Request& req, httplib::Response& res) {
    if (!signedIn(req, res)) return;
    auto snap = board_.latest();
    const std::string filter = lower(req.get_param_value("q"));
    const std::string health = req.get_param_value("health");
    std::size_t offset = queryNumber(req, "offset", 0, 1'000'000'000);
    std::size_t limit = queryNumber(req, "limit", 100, kMaxPageHosts);
    json page = json::array();
    std::size_t matched = 0;
    std::size_t healthy = 0;
    json groups = json::object();
    for (const auto& host : snap->hosts) {
      if (host.healthy) ++healthy;
      if (!health.empty()) {
        if (health == "healthy" && !host.healthy) continue;
        if (health == "unhealthy" && host.healthy) continue;
      }
      if (!filter.empty()) {
        bool hit = contains(host.name, filter) || contains(host.region, filter) ||
                   contains(host.cluster, filter);
        for (const auto& s : host.services) {
          hit = hit || contains(s.activeRelease, filter) || contains(s.service, filter);
        }
        if (!hit) continue;
      }
      json& group = groups[host.region + "/" + host.cluster];
      if (group.is_null()) group = {{"region", host.region}, {"cluster", host.cluster},
                                    {"hosts", 0}, {"healthy", 0}};
      group["hosts"] = group["hosts"].get<std::uint64_t>() + 1;
      if (host.healthy) group["healthy"] = group["healthy"].get<std::uint64_t>() + 1;
      if (matched >= offset && page.size() < limit) page.push_back(hostJson(host));
      ++matched;
    }
    json groupList = json::array();
    for (auto& [key, group] : groups.items()) groupList.push_back(group);
    sendJson(res, 200,
             {{"total", snap->hosts.size()},
              {"healthy", healthy},
              {"matched", matched},
              {"offset", offset},
              {"limit", limit},
              {"hosts", page},
              {"groups", groupList},
              {"freeze", freezeJson(*snap)},
              {"version", snap->version}});
  });

  s.Get("/api/rollouts", [this, signedIn](const httplib::Request& req, httplib::Response& res) {
    if (!signedIn(req, res)) return;
    auto snap = board_.latest();
    const std::string service = req.get_param_value("service");
    const std::string status = req.get_param_value("status");
    json list = json::array();
    for (const auto& r : snap->rollouts) {
      if (!service.empty() && r.service != service) continue;
      if (!status.empty()) {
        bool running = r.finishedMillis == 0;
        if (status == "running" ? !running : status == "finished" ? running : r.status != status) {
          continue;
        }
      }
      list.push_back(toJson(r));
    }
    json aborts = json::array();
    for (const auto& a : snap->aborts) aborts.push_back(abortJson(a));
    sendJson(res, 200, {{"rollouts", list}, {"aborts", aborts}, {"freeze", freezeJson(*snap)},
                        {"version", snap->version}});
  });

  s.Get(R"(/api/rollouts/([A-Za-z0-9._-]{1,128}))",
        [this, signedIn](const httplib::Request& req, httplib::Response& res) {
          if (!signedIn(req, res)) return;
          const std::string id = req.matches[1];
          auto snap = board_.latest();
          if (!snap->details.count(id)) {
            board_.want(id, clock_.steadyMillis());
            // The loop adds it to its next snapshot; wait for one or two of those.
            for (int i = 0; i < 3 && !snap->details.count(id) && !board_.stopped(); ++i) {
              snap = board_.waitNewer(snap->version,
                                      std::chrono::milliseconds(config_.publishMillis * 2 + 500));
            }
          } else {
            board_.want(id, clock_.steadyMillis());
          }
          if (!snap->details.count(id)) {
            sendError(res, 404, "no rollout " + id);
            return;
          }
          res.status = 200;
          res.set_content(*rolloutBody(*snap, id), "application/json; charset=utf-8");
        });

  s.Get("/api/backtests", [this, signedIn](const httplib::Request& req, httplib::Response& res) {
    if (!signedIn(req, res)) return;
    auto snap = board_.latest();
    json runs = json::array();
    for (const auto& run : snap->backtests) runs.push_back(summaryJson(run));
    sendJson(res, 200, {{"backtests", runs},
                        {"kept", kKeptBacktestRuns},
                        {"freeze", freezeJson(*snap)},
                        {"version", snap->backtestsVersion}});
  });

  s.Get(R"(/api/backtests/([A-Za-z0-9._-]{1,64}))",
        [this, signedIn](const httplib::Request& req, httplib::Response& res) {
          if (!signedIn(req, res)) return;
          const std::string id = req.matches[1];
          auto snap = board_.latest();
          const BacktestRunView* run = findRun(*snap, id);
          if (run == nullptr) {
            sendError(res, 404, "no backtest run " + id + " (the coordinator keeps the last " +
                                    std::to_string(kKeptBacktestRuns) + ", until it restarts)");
            return;
          }
          sendJson(res, 200, {{"run", summaryJson(*run)},
                              {"report", run->report ? toJson(*run->report) : json(nullptr)},
                              {"freeze", freezeJson(*snap)},
                              {"version", snap->backtestsVersion}});
        });

  s.Get("/api/stream", [this, signedIn](const httplib::Request& req, httplib::Response& res) {
    auto live = signedIn(req, res);
    if (!live) return;
    const std::string topic = req.get_param_value("topic");
    const std::string id = req.get_param_value("id");
    if (topic != "fleet" && topic != "rollouts" && topic != "backtests" &&
        !(topic == "rollout" && validRolloutId(id))) {
      sendError(res, 400, "topic: expected fleet, rollouts, backtests or rollout with an id, got \"" +
                              topic + "\"");
      return;
    }
    if (streams_.fetch_add(1) >= config_.threads - kReservedThreads) {
      streams_.fetch_sub(1);
      sendError(res, 503, "too many live pages open; close some and reload");
      return;
    }
    struct State {
      std::uint64_t seen = 0;
      std::uint64_t sentVersion = 0;
      bool first = true;
    };
    auto state = std::make_shared<State>();
    const std::string cookie = cookieValue(req, kCookie);
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, state, topic, id, cookie](std::size_t, httplib::DataSink& sink) {
          if (topic == "rollout") board_.want(id, clock_.steadyMillis());
          auto snap = state->first ? board_.latest()
                                   : board_.waitNewer(state->seen, std::chrono::seconds(15));
          if (board_.stopped() || !sessions_.find(cookie, clock_.nowMillis())) {
            sink.done();
            return false;
          }
          std::string message;
          std::uint64_t version = topicVersion(*snap, topic, id);
          if (state->first || version != state->sentVersion) {
            message = "event: changed\ndata: {\"version\":" + std::to_string(snap->version) +
                      "}\n\n";
            state->sentVersion = version;
          } else if (snap->version == state->seen) {
            message = ": keep-alive\n\n";  // nothing new in 15 s
          }
          state->first = false;
          state->seen = snap->version;
          if (!message.empty() && !sink.write(message.data(), message.size())) return false;
          return true;
        },
        [this](bool) { streams_.fetch_sub(1); });
  });

  s.Post("/api/action", [this, signedIn](const httplib::Request& req, httplib::Response& res) {
    auto live = signedIn(req, res);
    if (!live) return;
    if (live->role != Role::kOperator) {
      logger_->warn("console: refused an action of viewer {}", live->operatorName);
      sendError(res, 403, "operator " + live->operatorName +
                              " signed in as a viewer: actions need the operator role");
      return;
    }
    if (!sameSecret(req.get_header_value("X-CSRF-Token"), live->csrf)) {
      logger_->warn("console: refused an action of {} without its CSRF token", live->operatorName);
      sendError(res, 403, "missing or wrong X-CSRF-Token (reload the page)");
      return;
    }
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      sendError(res, 400, "the body must be a JSON object");
      return;
    }
    auto request = actionRequest(body);
    if (!request) {
      sendError(res, 400, request.error().message);
      return;
    }
    // The same checks as a request from the CLI (lengths, names, versions).
    if (auto valid = validate(*request); !valid) {
      sendError(res, 400, valid.error().message);
      return;
    }
    auto promise = std::make_shared<std::promise<AdminReply>>();
    auto future = promise->get_future();
    const std::string operatorName = live->operatorName;
    bool posted = queue_.post([this, promise, operatorName, request = *request] {
      auto answered = std::make_shared<bool>(false);
      backend_.act(operatorName, request, [promise, answered](const AdminReply& reply) {
        if (*answered) return;
        *answered = true;
        promise->set_value(reply);
      });
    });
    if (!posted) {
      sendError(res, 503, "the coordinator is busy; try again");
      return;
    }
    if (future.wait_for(std::chrono::milliseconds(kLoopWaitMillis)) != std::future_status::ready) {
      sendJson(res, 202, {{"ok", true}, {"message", "accepted; the page shows its progress"}});
      return;
    }
    int status = 200;
    json out = replyJson(future.get(), status);
    sendJson(res, status, out);
  });

  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      sendError(res, res.status, res.status == 413 ? "request too large" : "not found");
    }
  });
}

}  // namespace rollgate::console
