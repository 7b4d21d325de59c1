#include "coordinator/console_feed.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "common/sha256.h"
#include "coordinator/console/sessions.h"
#include "coordinator/console/tls.h"

namespace rollgate::coordinator {
namespace {

using nlohmann::json;

constexpr std::uint64_t kContactRefreshMillis = 5000;  // last-contact times alone: this often
constexpr std::size_t kRecentRollouts = 200;
constexpr std::size_t kRecentAborts = 50;
constexpr std::uint64_t kLabelRefreshMillis = 10'000;

// Equal but for the time left in the phase, which changes at every publish.
bool sameSummary(RolloutSummaryView a, RolloutSummaryView b) {
  a.millisLeft = 0;
  b.millisLeft = 0;
  return a == b;
}

bool sameModel(const RolloutView& a, const RolloutView& b) {
  return sameSummary(a.rollout, b.rollout) && a.plan == b.plan && a.checks == b.checks &&
         a.events == b.events;
}

bool sameHostsButContact(const std::vector<HostInfo>& a, const std::vector<HostInfo>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    HostInfo x = a[i];
    x.lastContactMillis = b[i].lastContactMillis;
    if (!(x == b[i])) return false;
  }
  return true;
}

}  // namespace

Result<std::pair<std::string, ConsoleTokenRecord>> issueConsoleToken(
    Store& store, const ConsoleTokenRequest& request, const std::string& issuedBy,
    std::uint64_t nowMillis) {
  const std::string& name = request.operatorName;
  bool validName = !name.empty() && name.size() <= 64 &&
                   std::all_of(name.begin(), name.end(), [](char c) {
                     return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                            c == '-' || c == '@';
                   });
  if (!validName) {
    return makeError("operator: expected 1 to 64 letters, digits, '.', '_', '-' or '@', got \"" +
                     name + "\"");
  }
  auto role = console::parseRole(request.role);
  if (!role) return role.error();
  constexpr std::uint64_t kMaxTtlSeconds = 366ULL * 86400;
  if (request.ttlSeconds < 1 || request.ttlSeconds > kMaxTtlSeconds) {
    return makeError("ttl: expected 1 second to 366 days, got " +
                     std::to_string(request.ttlSeconds) + " seconds");
  }
  std::string token = console::newToken();
  ConsoleTokenRecord record{sha256Hex(token), name, std::string(console::toString(*role)),
                            nowMillis, nowMillis + request.ttlSeconds * 1000, issuedBy};
  if (auto status = store.saveConsoleToken(record); !status) {
    return makeError("cannot store the console token: " + status.error().message);
  }
  return std::make_pair(token, record);
}

Result<std::pair<std::string, std::string>> consoleCertificate(const CoordinatorConfig& config,
                                                               std::uint64_t nowMillis,
                                                               const Logger& logger) {
  std::string cert = config.console.certFile;
  std::string key = config.console.keyFile;
  if (!config.console.plainHttp && cert.empty()) {
    cert = config.stateDir + "/console-cert.pem";
    key = config.stateDir + "/console-key.pem";
    std::string host;
    int port = 0;
    console::splitListen(config.console.listen, host, port);
    auto made = console::ensureSelfSigned(cert, key, host, nowMillis);
    if (!made) return made.error();
    if (*made) {
      logger->warn("console: generated a self-signed certificate {} (key {}); set [console] cert "
                   "and key to use your own",
                   cert, key);
    }
  }
  return std::make_pair(cert, key);
}

Result<std::unique_ptr<ConsoleFeed>> ConsoleFeed::start(ConsoleFeedParts parts) {
  std::unique_ptr<ConsoleFeed> feed(new ConsoleFeed(std::move(parts)));
  const auto& config = feed->parts_.config.console;
  auto files = consoleCertificate(feed->parts_.config, feed->parts_.clock.nowMillis(),
                                  feed->parts_.logger);
  if (!files) return files.error();
  const auto& [cert, key] = *files;
  if (feed->queue_.fd() < 0) return makeError("console: cannot create the loop's eventfd");
  feed->publish();
  auto server = console::ConsoleServer::start(config, cert, key, feed->board_, feed->queue_,
                                              *feed, feed->parts_.clock, feed->parts_.logger);
  if (!server) return server.error();
  feed->server_ = std::move(*server);
  feed->parts_.logger->info("console: serving {}", feed->server_->url());
  return feed;
}

ConsoleFeed::~ConsoleFeed() {
  if (server_) server_->stop();
  server_.reset();
}

Result<std::optional<console::TokenGrant>> ConsoleFeed::findToken(const std::string& sha256Hex) {
  auto found = parts_.store.findConsoleToken(sha256Hex);
  if (!found) return found.error();
  if (!*found) return std::optional<console::TokenGrant>();
  return std::optional<console::TokenGrant>(console::TokenGrant{
      (*found)->operatorName, (*found)->role, (*found)->expiresMillis});
}

