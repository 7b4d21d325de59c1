// HaproxyGate: drains this host's server in HAProxy around a restart through the runtime API:
//   drain:   `set server B/S state drain`, then `show stat` until scur is 0 (or the bound)
//   restore: `set server B/S state ready`, then `show stat` until HAProxy's check says UP
// Servers of one backend drained at the same moment (every host restarted at once) take turns so
// that one always takes new requests: the backend's servers, sorted by name, form two groups
// (even and odd places), each group drains only in its own half of a cycle of 2 x turnMillis of
// the wall clock, and only while a server of the other group takes new requests.
// Before draining it writes a marker file (atomically, fsynced); restore() removes it once the
// server is ready again, and recover() readies any server whose marker survived a crash. A server
// that someone else put in maintenance or drain is left exactly as it was.
// A held weight (holdWeight: `set server B/S weight N`) is remembered in a second marker with its
// end time; restore() after any restart, releaseWeight() at the end time, and recover() after a
// crash put the server back to `weight 100%` (its configured weight).
// Thread-safety: one thread (the install worker).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "agent/lb/haproxy_runtime.h"
#include "agent/lb/traffic_gate.h"
#include "common/sys/env.h"

namespace rollgate::lb {

struct HaproxyGateOptions {
  RuntimeAddress address;
  std::string backend;
  std::string server;
  std::string markerPath;                      // e.g. <state_dir>/haproxy-<service>.drained
  std::string weightMarkerPath;                // e.g. <state_dir>/haproxy-<service>.weight
  std::uint32_t commandTimeoutMillis = 3'000;  // one runtime API command
  std::uint32_t drainTimeoutMillis = 30'000;   // longest wait for scur to reach 0
  std::uint32_t upTimeoutMillis = 30'000;      // longest wait for HAProxy's check after ready
  std::uint32_t pollMillis = 100;
  // A group's turn: drains begin in the first half of it. 0: no turns (any other server taking
  // new requests lets a server drain, and simultaneous drains step back after the fact).
  std::uint32_t turnMillis = 200;
};

class HaproxyGate final : public TrafficGate {
 public:
  // `env` (marker writes, waits) must outlive the gate.
  HaproxyGate(HaproxyGateOptions options, sys::Env& env);

  Status drain(std::vector<std::string>& events) override;
  Status restore(std::vector<std::string>& events) override;
  Status recover(std::vector<std::string>& events) override;
  Status holdWeight(std::int32_t weight, std::uint64_t untilMillis,
                    std::vector<std::string>& events) override;
  Status releaseWeight(std::vector<std::string>& events) override;
  std::optional<std::uint64_t> weightDueMillis() const override { return weightDue_; }
  std::string describe() const override;

 private:
  bool markerExists();
  Status setReadyAndForget();
  Status writeDrainMarker();
  // `set server ... state drain` (the marker is written).
  Status setDrain();
  enum class Others {
    kServing,         // another server takes new requests
    kNoneServing,     // none does now, but one drained or down may come back
    kNoneToWaitFor,   // no other server, every other in maint, or HAProxy's answer unknown
  };
  struct OtherServers {
    Others kind;
    std::string detail;  // the serving server, or the others' statuses
    int group = -1;      // this server's group (0 or 1) when turns apply, else -1
  };
  // With `inTurns`, and when turns apply, only the other group's servers count: those of this
  // server's own group may be draining at this very moment. Turns apply with turnMillis set and
  // a server of the other group that may serve (not every one in maint).
  OtherServers otherServers(bool inTurns) const;
  // Waits (until `deadline`, steady clock) while no other server of the backend (of the other
  // group, in turns) takes new requests and one may come back.
  OtherServers waitForAnotherServer(std::uint64_t deadline, std::vector<std::string>& events);
  // Sleeps until the first half of `group`'s turn.
  void waitForTurn(int group);
  void waitForSessions(std::vector<std::string>& events);
  void waitUntilUp(std::vector<std::string>& events);
  std::string serverName() const { return options_.backend + "/" + options_.server; }

  HaproxyGateOptions options_;
  sys::Env& env_;
  HaproxyRuntime runtime_;
  std::minstd_rand random_;  // the step-back delay after a simultaneous drain (a missed turn)
  bool untouched_ = false;   // the last drain() left a server someone else had drained alone
  std::optional<std::uint64_t> weightDue_;  // a held weight's end (wall clock), or a retry
};

}  // namespace rollgate::lb
