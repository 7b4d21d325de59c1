#include "agent/lb/haproxy_gate.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace rollgate::lb {

HaproxyGate::HaproxyGate(HaproxyGateOptions options, sys::Env& env)
    : options_(std::move(options)),
      env_(env),
      runtime_(options_.address, options_.commandTimeoutMillis),
      random_(std::random_device{}()) {}

std::string HaproxyGate::describe() const {
  return "haproxy " + options_.address.text + " server " + serverName();
}

bool HaproxyGate::markerExists() {
  auto content = env_.readFileIfExists(options_.markerPath);
  return content && content->has_value();
}

Status HaproxyGate::setReadyAndForget() {
  // A lost answer or a busy HAProxy: try again a few times within the bound of each command.
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) env_.sleepMillis(500);
    last = runtime_.setState(options_.backend, options_.server, "ready");
    if (last) break;
  }
  if (!last) return last;
  if (auto s = env_.removeFile(options_.markerPath); !s) {
    return makeError("server " + serverName() + " is ready, but its drain marker " +
                     options_.markerPath + " could not be removed: " + s.error().message);
  }
  return {};
}

Status HaproxyGate::drain(std::vector<std::string>& events) {
  untouched_ = false;
  auto state = runtime_.state(options_.backend, options_.server);
  if (!state) return makeError("cannot drain " + serverName() + ": " + state.error().message);
  constexpr std::uint32_t kHeldByOthers = kAdminForcedMaint | kAdminForcedDrain;
  if ((state->adminState & kHeldByOthers) != 0 && !markerExists()) {
    untouched_ = true;
    events.push_back("haproxy server " + serverName() + " was already in " +
                     ((state->adminState & kAdminForcedMaint) ? "maint" : "drain") +
                     " (set outside rollgate): left as it was");
    return {};
  }
  // Hosts restarted together (a fleet-wide revert sends every host at once) would drain every
  // server of the backend together, and HAProxy would then fail every request. Each one waits for
  // a server of the other group to take new requests, then for its own group's turn, and checks
  // again within the turn before it drains: a server of the other group seen serving then cannot
  // drain before this turn ends. A turn missed (a runtime API answer slower than half a turn, or
  // clocks further apart than that) is caught after the fact: a server that finds, just after
  // draining, that no other server takes new requests steps back and tries again a little later.
  // The wait is bounded: past it, the restart goes ahead.
  if (auto s = writeDrainMarker(); !s) return s;
  const std::uint64_t deadline =
      env_.steadyMillis() + options_.drainTimeoutMillis + options_.upTimeoutMillis;
  for (;;) {
    auto others = waitForAnotherServer(deadline, events);
    if (others.group >= 0 && env_.steadyMillis() < deadline) {
      waitForTurn(others.group);
      if (otherServers(true).kind == Others::kNoneServing) continue;  // changed while waiting
    }
    if (auto s = setDrain(); !s) return s;
    if (env_.steadyMillis() >= deadline || otherServers(false).kind != Others::kNoneServing) {
      break;
    }
    if (auto s = setReadyAndForget(); !s) {
      return makeError("cannot drain " + serverName() +
                       " (every server of the backend was drained at once, and setting this one "
                       "ready again failed; retried at the next command and at agent start): " +
                       s.error().message);
    }
    if (auto s = writeDrainMarker(); !s) return s;
    std::uint32_t backoff = std::uniform_int_distribution<std::uint32_t>(100, 600)(random_);
    events.push_back("haproxy server " + serverName() +
                     " set ready again: every other server of backend " + options_.backend +
                     " was drained at the same moment; draining again in " +
                     std::to_string(backoff) + " ms");
    env_.sleepMillis(backoff);
  }
  waitForSessions(events);
  return {};
}

Status HaproxyGate::writeDrainMarker() {
  nlohmann::json marker = {{"haproxy", options_.address.text},
                           {"backend", options_.backend},
                           {"server", options_.server},
                           {"drained_at_millis", env_.nowMillis()}};
  if (auto s = sys::writeFileAtomically(env_, options_.markerPath, marker.dump() + "\n"); !s) {
    return makeError("cannot record the drain of " + serverName() + " in " + options_.markerPath +
                     ": " + s.error().message + " (not drained)");
  }
  return {};
}