void ConsoleFeed::act(const std::string& operatorName, const AdminRequest& given,
                      std::function<void(const AdminReply&)> done) {
  AdminRequest request = given;
  request.requestId = ++nextRequestId_;
  std::string what = std::visit(
      [](const auto& body) -> std::string {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, AbortRequest>) {
          return body.all ? "abort every rollout" : "abort " + body.rolloutId;
        } else if constexpr (std::is_same_v<T, RolloutAction>) {
          static const char* names[] = {"pause", "resume", "promote", "roll back"};
          return std::string(names[static_cast<int>(body.action)]) + " " + body.rolloutId;
        } else if constexpr (std::is_same_v<T, FreezeRequest>) {
          return body.frozen ? "freeze" : "unfreeze";
        } else if constexpr (std::is_same_v<T, RevertRequest>) {
          return "revert " + body.service + (body.toVersion.empty() ? "" : " to " + body.toVersion);
        } else if constexpr (std::is_same_v<T, BacktestRequest>) {
          return "backtest" + (body.service.empty() ? std::string() : " of " + body.service);
        } else {
          return "request";
        }
      },
      request.body);
  std::string rolloutId;
  if (const auto* a = std::get_if<AbortRequest>(&request.body)) rolloutId = a->rolloutId;
  if (const auto* a = std::get_if<RolloutAction>(&request.body)) rolloutId = a->rolloutId;
  parts_.logger->info("console: operator {}: {}", operatorName, what);
  if (auto status = parts_.store.recordEvent(EventRecord{parts_.clock.nowMillis(),
                                                         "console_action", "", rolloutId,
                                                         what + " by " + operatorName +
                                                             " (console)"});
      !status) {
    parts_.logger->error("console: cannot record '{}' by {} in the event log: {}", what,
                         operatorName, status.error().message);
  }
  waiting_[request.requestId] = std::move(done);
  auto reply = parts_.admin.handle(operatorName, kConsoleRoutingId, request);
  if (reply) deliver(ReplyTo{kConsoleRoutingId, request.requestId}, *reply);
  // Publish what the action changed at once.
  nextPublishMillis_ = 0;
}

bool ConsoleFeed::deliver(const ReplyTo& to, const AdminReply& reply) {
  if (to.routingId != kConsoleRoutingId) return false;
  if (!reply.final) return true;  // progress of a command: the page follows the rollout
  auto it = waiting_.find(to.requestId);
  if (it == waiting_.end()) return true;
  auto done = std::move(it->second);
  waiting_.erase(it);
  done(reply);
  return true;
}

std::shared_ptr<const RolloutView> ConsoleFeed::readModel(const std::string& id) {
  if (!parts_.rollouts.exists(id)) return nullptr;
  // The typed read model as it is: no JSON text on the loop's way to the console.
  Result<RolloutView> view = parts_.rollouts.describe(id);
  if (!view) {
    std::uint64_t now = parts_.clock.steadyMillis();
    if (now >= nextErrorLogMillis_) {
      nextErrorLogMillis_ = now + 60'000;
      parts_.logger->error("console: cannot read rollout {}: {}", id, view.error().message);
    }
    return nullptr;
  }
  // The label: a running rollout's at once (cheap: no peers); a finished one's reads the
  // service's later rollouts, so it is refreshed every kLabelRefreshMillis.
  RolloutLabel label;
  const std::uint64_t steady = parts_.clock.steadyMillis();
  if (view->rollout.finishedMillis == 0) {
    label = parts_.rollouts.labelOf(id);
  } else {
    CachedLabel& cached = labels_[id];
    if (cached.readSteadyMillis == 0 || steady >= cached.readSteadyMillis + kLabelRefreshMillis) {
      cached = CachedLabel{parts_.rollouts.labelOf(id), std::max<std::uint64_t>(steady, 1)};
    }
    label = cached.label;
    if (labels_.size() > 256) labels_.clear();  // ids of pages no longer open
  }
  view->rollout.label = label.label;
  view->rollout.labelSource = label.source;
  return std::make_shared<const RolloutView>(std::move(*view));
}

