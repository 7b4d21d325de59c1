#include "coordinator/rollout/backtest.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "coordinator/rollout/planner.h"

namespace rollgate::rollout {

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(std::move(line));
    begin = end + 1;
  }
  return lines;
}

Result<JournalRead> readJournal(const std::vector<std::string>& lines, const std::string& source,
                                const PlanConfig& byoPlan, const GatesConfig& byoGates) {
  JournalRead read;
  std::map<std::string, std::size_t> index;  // rollout id -> position in read.rollouts
  std::map<std::string, std::pair<Label, std::pair<std::string, std::string>>> labels;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    bool unreadable = false;
    auto line = parseLine(lines[n], &unreadable);
    if (!line) {
      if (unreadable) {
        read.unreadableLines += 1;
        continue;
      }
      return makeError(source + " line " + std::to_string(n + 1) + ": " + line.error().message);
    }
    const std::string where = source + " line " + std::to_string(n + 1) + ": rollout " +
                              line->rolloutId;
    if (line->type == JournalLine::Type::kLabel) {
      labels[line->rolloutId] = {line->label, {line->labelSource, line->labelReason}};
      continue;
    }
    if (line->type == JournalLine::Type::kStart) {
      if (index.count(line->rolloutId)) return makeError(where + " starts twice");
      RecordedRollout rollout;
      rollout.id = line->rolloutId;
      if (line->state) {
        rollout.initial = std::move(*line->state);
      } else {
        auto plan = planRollout(PlanRequest{line->service, line->version, line->canary},
                                line->fleet, byoPlan);
        if (!plan) return makeError(where + ": key hosts: " + plan.error().message);
        RolloutSpec spec;
        spec.rolloutId = line->rolloutId;
        spec.service = line->service;
        spec.version = line->version;
        rollout.initial = Rollout(spec, std::move(*plan), byoPlan, byoGates).state();
      }
      RolloutInput start;
      start.kind = InputKind::kStart;
      start.atMillis = line->startedMillis;
      rollout.inputs.push_back(start);
      index[rollout.id] = read.rollouts.size();
      read.rollouts.push_back(std::move(rollout));
      continue;
    }
    auto it = index.find(line->rolloutId);
    if (it == index.end()) return makeError(where + " has no start line before it");
    read.rollouts[it->second].inputs.push_back(std::move(line->input));
  }
  for (auto& rollout : read.rollouts) {
    if (auto label = labels.find(rollout.id); label != labels.end()) {
      rollout.label = label->second.first;
      rollout.labelSource = label->second.second.first;
    }
    // Inputs in time order (a file may interleave hosts); equal times keep their order.
    std::stable_sort(rollout.inputs.begin() + 1, rollout.inputs.end(),
                     [](const RolloutInput& a, const RolloutInput& b) {
                       return a.atMillis < b.atMillis;
                     });
  }
  return read;
}

namespace {

BacktestDecisionView decisionAt(const RolloutState& state, const char* decision, std::uint32_t step,
                                std::uint32_t look, const std::string& check,
                                const std::string& reason) {
  BacktestDecisionView view;
  view.decision = decision;
  view.step = step;
  if (step >= 1 && step <= state.plan.steps.size()) view.stage = state.plan.steps[step - 1].stage;
  view.look = look;
  view.check = check;
  view.reason = reason;
  return view;
}

}  // namespace

