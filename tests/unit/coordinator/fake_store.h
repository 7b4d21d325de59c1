// FakeStore: an in-memory Store for unit tests whose calls fail on demand: put a method's name
// ("saveAbort", "saveCommandRefs", "recordEvent", ...) in `failing` and every call of it returns an
// error ("<name>: disk full (injected)") and changes nothing. Counts the calls that failed.
// Thread-safety: one thread.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/store/record_codec.h"
#include "coordinator/store/store.h"

namespace rollgate::coordinator::testing {

class FakeStore : public Store {
 public:
  std::set<std::string> failing;
  std::size_t failedCalls = 0;

  std::map<std::string, HostInfo> hosts;
  std::vector<EventRecord> events;
  std::map<std::uint64_t, AbortState> aborts;
  std::optional<FreezeState> freeze;
  std::map<std::string, ConsoleTokenRecord> consoleTokens;
  std::map<std::string, RolloutRecord> rollouts;
  std::vector<CheckRecord> checks;
  std::vector<StoredWindow> windows;
  std::vector<ArtifactInfo> artifacts;
  std::map<std::string, RevertRecord> reverts;
  std::map<std::string, std::string> trainStates;
  std::map<std::pair<std::string, std::uint64_t>, TrainCandidateRow> candidates;
  std::vector<TrainEventRecord> trainEventLog;
  std::map<std::string, std::vector<std::string>> journals;
  std::map<std::string, RolloutLabelRecord> labels;

  std::uint64_t epoch() const override { return 7; }

  Status saveHost(const HostInfo& host) override {
    if (fails("saveHost")) return injected("saveHost");
    hosts[host.name] = host;
    return {};
  }
  Status saveLastContacts(
      const std::vector<std::pair<std::string, std::uint64_t>>& contacts) override {
    if (fails("saveLastContacts")) return injected("saveLastContacts");
    for (const auto& [name, at] : contacts) hosts[name].lastContactMillis = at;
    return {};
  }
  Status deleteHost(const std::string& name) override {
    if (fails("deleteHost")) return injected("deleteHost");
    hosts.erase(name);
    return {};
  }
  Result<std::vector<HostInfo>> loadHosts() override {
    std::vector<HostInfo> out;
    for (const auto& [name, host] : hosts) out.push_back(host);
    return out;
  }

  Status recordEvent(const EventRecord& event) override {
    if (fails("recordEvent")) return injected("recordEvent");
    events.push_back(event);
    return {};
  }
  Result<std::vector<EventRecord>> eventsOf(const std::string& rolloutId) override {
    std::vector<EventRecord> out;
    for (const auto& e : events) {
      if (e.rolloutId == rolloutId) out.push_back(e);
    }
    return out;
  }

  Status saveAbort(const AbortState& state) override {
    if (fails("saveAbort")) return injected("saveAbort");
    aborts[state.abort.abortId] = state;
    return {};
  }
  Result<std::vector<AbortState>> loadAborts() override {
    std::vector<AbortState> out;
    for (const auto& [id, state] : aborts) out.push_back(state);
    return out;
  }
  Status setFrozen(const std::optional<FreezeState>& state) override {
    if (fails("setFrozen")) return injected("setFrozen");
    freeze = state;
    return {};
  }
  Result<std::optional<FreezeState>> frozen() override { return freeze; }

  Result<std::vector<std::string>> loadTrainStates() override {
    std::vector<std::string> out;
    for (const auto& [service, json] : trainStates) out.push_back(json);
    return out;
  }
  Status saveTrain(const std::string& service, const std::string& stateJson,
                   const std::vector<TrainCandidateRow>& rows) override {
    if (fails("saveTrain")) return injected("saveTrain");
    trainStates[service] = stateJson;
    for (const auto& row : rows) candidates[{row.service, row.seq}] = row;
    return {};
  }
  Result<std::vector<TrainCandidateRow>> loadCandidates(const std::string& service) override {
    std::vector<TrainCandidateRow> out;
    for (const auto& [key, row] : candidates) {
      if (key.first == service) out.push_back(row);
    }
    return out;
  }
  Status recordTrainEvent(const TrainEventRecord& event) override {
    if (fails("recordTrainEvent")) return injected("recordTrainEvent");
    trainEventLog.push_back(event);
    return {};
  }
  Result<std::vector<TrainEventRecord>> trainEvents(const std::string& service,
                                                    std::size_t limit) override {
    std::vector<TrainEventRecord> out;
    for (const auto& e : trainEventLog) {
      if (e.service == service) out.push_back(e);
    }
    if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
    return out;
  }
  Status saveConsoleToken(const ConsoleTokenRecord& token) override {
    if (fails("saveConsoleToken")) return injected("saveConsoleToken");
    consoleTokens[token.sha256Hex] = token;
    return {};
  }
  Result<std::optional<ConsoleTokenRecord>> findConsoleToken(const std::string& hash) override {
    auto it = consoleTokens.find(hash);
    if (it == consoleTokens.end()) return std::optional<ConsoleTokenRecord>();
    return std::optional<ConsoleTokenRecord>(it->second);
  }

