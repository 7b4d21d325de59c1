#include "cli/backtest_render.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <vector>

#include "cli/output.h"

namespace rollgate::cli {
namespace {

std::string ratio(const std::optional<double>& value) {
  if (!value) return "-";
  char text[16];
  std::snprintf(text, sizeof(text), "%.3f", *value);
  return text;
}

std::string seconds(const std::optional<std::uint64_t>& millis) {
  if (!millis) return "-";
  char text[24];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(*millis) / 1000.0);
  return text;
}

std::string bytes(std::uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(value) / (1024.0 * 1024.0));
  return text;
}

std::string decision(const BacktestDecisionView& d) {
  std::string out = d.decision;
  if (d.step != 0 && d.decision != "promote") {
    out += " at step " + std::to_string(d.step) + " (" + d.stage + ")";
  }
  if (d.look != 0) out += " look " + std::to_string(d.look);
  if (!d.check.empty()) out += " by " + d.check;
  return out;
}

std::vector<std::string> figures(const BacktestCheckView& c) {
  return {std::to_string(c.truePositives), std::to_string(c.falsePositives),
          std::to_string(c.falseNegatives), std::to_string(c.trueNegatives),
          ratio(c.precision), ratio(c.recall), seconds(c.medianMillisToDecision),
          seconds(c.p90MillisToDecision)};
}

}  // namespace

std::string renderBacktest(const BacktestView& view) {
  std::string out;
  if (view.storage.source == "store") {
    out += "kept windows: " + bytes(view.storage.usedBytes) + " of " +
           bytes(view.storage.capBytes) + " ([backtest] max_bytes) for " +
           std::to_string(view.storage.keptRollouts) + " rollouts; " +
           std::to_string(view.storage.droppedRollouts) +
           " older rollouts' windows dropped to stay within it\n";
  } else {
    out += "history: " + view.storage.source + "\n";
  }
  const std::string kept =
      view.runId.empty() ? ""
                         : "kept as backtest " + view.runId + " (console: #/backtest/" +
                               view.runId + ")\n";
  if (!view.emptyRange.empty()) return out + view.emptyRange + "\n" + kept;
  out += "selected " + std::to_string(view.selected) + " rollouts (" + view.range + "); replayed " +
         std::to_string(view.replayed) + ": " + std::to_string(view.good) + " good, " +
         std::to_string(view.bad) + " bad, " + std::to_string(view.unlabelled) + " unlabelled\n";
  if (view.withoutJournal) {
    out += std::to_string(view.withoutJournal) +
           " selected rollouts have no kept windows (dropped, or from before they were kept)\n";
  }
  if (view.skippedUnreadable) {
    out += std::to_string(view.skippedUnreadable) +
           " lines of a schema version this rollgate cannot read were skipped\n";
  }
  char speed[160];
  std::snprintf(speed, sizeof(speed), "replayed %llu windows (%llu inputs) in %.0f ms\n",
                static_cast<unsigned long long>(view.windows),
                static_cast<unsigned long long>(view.inputs), view.replayMillis);
  out += speed;
  out += "gates: " + view.gatesSource + "; plan: " + view.planSource + "\n\n";

  std::vector<std::vector<std::string>> rows;
  if (view.compare) {
    std::map<std::string, const BacktestCheckView*> current;
    for (const auto& c : view.currentChecks) current[c.name] = &c;
    rows.push_back({"CHECK", "GATES", "TP", "FP", "FN", "TN", "PRECISION", "RECALL", "MEDIAN",
                    "P90"});
    std::vector<std::string> names;
    for (const auto& c : view.currentChecks) names.push_back(c.name);
    for (const auto& c : view.checks) {
      if (std::find(names.begin(), names.end(), c.name) == names.end()) names.push_back(c.name);
    }
    std::stable_partition(names.begin(), names.end(),
                          [](const std::string& n) { return n != "(gates)"; });
    for (const auto& name : names) {
      auto add = [&](const char* which, const BacktestCheckView* c) {
        std::vector<std::string> row{name, which};
        if (c == nullptr) {
          row.insert(row.end(), {"-", "-", "-", "-", "-", "-", "-", "-"});
        } else {
          auto f = figures(*c);
          row.insert(row.end(), f.begin(), f.end());
        }
        rows.push_back(std::move(row));
      };
      const BacktestCheckView* fresh = nullptr;
      for (const auto& c : view.checks) {
        if (c.name == name) fresh = &c;
      }
      add("current", current.count(name) ? current[name] : nullptr);
      add("new", fresh);
    }
  } else {
    rows.push_back({"CHECK", "TIER", "TP", "FP", "FN", "TN", "PRECISION", "RECALL", "MEDIAN", "P90"});
    for (const auto& c : view.checks) {
      std::vector<std::string> row{c.name, c.tier.empty() ? "-" : c.tier};
      auto f = figures(c);
      row.insert(row.end(), f.begin(), f.end());
      rows.push_back(std::move(row));
    }
  }
  out += formatTable(rows);
  out += "(TP/FP: flagged and labelled bad/good; MEDIAN, P90: from the start of analysis to the "
         "flagging look)\n\n";
  if (view.changed.empty()) {
    out += "no rollout's decision would change\n";
    return out + kept;
  }
  out += std::to_string(view.changed.size()) + " rollouts whose decision would change:\n";
  std::vector<std::vector<std::string>> changed{
      {"ID", "SERVICE", "VERSION", "LABEL", "THEN", "NOW"}};
  for (const auto& r : view.changed) {
    changed.push_back({r.id, r.service, r.version,
                       r.label.empty() ? "-" : r.label + " (" + r.labelSource + ")",
                       decision(r.then), decision(r.now)});
  }
  out += formatTable(changed);
  return out + kept;
}

Result<std::uint64_t> parseBacktestTime(const std::string& option, const std::string& value,
                                        std::uint64_t nowMillis) {
  auto bad = [&] {
    return makeError(option + " \"" + value +
                     "\": expected a UTC date (2026-12-01), a UTC time (2026-12-01T10:00:00Z) or "
                     "a time ago (7d, 12h, 30m)");
  };
  if (value.size() >= 2 && std::isdigit(static_cast<unsigned char>(value[0]))) {
    char unit = value.back();
    std::string number = value.substr(0, value.size() - 1);
    if ((unit == 'd' || unit == 'h' || unit == 'm') &&
        std::all_of(number.begin(), number.end(), [](char c) { return std::isdigit(c) != 0; }) &&
        number.size() < 9) {
      std::uint64_t n = std::stoull(number);
      std::uint64_t millis = n * (unit == 'd' ? 86'400'000ULL : unit == 'h' ? 3'600'000ULL : 60'000ULL);
      return nowMillis > millis ? nowMillis - millis : 0;
    }
  }
  std::tm tm{};
  const char* end = nullptr;
  if (value.size() == 10) {
    end = strptime(value.c_str(), "%Y-%m-%d", &tm);
  } else {
    end = strptime(value.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  if (end == nullptr || *end != '\0') return bad();
  return static_cast<std::uint64_t>(timegm(&tm)) * 1000;
}

}  // namespace rollgate::cli