Status HaproxyGate::setDrain() {
  if (auto s = runtime_.setState(options_.backend, options_.server, "drain"); !s) {
    // The command may have reached HAProxy: put the server back before giving up.
    if (auto back = setReadyAndForget(); !back) {
      return makeError("cannot drain " + serverName() + ": " + s.error().message +
                       "; setting it ready failed too (retried at the next command and at agent "
                       "start): " +
                       back.error().message);
    }
    return makeError("cannot drain " + serverName() + ": " + s.error().message);
  }
  return {};
}

void HaproxyGate::waitForTurn(int group) {
  const std::uint64_t turn = options_.turnMillis;
  for (;;) {
    const std::uint64_t now = env_.nowMillis();
    const std::uint64_t index = now / turn;
    if (index % 2 == static_cast<std::uint64_t>(group) && now % turn < turn / 2) return;
    std::uint64_t next = (index + 1) * turn;
    if ((index + 1) % 2 != static_cast<std::uint64_t>(group)) next += turn;
    env_.sleepMillis(next - now);
  }
}

HaproxyGate::OtherServers HaproxyGate::otherServers(bool inTurns) const {
  auto servers = runtime_.backendStats(options_.backend);
  // Unknown: the drain itself reports an unreachable HAProxy; waiting would not help.
  if (!servers) return {Others::kNoneToWaitFor, servers.error().message};
  std::vector<std::string> names;
  for (const auto& server : *servers) names.push_back(server.name);
  std::sort(names.begin(), names.end());
  const auto place = [&](const std::string& name) {
    return static_cast<int>(std::lower_bound(names.begin(), names.end(), name) - names.begin());
  };
  const int group = place(options_.server) % 2;
  // Only the servers `counts` accepts.
  const auto classify = [&](auto counts) {
    OtherServers result{Others::kNoneToWaitFor, ""};
    for (const auto& other : *servers) {
      if (other.name == options_.server || !counts(other.name)) continue;
      if (statusServesNewRequests(other.stat.status) && other.stat.weight > 0) {
        return OtherServers{Others::kServing, other.name};
      }
      // A server in maint (an operator's, or HAProxy's) does not come back by itself; one that
      // is drained or down (restarting, starting up) does.
      if (other.stat.status.rfind("MAINT", 0) != 0) {
        result.kind = Others::kNoneServing;
        result.detail += (result.detail.empty() ? "" : ", ") + other.name + " " + other.stat.status;
      }
    }
    return result;
  };
  if (inTurns && options_.turnMillis > 0) {
    auto otherGroup = classify([&](const std::string& name) { return place(name) % 2 != group; });
    if (otherGroup.kind != Others::kNoneToWaitFor) {
      otherGroup.group = group;
      return otherGroup;
    }
  }
  return classify([](const std::string&) { return true; });
}

HaproxyGate::OtherServers HaproxyGate::waitForAnotherServer(std::uint64_t deadline,
                                                            std::vector<std::string>& events) {
  const std::uint64_t started = env_.steadyMillis();
  for (;;) {
    auto others = otherServers(true);
    std::uint64_t waited = env_.steadyMillis() - started;
    if (others.kind != Others::kNoneServing) {
      if (waited > 0 && others.kind == Others::kServing) {
        events.push_back("waited " + std::to_string(waited) + " ms until another server of " +
                         "backend " + options_.backend + " took new requests (" + others.detail +
                         ")");
      }
      return others;
    }
    if (env_.steadyMillis() >= deadline) {
      events.push_back("warning: no other server of backend " + options_.backend +
                       " takes new requests after " + std::to_string(waited) + " ms (" +
                       others.detail + "); draining " + serverName() +
                       " anyway: requests fail until one is back");
      return others;
    }
    env_.sleepMillis(options_.pollMillis);
  }
}

void HaproxyGate::waitForSessions(std::vector<std::string>& events) {
  const std::uint64_t started = env_.steadyMillis();
  std::string last;
  for (;;) {
    auto stat = runtime_.stat(options_.backend, options_.server);
    std::uint64_t waited = env_.steadyMillis() - started;
    if (stat && stat->currentSessions == 0) {
      events.push_back("drained haproxy server " + serverName() + " (0 sessions after " +
                       std::to_string(waited) + " ms)");
      return;
    }
    last = stat ? std::to_string(stat->currentSessions) + " sessions still open"
                : stat.error().message;
    if (waited >= options_.drainTimeoutMillis) break;
    env_.sleepMillis(options_.pollMillis);
  }
  events.push_back("warning: haproxy server " + serverName() + " drained, but after " +
                   std::to_string(options_.drainTimeoutMillis) + " ms: " + last +
                   "; restarting anyway");
}