  Result<std::uint64_t> nextRevertSeq() override {
    std::uint64_t next = 1;
    for (const auto& [id, revert] : reverts) next = std::max(next, revert.seq + 1);
    return next;
  }
  Status saveRevert(const RevertRecord& revert) override {
    if (fails("saveRevert")) return injected("saveRevert");
    reverts[revert.id] = revert;
    return {};
  }
  Result<std::optional<RevertRecord>> loadRevert(const std::string& id) override {
    auto it = reverts.find(id);
    if (it == reverts.end()) return std::optional<RevertRecord>();
    return std::optional<RevertRecord>(it->second);
  }
  Status appendJournal(const std::string& rolloutId,
                       const std::vector<std::string>& lines) override {
    if (fails("appendJournal")) return injected("appendJournal");
    auto& kept = journals[rolloutId];
    kept.insert(kept.end(), lines.begin(), lines.end());
    return {};
  }
  Result<JournalUsage> pruneJournals(std::uint64_t) override {
    JournalUsage usage;
    for (const auto& [id, lines] : journals) {
      usage.rollouts += 1;
      for (const auto& line : lines) usage.bytes += line.size();
    }
    return usage;
  }
  Status saveLabel(const RolloutLabelRecord& label) override {
    if (fails("saveLabel")) return injected("saveLabel");
    labels[label.rolloutId] = label;
    return {};
  }
  Result<std::optional<RolloutLabelRecord>> labelOf(const std::string& id) override {
    auto it = labels.find(id);
    if (it == labels.end()) return std::optional<RolloutLabelRecord>();
    return std::optional<RolloutLabelRecord>(it->second);
  }
  Result<std::vector<RevertRecord>> revertsOf(const std::string& service) override {
    std::vector<RevertRecord> out;
    for (const auto& [id, revert] : reverts) {
      if (revert.service == service) out.push_back(revert);
    }
    return out;
  }
  Result<std::vector<RevertRecord>> unfinishedReverts() override {
    std::vector<RevertRecord> out;
    for (const auto& [id, revert] : reverts) {
      if (!revert.finished) out.push_back(revert);
    }
    std::sort(out.begin(), out.end(),
              [](const RevertRecord& a, const RevertRecord& b) { return a.seq < b.seq; });
    return out;
  }

  Result<std::uint64_t> nextRolloutSeq() override {
    std::uint64_t seq = 0;
    for (const auto& [id, r] : rollouts) seq = std::max(seq, r.seq);
    return seq + 1;
  }
  Status createRollout(const RolloutRecord& rollout) override {
    if (fails("createRollout")) return injected("createRollout");
    if (rollouts.count(rollout.id)) return makeError("rollout " + rollout.id + " exists");
    rollouts[rollout.id] = rollout;
    return {};
  }
  Status saveRollout(const RolloutRecord& rollout) override {
    if (fails("saveRollout")) return injected("saveRollout");
    auto it = rollouts.find(rollout.id);
    if (it == rollouts.end()) return makeError("no rollout " + rollout.id);
    it->second.status = rollout.status;
    it->second.finished = rollout.finished;
    it->second.updatedMillis = rollout.updatedMillis;
    it->second.stateJson = rollout.stateJson;
    it->second.commandRefs = rollout.commandRefs;
    return {};
  }
  Status saveCommandRefs(const std::string& rolloutId,
                         const std::map<std::uint64_t, CommandRef>& refs) override {
    if (fails("saveCommandRefs")) return injected("saveCommandRefs");
    auto it = rollouts.find(rolloutId);
    if (it == rollouts.end()) return makeError("no rollout " + rolloutId);
    it->second.commandRefs = refs;
    return {};
  }
  Result<std::optional<RolloutRecord>> loadRollout(const std::string& id) override {
    auto it = rollouts.find(id);
    if (it == rollouts.end()) return std::optional<RolloutRecord>();
    return std::optional<RolloutRecord>(it->second);
  }
  Result<std::vector<RolloutRecord>> unfinishedRollouts() override {
    std::vector<RolloutRecord> out;
    for (const auto& [id, r] : rollouts) {
      if (!r.finished) out.push_back(r);
    }
    return out;
  }
  Result<std::vector<std::string>> recentRolloutIds(std::size_t limit) override {
    std::vector<std::pair<std::uint64_t, std::string>> bySeq;
    for (const auto& [id, r] : rollouts) bySeq.emplace_back(r.seq, id);
    std::sort(bySeq.rbegin(), bySeq.rend());
    std::vector<std::string> out;
    for (const auto& [seq, id] : bySeq) {
      if (out.size() < limit) out.push_back(id);
    }
    return out;
  }
  Status recordCheck(const CheckRecord& check) override {
    if (fails("recordCheck")) return injected("recordCheck");
    checks.push_back(check);
    return {};
  }
  Result<std::vector<CheckRecord>> checksOf(const std::string& rolloutId) override {
    std::vector<CheckRecord> out;
    for (const auto& c : checks) {
      if (c.rolloutId == rolloutId) out.push_back(c);
    }
    return out;
  }

