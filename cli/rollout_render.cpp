// The text `rollgate rollout status|list|watch|explain|history` print, rendered from the read
// model's fields (rollout_commands.h). No I/O, no clock; nothing here re-reads the coordinator's
// sentences.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/rollout_commands.h"

namespace rollgate::cli {

namespace {

const std::string kMissing = "-";

// A string as text; "-" when empty.
std::string text(const std::string& value) { return value.empty() ? kMissing : value; }
std::string text(bool value) { return value ? "yes" : "no"; }
std::string text(std::uint64_t value) { return std::to_string(value); }
std::string text(stats::Verdict value) { return std::string(stats::toString(value)); }
std::string text(stats::Tier value) { return std::string(stats::toString(value)); }
std::string text(stats::Test value) { return std::string(stats::toString(value)); }
std::string text(stats::Metric value) { return std::string(stats::toString(value)); }

// "-" for NaN; "inf" / "-inf" spelled out.
std::string number(double value, const char* format = "%.3g") {
  if (std::isnan(value)) return kMissing;
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char out[64];
  std::snprintf(out, sizeof(out), format, value);
  return out;
}

// "+0.029 [0.02, 0.038]" (a difference; ratios without the sign); "-" when there is no estimate.
std::string withInterval(const stats::EffectEstimate& effect, const char* format = "%+.3g") {
  std::string out = number(effect.estimate, format);
  if (out == kMissing) return out;
  if (!std::isnan(effect.low) && !std::isnan(effect.high)) {
    out += " [" + number(effect.low) + ", " + number(effect.high) + "]";
  }
  return out;
}

std::string joinStrings(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string hostList(const std::vector<std::string>& hosts) {
  return hosts.empty() ? kMissing : joinStrings(hosts, ", ");
}

// Where a step is: from the plan, a check record or the summary.
struct StepPlace {
  std::uint32_t step = 0;
  std::string stage;
  std::uint32_t batch = 1;
  std::uint32_t batches = 1;
  std::string region;
};

// "step 2/4 cluster in eu" (+ " batch 1/3" when batched); no "/N" when steps is 0.
std::string stepTitle(const StepPlace& place, std::uint32_t steps) {
  std::string out = "step " + std::to_string(place.step);
  if (steps != 0) out += "/" + std::to_string(steps);
  out += " " + text(place.stage);
  if (place.batches > 1) {
    out += " batch " + std::to_string(place.batch) + "/" + std::to_string(place.batches);
  }
  return out + " in " + text(place.region);
}

StepPlace placeOf(const RolloutSummaryView& s) {
  return {s.step, s.stage, s.batch, s.batches, s.region};
}

std::string timeLeft(const RolloutSummaryView& summary) {
  return formatDurationMillis(summary.millisLeft);
}

std::string lookOf(const stats::CheckResult& check) {
  return std::to_string(check.look) + "/" + std::to_string(check.looks);
}

// "p 0.00031 <= alpha 0.0012" (significant at this look) or "p 0.41 > alpha 0.0012"; checks
// without a test have no alpha.
std::string pVersusAlpha(const stats::CheckResult& check) {
  std::string p = number(check.pValue, "%.2g");
  if (std::isnan(check.alphaAtLook)) return "p " + p + " (no test)";
  std::string comparison = check.pValue <= check.alphaAtLook ? " <= " : " > ";
  return "p " + p + comparison + "alpha " + number(check.alphaAtLook, "%.2g");
}

std::string clockOf(std::uint64_t unixMillis) {
  std::string full = formatUtcMillis(unixMillis);
  return full.size() > 11 ? full.substr(11, 8) : full;  // "HH:MM:SS"
}

std::string checkLine(const stats::CheckResult& check, const RolloutSummaryView& summary) {
  return "check " + text(check.name) + " (" + text(check.tier) + "): " + text(check.verdict) +
         " at look " + lookOf(check) + ", " + pVersusAlpha(check) + ", " + timeLeft(summary) +
         " left";
}

// Why a tested check's verdict came out as it did, when the p-value alone does not say.
std::string verdictReason(const stats::CheckResult& check) {
  if (std::isnan(check.alphaAtLook) || !check.significant) return "";
  if (check.verdict == stats::Verdict::kPass && !check.effectLargeEnough) {
    return " (significant, effect below floor)";
  }
  if (check.verdict == stats::Verdict::kFail) return " (significant, effect above floor)";
  return "";
}

// Why a check's verdict came out as it did, for explain: every verdict of every kind of check.
std::string whyVerdict(const stats::CheckResult& check) {
  switch (check.verdict) {
    case stats::Verdict::kNotEnoughData:
      return "not enough data yet (never a pass)";
    case stats::Verdict::kSkipped:
      return "skipped: no comparison host is left on the old release";
    case stats::Verdict::kPass:
    case stats::Verdict::kFail:
      break;
  }
  bool fail = check.verdict == stats::Verdict::kFail;
  switch (check.test) {
    case stats::Test::kThresholdMax:
    case stats::Test::kThresholdMin:
      return fail ? "beyond its static threshold" : "within its static threshold";
    case stats::Test::kRestarts:
      return fail ? "more restarts per host than the comparison group"
                  : "no more restarts per host than the comparison group";
    case stats::Test::kNewTypes:
      return fail ? "the canary raised exception types the comparison hosts never did"
                  : "no exception type seen only on the canary often enough to count";
    case stats::Test::kFisher:
    case stats::Test::kMannWhitney:
    case stats::Test::kTailFisher:
      break;
  }
  if (!check.significant) return "not significant (p above this look's alpha)";
  return check.effectLargeEnough ? "significant, effect above floor"
                                 : "significant, effect below floor";
}

// A Prometheus check's hosts: the query as sent and the value at each look ("-": no data).
std::string hostValueLines(const stats::CheckResult& check) {
  std::string out;
  for (const auto& host : check.hostValues) {
    std::vector<std::string> values;
    for (double v : host.values) values.push_back(std::isfinite(v) ? number(v, "%.4g") : "-");
    out += "      " + std::string(host.canary ? "canary " : "comparison ") + host.host + ": " +
           (values.empty() ? kMissing : joinStrings(values, " ")) + "\n";
    out += "        query: " + text(host.query) + "\n";
    if (!host.problem.empty()) out += "        latest: " + host.problem + "\n";
  }
  return out;
}

// "step 1/4 canary: look 3/10: http_5xx pass p=0.41; latency pass p=0.0003 (significant,
// effect below floor); restarts pass"
std::string lookLine(const RolloutSummaryView& summary) {
  std::string out = "step " + std::to_string(summary.step);
  if (summary.steps != 0) out += "/" + std::to_string(summary.steps);
  out += " " + text(summary.stage);
  if (summary.batches > 1) {
    out += " batch " + std::to_string(summary.batch) + "/" + std::to_string(summary.batches);
  }
  out += ": look " + std::to_string(summary.look) + "/" + std::to_string(summary.looks) + ":";
  std::string sep = " ";
  for (const auto& check : summary.checks) {
    out += sep + text(check.name) + " " + text(check.verdict);
    if (!std::isnan(check.alphaAtLook)) out += " p=" + number(check.pValue, "%.2g");
    out += verdictReason(check);
    sep = "; ";
  }
  return out;
}

std::string stateLine(const RolloutSummaryView& summary) {
  std::string out = stepTitle(placeOf(summary), summary.steps) + ": " + text(summary.phase);
  if (summary.phase == "analyzing") {
    out += ", look " + std::to_string(summary.look) + "/" + std::to_string(summary.looks) + ", " +
           timeLeft(summary) + " left";
  }
  out += " [" + text(summary.status) + "]";
  if (!summary.hold.empty() && summary.hold != "none") {
    out += " hold " + summary.hold + ": " + text(summary.holdReason);
  }
  if (summary.operatorPaused) out += " (paused by an operator)";
  return out;
}

}  // namespace

bool isTerminalRolloutStatus(const std::string& status) {
  return status == "succeeded" || status == "rolled_back" || status == "aborted" ||
         status == "failed" || status == "rolled_back_incomplete";
}

int rolloutExitCode(const std::string& status) { return status == "succeeded" ? 0 : kExitFailure; }

std::string formatUtcMillis(std::uint64_t unixMillis) {
  if (unixMillis == 0) return kMissing;
  std::time_t seconds = static_cast<std::time_t>(unixMillis / 1000);
  std::tm tm{};
  if (::gmtime_r(&seconds, &tm) == nullptr) return kMissing;
  char out[64];
  std::snprintf(out, sizeof(out), "%04d-%02d-%02d %02d:%02d:%02d.%03u", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(unixMillis % 1000));
  return out;
}

std::string formatDurationMillis(std::uint64_t millis) {
  std::uint64_t s = (millis + 999) / 1000;
  char out[64];
  if (s < 60) {
    std::snprintf(out, sizeof(out), "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(out, sizeof(out), "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(out, sizeof(out), "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  }
  return out;
}

std::string renderRolloutStarted(const RolloutSummaryView& summary) {
  std::vector<std::string> targets;
  std::vector<std::string> comparison;
  for (const auto& h : summary.targets) targets.push_back(h.host);
  for (const auto& h : summary.comparison) comparison.push_back(h.host);
  return "rollout " + text(summary.id) + " started: " + text(summary.service) + " " +
         text(summary.version) + ", " + std::to_string(summary.steps) + " steps\n" +
         "first: " + stepTitle(placeOf(summary), summary.steps) + ", targets " + hostList(targets) +
         ", comparison " + hostList(comparison) + "\n" +
         (summary.smallFleetWarning.empty() ? std::string{}
                                            : "warning: " + summary.smallFleetWarning + "\n");
}

std::string renderFreezeLine(const FreezeState& freeze) {
  return "FROZEN since " + formatUtcMillis(freeze.sinceMillis) + " by " + text(freeze.by) + ": " +
         (freeze.reason.empty() ? std::string("(no reason given)") : freeze.reason) + "\n";
}

std::string renderRolloutList(const std::vector<RolloutSummaryView>& rollouts,
                              const std::optional<FreezeState>& freeze) {
  const std::string frozen = freeze ? renderFreezeLine(*freeze) : std::string();
  if (rollouts.empty()) return frozen + "no rollouts\n";
  std::vector<std::vector<std::string>> rows{
      {"ID", "SERVICE", "VERSION", "STATUS", "STEP", "STAGE", "PHASE", "STARTED", "ENDED"}};
  // The label column (docs/backtest.md) when some rollout has a label.
  const bool labels = std::any_of(rollouts.begin(), rollouts.end(),
                                  [](const RolloutSummaryView& r) { return !r.label.empty(); });
  if (labels) rows.front().push_back("LABEL (SOURCE)");
  for (const auto& r : rollouts) {
    rows.push_back({text(r.id), text(r.service), text(r.version), text(r.status),
                    std::to_string(r.step) + "/" + std::to_string(r.steps), text(r.stage),
                    text(r.phase), formatUtcMillis(r.startedMillis),
                    formatUtcMillis(r.finishedMillis)});
    if (labels) {
      rows.back().push_back(r.label.empty() ? kMissing : r.label + " (" + r.labelSource + ")");
    }
  }
  return frozen + formatTable(rows);
}

std::string renderRolloutStatus(const RolloutSummaryView& summary) {
  std::string out = "rollout " + text(summary.id) + ": " + text(summary.service) + " " +
                    text(summary.version) + ", " + text(summary.status) + "\n";
  out += stateLine(summary) + "\n";
  out += "started " + formatUtcMillis(summary.startedMillis);
  if (summary.finishedMillis != 0) out += ", ended " + formatUtcMillis(summary.finishedMillis);
  out += "\n";
  if (!summary.endReason.empty()) out += "end reason: " + summary.endReason + "\n";

  std::vector<std::vector<std::string>> hosts{
      {"HOST", "ROLE", "REGION", "CLUSTER", "FROM", "RELEASE", "HEALTHY", "IN FLIGHT", "ROLLBACK"}};
  auto addHosts = [&](const std::vector<HostView>& group, const char* role) {
    for (const auto& h : group) {
      hosts.push_back({text(h.host), role, text(h.region), text(h.cluster), text(h.fromRelease),
                       text(h.release), text(h.healthy), text(h.pending), text(h.rollback)});
    }
  };
  addHosts(summary.targets, "target");
  addHosts(summary.comparison, "comparison");
  out += "\n";
  if (hosts.size() > 1) {
    out += formatTable(hosts);
  } else {
    out += "no hosts\n";
  }
  if (!summary.comparisonNote.empty()) out += "comparison: " + summary.comparisonNote + "\n";

  out += "\n";
  if (summary.checks.empty()) {
    out += "no check results yet\n";
    return out;
  }
  std::vector<std::vector<std::string>> rows{{"CHECK", "TIER", "TEST", "VERDICT", "LOOK", "P-VALUE",
                                              "ALPHA", "EFFECT", "CANARY", "BASELINE"}};
  for (const auto& c : summary.checks) {
    rows.push_back({text(c.name), text(c.tier), text(c.test), text(c.verdict), lookOf(c),
                    number(c.pValue, "%.2g"), number(c.alphaAtLook, "%.2g"), withInterval(c.effect),
                    number(c.canaryValue, "%.4g") + " (n " + text(c.canaryCount) + ")",
                    number(c.baselineValue, "%.4g") + " (n " + text(c.baselineCount) + ")"});
  }
  out += formatTable(rows);
  return out;
}

std::string renderRolloutExplain(const RolloutView& view) {
  const RolloutSummaryView& summary = view.rollout;
  std::string out = "rollout " + text(summary.id) + ": " + text(summary.service) + " " +
                    text(summary.version) + ", " + text(summary.status);
  if (!summary.endReason.empty()) out += ": " + summary.endReason;
  out += "\n";
  if (!summary.label.empty()) {
    out += "label: " + summary.label + " (" + summary.labelSource + ")\n";
  }

  // Steps from the plan; a document without a plan still explains the steps its checks name.
  struct StepHosts {
    StepPlace place;
    std::vector<std::string> targets;
    std::vector<std::string> comparison;
    std::string comparisonNote;
  };
  std::map<std::uint32_t, StepHosts> steps;
  for (const auto& s : view.plan) {
    steps[s.step] = {
        {s.step, s.stage, s.batch, s.batches, s.region}, s.targets, s.comparison, s.comparisonNote};
  }
  // Each check's last result per step, in the order the checks first appear.
  std::map<std::uint32_t, std::vector<const CheckRecordView*>> lastChecks;
  for (const auto& c : view.checks) {
    if (steps.find(c.step) == steps.end()) {
      steps[c.step] = {
          {c.step, c.stage, c.batch, c.batches, c.region}, c.canaryHosts, c.comparisonHosts, ""};
    }
    auto& list = lastChecks[c.step];
    bool replaced = false;
    for (auto& last : list) {
      if (last->result.name == c.result.name) {
        last = &c;
        replaced = true;
      }
    }
    if (!replaced) list.push_back(&c);
  }
  std::map<std::uint32_t, std::vector<const EventView*>> eventsByStep;
  for (const auto& e : view.events) eventsByStep[e.step].push_back(&e);
  auto eventLines = [&](std::uint32_t step) {
    std::string lines;
    for (const auto* e : eventsByStep[step]) {
      lines += "    " + clockOf(e->atMillis) + "  " + text(e->text) + "\n";
    }
    return lines;
  };

  if (!eventsByStep[0].empty()) out += "\nbefore the first step:\n" + eventLines(0);

  for (const auto& [stepNumber, step] : steps) {
    std::string state;
    if (summary.step == 0 || stepNumber < summary.step) {
      state = summary.step == 0 ? kMissing : "passed";
    } else if (stepNumber == summary.step) {
      state = text(summary.phase);
    } else {
      state = "not started";
    }
    out += "\n" + stepTitle(step.place, summary.steps) + ": " + state + "\n";
    out += "  hosts:      " + hostList(step.targets) + "\n";
    out += "  comparison: " + hostList(step.comparison) +
           (step.comparisonNote.empty() ? std::string{} : " (" + step.comparisonNote + ")") + "\n";
    const auto& checks = lastChecks[stepNumber];
    if (checks.empty()) {
      out += "  checks: no result at this step\n";
    } else {
      out += "  checks (last result at this step):\n";
      for (const auto* entry : checks) {
        const stats::CheckResult& r = entry->result;
        out += "    " + text(r.name) + " [" + text(r.tier) + ", " + text(r.metric) + ", " +
               text(r.test) + "]: " + text(r.verdict) + " at look " + lookOf(r) + " (" +
               clockOf(entry->atMillis) + ")\n";
        out += "      statistic " + number(r.statistic, "%.4g") + ", " + pVersusAlpha(r) +
               " at look " + lookOf(r) + (r.significant ? ": significant" : "") + "\n";
        out += "      effect " + text(r.effectName) + " " + withInterval(r.effect) + ", " +
               text(r.ratioName) + " " + withInterval(r.ratio, "%.3g") +
               "; large enough: " + text(r.effectLargeEnough) + "\n";
        out += "      canary " + number(r.canaryValue, "%.4g") + " (n " + text(r.canaryCount) +
               ", events " + text(r.canaryEvents) + "), baseline " +
               number(r.baselineValue, "%.4g") + " (n " + text(r.baselineCount) + ", events " +
               text(r.baselineEvents) + ")\n";
        if (!r.explanation.empty()) out += "      " + r.explanation + "\n";
        out += "      why: " + whyVerdict(r) + "\n";
        out += hostValueLines(r);
        for (const auto& t : r.errorTypes) {  // new_error_types: one line per new type
          out += "      new type " + text(t.type) + " at " +
                 (t.frame.empty() ? std::string("(no in-app frame)") : text(t.frame)) +
                 ": canary " + text(t.canaryCount) + ", comparison " + text(t.baselineCount) +
                 (t.sampleMessage.empty() ? std::string{} : ", e.g. \"" + text(t.sampleMessage) + "\"") +
                 "\n";
        }
      }
    }
    if (eventsByStep[stepNumber].empty()) {
      out += "  decision: -\n";
    } else {
      out += "  decision:\n" + eventLines(stepNumber);
    }
  }
  return out;
}

std::string renderRolloutHistory(const RolloutView& view) {
  std::string out = "rollout " + text(view.rollout.id) + " history\n";
  if (view.events.empty()) return out + "no events\n";
  std::vector<std::vector<std::string>> rows{{"TIME (UTC)", "HOST", "KIND", "EVENT"}};
  for (const auto& e : view.events) {
    rows.push_back({formatUtcMillis(e.atMillis), text(e.host), text(e.kind), text(e.text)});
  }
  return out + formatTable(rows);
}

std::vector<std::string> rolloutWatchChanges(const RolloutSummaryView* previous,
                                             const RolloutSummaryView& current) {
  std::vector<std::string> lines;
  if (previous == nullptr) {
    lines.push_back("rollout " + text(current.id) + ": " + text(current.service) + " " +
                    text(current.version));
  }
  auto stateKey = [](const RolloutSummaryView& s) {
    return s.status + "|" + std::to_string(s.step) + "|" + std::to_string(s.batch) + "|" + s.phase +
           "|" + s.hold + "|" + text(s.operatorPaused);
  };
  if (previous == nullptr || stateKey(*previous) != stateKey(current)) {
    lines.push_back(stateLine(current));
  }
  // One compact line per new look; between looks, a line for a check whose verdict changed.
  bool sameStep = previous != nullptr && previous->step == current.step;
  bool newLook = !current.checks.empty() && (!sameStep || previous->look != current.look);
  if (newLook) {
    lines.push_back("  " + lookLine(current));
  } else if (sameStep) {
    std::map<std::string, std::string> before;
    for (const auto& c : previous->checks) before[c.name] = text(c.verdict) + "|" + lookOf(c);
    for (const auto& c : current.checks) {
      auto it = before.find(c.name);
      if (it == before.end() || it->second != text(c.verdict) + "|" + lookOf(c)) {
        lines.push_back("  " + checkLine(c, current));
      }
    }
  }
  if (isTerminalRolloutStatus(current.status) &&
      (previous == nullptr || previous->status != current.status)) {
    lines.push_back("rollout " + text(current.id) + " ended " + text(current.status) +
                    (current.endReason.empty() ? std::string{} : ": " + current.endReason));
  }
  return lines;
}

}  // namespace rollgate::cli