Status HaproxyGate::restore(std::vector<std::string>& events) {
  if (weightDue_) {
    // A restart ends a held weight (a rollback, a restart, the next install).
    if (auto s = releaseWeight(events); !s) events.push_back("warning: " + s.error().message);
  }
  if (untouched_) {
    untouched_ = false;
    return {};
  }
  if (auto s = setReadyAndForget(); !s) {
    return makeError("haproxy server " + serverName() + " may still be in drain: " +
                     s.error().message + " (retried at the next command and at agent start)");
  }
  waitUntilUp(events);
  return {};
}

void HaproxyGate::waitUntilUp(std::vector<std::string>& events) {
  const std::uint64_t started = env_.steadyMillis();
  std::string last;
  for (;;) {
    auto stat = runtime_.stat(options_.backend, options_.server);
    std::uint64_t waited = env_.steadyMillis() - started;
    if (stat && statusTakesTraffic(stat->status)) {
      events.push_back("haproxy server " + serverName() + " ready and " + stat->status + " after " +
                       std::to_string(waited) + " ms");
      return;
    }
    last = stat ? "status " + stat->status : stat.error().message;
    if (waited >= options_.upTimeoutMillis) break;
    env_.sleepMillis(options_.pollMillis);
  }
  events.push_back("warning: haproxy server " + serverName() + " set ready, but after " +
                   std::to_string(options_.upTimeoutMillis) +
                   " ms HAProxy's check still says: " + last);
}

Status HaproxyGate::holdWeight(std::int32_t weight, std::uint64_t untilMillis,
                               std::vector<std::string>& events) {
  nlohmann::json marker = {{"haproxy", options_.address.text},
                           {"backend", options_.backend},
                           {"server", options_.server},
                           {"weight", weight},
                           {"until_millis", untilMillis}};
  if (auto s = sys::writeFileAtomically(env_, options_.weightMarkerPath, marker.dump() + "\n");
      !s) {
    return makeError("cannot record the weight of " + serverName() + " in " +
                     options_.weightMarkerPath + ": " + s.error().message + " (weight unchanged)");
  }
  weightDue_ = untilMillis;
  if (auto s = runtime_.setWeight(options_.backend, options_.server, std::to_string(weight)); !s) {
    std::vector<std::string> ignored;
    (void)releaseWeight(ignored);  // the command may have reached HAProxy
    return makeError("cannot set the weight of " + serverName() + " to " + std::to_string(weight) +
                     ": " + s.error().message);
  }
  std::uint64_t now = env_.nowMillis();
  events.push_back("haproxy server " + serverName() + " weight " + std::to_string(weight) +
                   " for " + std::to_string(untilMillis > now ? (untilMillis - now) / 1000 : 0) +
                   " s (the stage's warm-up and analysis), then its configured weight");
  return {};
}

Status HaproxyGate::releaseWeight(std::vector<std::string>& events) {
  constexpr std::uint64_t kRetryMillis = 5'000;
  if (auto s = runtime_.setWeight(options_.backend, options_.server, "100%"); !s) {
    weightDue_ = env_.nowMillis() + kRetryMillis;
    return makeError("haproxy server " + serverName() +
                     " keeps its stage weight for now (retried in 5 s): " + s.error().message);
  }
  if (auto s = env_.removeFile(options_.weightMarkerPath); !s) {
    weightDue_ = env_.nowMillis() + kRetryMillis;
    return makeError("haproxy server " + serverName() + " is back to its configured weight, but " +
                     options_.weightMarkerPath + " could not be removed: " + s.error().message);
  }
  weightDue_.reset();
  events.push_back("haproxy server " + serverName() + " back to its configured weight");
  return {};
}

Status HaproxyGate::recover(std::vector<std::string>& events) {
  if (auto held = env_.readFileIfExists(options_.weightMarkerPath); held && held->has_value()) {
    auto marker = nlohmann::json::parse(**held, nullptr, false);
    weightDue_ = marker.is_object() ? marker.value("until_millis", std::uint64_t{0}) : 0;
    if (*weightDue_ <= env_.nowMillis()) {
      if (auto s = releaseWeight(events); !s) return s;
    }
  }
  if (!markerExists()) return {};
  if (auto s = setReadyAndForget(); !s) {
    return makeError("haproxy server " + serverName() + " was left in drain by an earlier run (" +
                     options_.markerPath + ") and cannot be set ready yet: " + s.error().message);
  }
  events.push_back("haproxy server " + serverName() +
                   " set ready again (an earlier run left it drained)");
  return {};
}

}  // namespace rollgate::lb