  Status appendWindows(const std::vector<WindowRow>& more) override {
    if (fails("appendWindows")) return injected("appendWindows");
    for (const auto& row : more) {
      auto window = decodeWindow(row.encoded);
      if (!window) return window.error();
      windows.push_back(StoredWindow{row.host, std::move(*window)});
    }
    return {};
  }
  Result<std::vector<TelemetryWindow>> latestWindows(const std::string& host,
                                                     const std::string& service,
                                                     std::uint32_t last) override {
    std::vector<TelemetryWindow> out;
    for (const auto& w : windows) {
      if (w.host == host && (service.empty() || w.window.service == service)) {
        out.push_back(w.window);
      }
    }
    if (out.size() > last) out.erase(out.begin(), out.end() - last);
    return out;
  }
  Result<std::vector<StoredWindow>> windowsSince(const std::string& service,
                                                 const std::vector<std::string>& hosts,
                                                 std::uint64_t sinceMillis) override {
    std::vector<StoredWindow> out;
    for (const auto& w : windows) {
      if (w.window.service == service && w.window.endMillis > sinceMillis &&
          std::find(hosts.begin(), hosts.end(), w.host) != hosts.end()) {
        out.push_back(w);
      }
    }
    return out;
  }
  Result<std::uint64_t> pruneWindows(std::uint64_t beforeMillis) override {
    if (fails("pruneWindows")) return injected("pruneWindows");
    // In the order stored, as the backends do: up to the first window still kept.
    auto kept = std::find_if(windows.begin(), windows.end(), [&](const StoredWindow& w) {
      return w.window.endMillis >= beforeMillis;
    });
    auto end = std::remove_if(windows.begin(), kept, [&](const StoredWindow& w) {
      return w.window.endMillis < beforeMillis;
    });
    auto deleted = static_cast<std::uint64_t>(kept - end);
    windows.erase(end, kept);
    return deleted;
  }
  Result<std::uint64_t> pruneEvents(std::uint64_t beforeMillis, std::uint64_t keepRows) override {
    if (fails("pruneEvents")) return injected("pruneEvents");
    auto before = events.size();
    std::erase_if(events, [&](const EventRecord& e) { return e.atMillis < beforeMillis; });
    if (events.size() > keepRows) events.erase(events.begin(), events.end() - keepRows);
    return static_cast<std::uint64_t>(before - events.size());
  }

  Result<std::optional<ArtifactInfo>> findArtifact(const std::string& service,
                                                   const std::string& version) override {
    for (const auto& a : artifacts) {
      if (a.service == service && a.version == version) return std::optional<ArtifactInfo>(a);
    }
    return std::optional<ArtifactInfo>();
  }
  Result<std::optional<ArtifactInfo>> findArtifactBySha(const std::string& sha256) override {
    for (const auto& a : artifacts) {
      if (a.sha256 == sha256) return std::optional<ArtifactInfo>(a);
    }
    return std::optional<ArtifactInfo>();
  }
  Result<std::vector<ArtifactInfo>> listArtifacts(const std::string& service) override {
    std::vector<ArtifactInfo> out;
    for (const auto& a : artifacts) {
      if (service.empty() || a.service == service) out.push_back(a);
    }
    return out;
  }
  Status addArtifact(const ArtifactInfo& artifact) override {
    if (fails("addArtifact")) return injected("addArtifact");
    artifacts.push_back(artifact);
    return {};
  }
  Status setArtifactSignature(const std::string& service, const std::string& version,
                              const std::string& signature) override {
    if (fails("setArtifactSignature")) return injected("setArtifactSignature");
    for (auto& a : artifacts) {
      if (a.service == service && a.version == version) a.signature = signature;
    }
    return {};
  }

 private:
  bool fails(const std::string& method) {
    if (failing.count(method) == 0) return false;
    ++failedCalls;
    return true;
  }
  static Error injected(const std::string& method) {
    return makeError(method + ": disk full (injected)");
  }
};

}  // namespace rollgate::coordinator::testing