void ConsoleFeed::publish() {
  std::uint64_t steady = parts_.clock.steadyMillis();
  if (steady < nextPublishMillis_) return;
  nextPublishMillis_ = steady + static_cast<std::uint64_t>(parts_.config.console.publishMillis);
  ++publishes_;
  const console::ConsoleSnapshot& prev = *last_;
  auto next = std::make_shared<console::ConsoleSnapshot>();
  const std::uint64_t version = prev.version + 1;
  bool changed = false;
  std::uint64_t now = parts_.clock.nowMillis();
  next->publishedMillis = now;

  // Hosts: a change of health, release or membership at once; last contact times every 5 s.
  next->hosts = parts_.registry.list(now);
  std::sort(next->hosts.begin(), next->hosts.end(), [](const HostInfo& a, const HostInfo& b) {
    return std::tie(a.region, a.cluster, a.name) < std::tie(b.region, b.cluster, b.name);
  });
  next->fleetVersion = prev.fleetVersion;
  if (!sameHostsButContact(next->hosts, prev.hosts)) {
    next->fleetVersion = version;
    nextContactMillis_ = steady + kContactRefreshMillis;
  } else if (!(next->hosts == prev.hosts) && steady >= nextContactMillis_) {
    next->fleetVersion = version;
    nextContactMillis_ = steady + kContactRefreshMillis;
  } else if (!(next->hosts == prev.hosts)) {
    next->hosts = prev.hosts;  // keep the older contact times until they are due
  }
  changed = changed || next->fleetVersion == version;

  // Rollouts: running ones from the engine, finished ones once.
  std::set<std::string> active;
  for (const auto& id : parts_.rollouts.activeIds()) active.insert(id);
  if (auto ids = parts_.store.recentRolloutIds(kRecentRollouts)) {
    for (const auto& id : *ids) {
      if (!active.count(id)) {
        if (auto it = finished_.find(id); it != finished_.end()) {
          next->rollouts.push_back(it->second);
          continue;
        }
      }
      auto text = parts_.rollouts.summaryJsonOf(id);
      if (!text) continue;
      auto summary = rolloutSummaryFromJson(json::parse(*text, nullptr, false));
      if (!summary) continue;
      if (!active.count(id) && summary->finishedMillis != 0) finished_[id] = *summary;
      next->rollouts.push_back(std::move(*summary));
    }
  }
  next->freeze = parts_.admin.frozen();
  const auto& aborts = parts_.aborts.tracker().all();
  for (auto it = aborts.rbegin(); it != aborts.rend() && next->aborts.size() < kRecentAborts;
       ++it) {
    const AbortState& state = it->second;
    next->aborts.push_back(console::AbortView{
        state.abort.abortId, state.abort.rolloutIds, state.abort.reason, state.requestedBy,
        state.createdMillis, std::vector<std::string>(state.targets.begin(), state.targets.end()),
        state.ackedAtMillis});
  }
  bool listChanged = next->rollouts.size() != prev.rollouts.size() ||
                     next->freeze != prev.freeze || next->aborts != prev.aborts;
  for (std::size_t i = 0; !listChanged && i < next->rollouts.size(); ++i) {
    listChanged = !sameSummary(next->rollouts[i], prev.rollouts[i]);
  }
  next->rolloutsVersion = listChanged ? version : prev.rolloutsVersion;
  changed = changed || listChanged;

  // Read models: running rollouts at every publish; finished ones a page asks for every 4th.
  std::set<std::string> wanted = board_.wanted(steady);
  std::set<std::string> detailIds = active;
  detailIds.insert(wanted.begin(), wanted.end());
  for (const auto& id : detailIds) {
    auto old = prev.details.find(id);
    std::shared_ptr<const RolloutView> model;
    if (!active.count(id) && old != prev.details.end() && publishes_ % 4 != 0) {
      model = old->second;
    } else {
      model = readModel(id);
      if (!model && old != prev.details.end()) model = old->second;
    }
    if (!model) continue;
    next->details[id] = model;
    if (!specs_.count(id)) {
      if (auto specs = parts_.rollouts.checkSpecsOf(id)) specs_[id] = *specs;
    }
    if (auto specs = specs_.find(id); specs != specs_.end()) next->checkSpecs[id] = specs->second;
    auto oldVersion = prev.rolloutVersions.find(id);
    bool same = old != prev.details.end() && oldVersion != prev.rolloutVersions.end() &&
                sameModel(*old->second, *model);
    next->rolloutVersions[id] = same ? oldVersion->second : version;
    changed = changed || !same;
  }
  if (next->details.size() != prev.details.size()) changed = true;

  // Backtest runs: the list again whenever a run starts or ends.
  next->backtestsVersion = prev.backtestsVersion;
  if (parts_.backtests != nullptr && parts_.backtests->runsVersion() != backtestsSeen_) {
    backtestsSeen_ = parts_.backtests->runsVersion();
    next->backtests = parts_.backtests->runs();
    next->backtestsVersion = version;
    changed = true;
  } else {
    next->backtests = prev.backtests;
  }
  if (!changed) return;
  next->version = version;
  last_ = next;
  board_.publish(next);
}

}  // namespace rollgate::coordinator