ReplayResult replay(const RecordedRollout& recorded, const GatesConfig* gates,
                    const PlanConfig* plan) {
  ReplayResult out;
  RolloutState initial = recorded.initial;
  if (gates != nullptr) initial.gates = *gates;
  bool scheduleChanged = plan != nullptr && *plan != initial.planConfig;
  if (plan != nullptr) initial.planConfig = *plan;
  Rollout rollout(std::move(initial));
  std::uint64_t lastMillis = 0;
  bool decided = false;
  auto decide = [&](BacktestDecisionView decision, std::uint64_t atMillis) {
    out.decision = std::move(decision);
    out.decidedAtMillis = atMillis;
    decided = true;
  };
  auto feed = [&](const RolloutInput& input) {
    const std::uint64_t analysisStart = rollout.state().step.analysisStartMillis;
    auto actions = applyInput(rollout, input);
    out.inputs += 1;
    if (input.kind == InputKind::kTelemetry) out.windows += 1;
    if (!actions) return;  // an operator action this replay's state does not take
    for (const auto& action : *actions) {
      if (const auto* check = std::get_if<RecordCheck>(&action)) {
        const CheckResult& result = check->result;
        auto [seen, added] = out.checks.try_emplace(result.name);
        if (added) {
          out.checkOrder.push_back(result.name);
          seen->second.tier = std::string(stats::toString(result.tier));
        }
        if (result.verdict == Verdict::kFail && !seen->second.flagged) {
          seen->second.flagged = true;
          seen->second.millisToFlag = check->atMillis - std::min(check->atMillis, analysisStart);
        }
        if (!decided &&
            (out.looks.empty() || out.looks.back() != std::make_pair(check->step, result.look))) {
          out.looks.emplace_back(check->step, result.look);
        }
      } else if (const auto* event = std::get_if<RecordEvent>(&action)) {
        if (decided) continue;
        if (event->kind == RolloutEventKind::kStepFailed) {
          decide(decisionAt(rollout.state(), "roll_back", event->step, event->look, event->check,
                            event->text),
                 event->atMillis);
        } else if (event->kind == RolloutEventKind::kHeld) {
          decide(decisionAt(rollout.state(), "hold", event->step, event->look, event->check,
                            event->text),
                 event->atMillis);
        }
      }
    }
    if (!decided && rollout.state().finished &&
        rollout.state().outcome == RolloutStatus::kSucceeded) {
      decide(decisionAt(rollout.state(), "promote", 0, 0, "", "every step passed"),
             input.atMillis);
    }
    if (!decided && input.kind == InputKind::kOperator &&
        (input.verb == OperatorVerb::kRollback || input.verb == OperatorVerb::kAbort ||
         input.verb == OperatorVerb::kPromote)) {
      BacktestDecisionView view;
      view.decision = "undecided";
      view.reason = std::string("operator ") + input.who + " " +
                    (input.verb == OperatorVerb::kPromote  ? "promoted"
                     : input.verb == OperatorVerb::kAbort ? "aborted"
                                                          : "rolled back") +
                    " before the gates decided";
      decide(view, input.atMillis);
    }
  };
  for (const auto& input : recorded.inputs) {
    if (decided) break;
    if (scheduleChanged && lastMillis != 0) {
      // The coordinator ticks about once a second; a changed schedule has looks between the kept
      // inputs.
      for (std::uint64_t t = lastMillis + 1000; t < input.atMillis && !decided; t += 1000) {
        RolloutInput tick;
        tick.atMillis = t;
        feed(tick);
      }
      if (decided) break;
    }
    feed(input);
    lastMillis = input.atMillis;
  }
  for (const auto& [step, look] : out.looks) {
    out.decision.looks.push_back(std::to_string(step) + ":" + std::to_string(look));
  }
  if (!decided) {
    out.decision.decision = "undecided";
    out.decision.step = rollout.state().currentStep + 1;
    out.decision.stage = rollout.state().plan.steps.at(rollout.state().currentStep).stage;
    out.decision.reason = "the kept inputs end before the gates decided";
  }
  return out;
}

namespace {

std::optional<std::uint64_t> quantile(std::vector<std::uint64_t> values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  // Nearest rank.
  std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

struct Tally {
  BacktestCheckView view;
  std::vector<std::uint64_t> millis;
  void add(bool flagged, Label label, std::uint64_t millisToFlag) {
    if (label == Label::kNone) return;
    bool bad = label == Label::kBad;
    if (flagged && bad) view.truePositives += 1;
    if (flagged && !bad) view.falsePositives += 1;
    if (!flagged && bad) view.falseNegatives += 1;
    if (!flagged && !bad) view.trueNegatives += 1;
    if (flagged) millis.push_back(millisToFlag);
  }
  BacktestCheckView done() {
    std::uint64_t flagged = view.truePositives + view.falsePositives;
    std::uint64_t bad = view.truePositives + view.falseNegatives;
    if (flagged > 0) view.precision = static_cast<double>(view.truePositives) / flagged;
    if (bad > 0) view.recall = static_cast<double>(view.truePositives) / bad;
    view.medianMillisToDecision = quantile(millis, 0.5);
    view.p90MillisToDecision = quantile(millis, 0.9);
    return view;
  }
};

}  // namespace

std::vector<BacktestCheckView> scoreReplays(const std::vector<const RecordedRollout*>& rollouts,
                                            const std::vector<ReplayResult>& results) {
  std::vector<std::string> order;
  std::map<std::string, Tally> tallies;
  for (const auto& result : results) {
    for (const auto& name : result.checkOrder) {
      auto [it, added] = tallies.try_emplace(name);
      if (added) {
        order.push_back(name);
        it->second.view.name = name;
        it->second.view.tier = result.checks.at(name).tier;
      }
    }
  }
  Tally gates;
  gates.view.name = "(gates)";
  for (std::size_t i = 0; i < rollouts.size() && i < results.size(); ++i) {
    const ReplayResult& result = results[i];
    Label label = rollouts[i]->label;
    for (auto& [name, tally] : tallies) {
      auto seen = result.checks.find(name);
      bool flagged = seen != result.checks.end() && seen->second.flagged;
      tally.add(flagged, label, flagged ? seen->second.millisToFlag : 0);
    }
    const std::string& d = result.decision.decision;
    bool stopped = d == "roll_back" || d == "hold";
    std::uint64_t millis = 0;
    if (stopped && result.decision.step >= 1) {
      // From the deciding step's analysis start: the deciding check's own figure when a check
      // decided.
      if (auto seen = result.checks.find(result.decision.check); seen != result.checks.end()) {
        millis = seen->second.millisToFlag;
      }
    }
    gates.add(stopped, label, millis);
  }
  std::vector<BacktestCheckView> rows;
  for (const auto& name : order) rows.push_back(tallies.at(name).done());
  rows.push_back(gates.done());
  return rows;
}

}  // namespace rollgate::rollout
