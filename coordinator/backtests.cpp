#include "coordinator/backtests.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "coordinator/rollout/backtest.h"
#include "coordinator/rollout/rollout_config.h"
#include "coordinator/rollout_labels.h"

namespace rollgate::coordinator {
namespace {

std::string utc(std::uint64_t millis) {
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// What a backtest request asks, in words, for the console's list of runs.
std::string describeRequest(const BacktestRequest& request) {
  std::string out = request.windowsJsonl.empty() ? "kept rollouts" : "history " + request.windowsName;
  if (!request.service.empty()) out += " of service " + request.service;
  if (request.sinceMillis != 0) out += " since " + utc(request.sinceMillis);
  if (request.untilMillis != 0) out += " until " + utc(request.untilMillis);
  out += "; gates: " + (request.gatesToml.empty() ? std::string("as each rollout ran")
                                                 : request.gatesName);
  if (!request.planToml.empty()) out += "; plan: " + request.planName;
  if (request.compare) out += "; compared";
  return out;
}

bool sameDecision(const BacktestDecisionView& a, const BacktestDecisionView& b) {
  return a.decision == b.decision && a.step == b.step && a.look == b.look && a.check == b.check;
}

// Labels of the store's rollouts: the operator's, or the automatic one.
RolloutLabel storeLabel(BacktestReader& reader, const BacktestReader::RolloutRow& row,
                        const rollout::RolloutState& state, const BacktestSettings& settings,
                        std::uint64_t nowMillis,
                        std::map<std::string, std::vector<BacktestReader::RolloutRow>>& services,
                        std::map<std::string, std::vector<std::uint64_t>>& reverts) {
  auto label = reader.labelOf(row.id);
  if (!services.count(row.service)) {
    auto all = reader.rolloutsOf(row.service);
    services[row.service] = all ? *all : std::vector<BacktestReader::RolloutRow>{};
    auto& starts = reverts[row.service];
    if (auto fleet = reader.revertsOf(row.service)) {
      for (const auto& r : *fleet) starts.push_back(revertStartMillis(r));
    }
    for (const auto& other : services[row.service]) {
      auto otherState = rollout::stateFromJson(other.stateJson);
      if (otherState && otherState->spec.revert) starts.push_back(other.createdMillis);
    }
  }
  std::uint64_t next = 0;
  for (const auto& other : services[row.service]) {
    if (other.seq <= row.seq) continue;
    auto otherState = rollout::stateFromJson(other.stateJson);
    if (otherState && otherState->spec.revert) continue;
    next = other.createdMillis;
    break;
  }
  return labelRollout(state, label ? *label : std::nullopt, reverts[row.service], next, nowMillis,
                      settings.goodAfterMillis);
}

}  // namespace

Result<BacktestView> runBacktest(const BacktestRequest& request, BacktestReader* reader,
                                 const BacktestSettings& settings, std::uint64_t nowMillis) {
  BacktestView view;
  std::optional<rollout::GatesConfig> gates;
  std::optional<rollout::PlanConfig> plan;
  if (!request.gatesToml.empty()) {
    auto parsed = rollout::parseGatesConfig(request.gatesToml, request.gatesName);
    if (!parsed) return parsed.error();
    gates = *parsed;
  }
  if (!request.planToml.empty()) {
    auto parsed =
        rollout::parsePlanConfig(request.planToml, request.planName, settings.windowSeconds);
    if (!parsed) return parsed.error();
    plan = *parsed;
  }
  view.gatesSource = gates ? request.gatesName : "as each rollout ran";
  view.planSource = plan ? request.planName : "as each rollout ran";
  view.compare = request.compare;
  const std::uint64_t until = request.untilMillis == 0 ? UINT64_MAX : request.untilMillis;
  const std::string serviceText =
      request.service.empty() ? "every service" : "service " + request.service;
  view.range = serviceText + ", started " +
               (request.sinceMillis ? "from " + utc(request.sinceMillis) : "any time") +
               (request.untilMillis ? " until " + utc(request.untilMillis) : "");

  std::vector<rollout::RecordedRollout> rollouts;
  std::vector<std::string> services, versions;
  const rollout::PlanConfig byoPlan = plan ? *plan : rollout::defaultPlanConfig(settings.windowSeconds);
  const rollout::GatesConfig byoGates = rollout::defaultGatesConfig();
  if (!request.windowsJsonl.empty()) {
    view.storage.source = request.windowsName;
    auto read = rollout::readJournal(rollout::splitLines(request.windowsJsonl),
                                     request.windowsName, byoPlan, byoGates);
    if (!read) return read.error();
    view.skippedUnreadable = read->unreadableLines;
    for (auto& r : read->rollouts) {
      std::uint64_t started = r.inputs.front().atMillis;
      if (!request.service.empty() && r.initial.spec.service != request.service) continue;
      if (started < request.sinceMillis || started >= until) continue;
      view.selected += 1;
      rollouts.push_back(std::move(r));
    }
  } else {
    if (reader == nullptr) return makeError("backtest: no store to read");
    view.storage.source = "store";
    view.storage.capBytes = settings.capBytes;
    auto usage = reader->usage();
    if (!usage) return usage.error();
    view.storage.usedBytes = usage->bytes;
    view.storage.keptRollouts = usage->rollouts;
    view.storage.droppedRollouts = usage->droppedRollouts;
    auto rows = reader->rollouts(request.service, request.sinceMillis, until);
    if (!rows) return rows.error();
    std::map<std::string, std::vector<BacktestReader::RolloutRow>> servicesSeen;
    std::map<std::string, std::vector<std::uint64_t>> reverts;
    for (const auto& row : *rows) {
      view.selected += 1;
      auto lines = reader->journal(row.id);
      if (!lines) return lines.error();
      if (lines->empty()) {
        view.withoutJournal += 1;
        continue;
      }
      auto read = rollout::readJournal(*lines, "rollout " + row.id, byoPlan, byoGates);
      if (!read) return read.error();
      view.skippedUnreadable += read->unreadableLines;
      if (read->rollouts.empty()) continue;
      rollout::RecordedRollout r = std::move(read->rollouts.front());
      if (auto state = rollout::stateFromJson(row.stateJson)) {
        RolloutLabel label = storeLabel(*reader, row, *state, settings, nowMillis, servicesSeen,
                                        reverts);
        r.label = rollout::parseLabel(label.label).value_or(rollout::Label::kNone);
        r.labelSource = label.source;
      }
      rollouts.push_back(std::move(r));
    }
  }
  if (view.selected == 0) {
    view.emptyRange = "no rollouts of " + view.range + " in " +
                      (request.windowsJsonl.empty() ? "the coordinator's store"
                                                    : request.windowsName);
    return view;
  }

  auto began = std::chrono::steady_clock::now();
  std::vector<rollout::ReplayResult> then, now;
  std::vector<const rollout::RecordedRollout*> pointers;
  const bool changed = gates.has_value() || plan.has_value();
  for (const auto& r : rollouts) {
    pointers.push_back(&r);
    then.push_back(rollout::replay(r, nullptr, nullptr));
    now.push_back(changed ? rollout::replay(r, gates ? &*gates : nullptr, plan ? &*plan : nullptr)
                          : then.back());
    view.windows += then.back().windows + (changed ? now.back().windows : 0);
    view.inputs += then.back().inputs + (changed ? now.back().inputs : 0);
    switch (r.label) {
      case rollout::Label::kGood: view.good += 1; break;
      case rollout::Label::kBad: view.bad += 1; break;
      case rollout::Label::kNone: view.unlabelled += 1; break;
    }
  }
  view.replayed = rollouts.size();
  view.checks = rollout::scoreReplays(pointers, now);
  if (request.compare) view.currentChecks = rollout::scoreReplays(pointers, then);
  view.replayMillis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  for (std::size_t i = 0; i < rollouts.size(); ++i) {
    BacktestRolloutView row;
    row.id = rollouts[i].id;
    row.service = rollouts[i].initial.spec.service;
    row.version = rollouts[i].initial.spec.version;
    row.label = std::string(rollout::labelName(rollouts[i].label));
    row.labelSource = rollouts[i].labelSource;
    row.then = then[i].decision;
    row.now = now[i].decision;
    if (!sameDecision(then[i].decision, now[i].decision)) view.changed.push_back(row);
    view.rollouts.push_back(std::move(row));
  }
  return view;
}

Backtests::Backtests(BacktestSettings settings, Outbox& outbox, const Clock& clock, Logger logger)
    : settings_(std::move(settings)), outbox_(outbox), clock_(clock), logger_(std::move(logger)) {}

Backtests::~Backtests() {
  if (running_.valid()) running_.wait();
}

std::optional<AdminReply> Backtests::start(const BacktestRequest& request, const ReplyTo& to,
                                           const std::string& operatorName) {
  AdminReply reply;
  if (running_.valid()) {
    reply.body = AdminError{"a backtest is already running; try again when it has finished"};
    return reply;
  }
  const std::uint64_t now = clock_.nowMillis();
  BacktestSettings settings = settings_;
  running_ = std::async(std::launch::async, [request, settings, now]() -> Result<BacktestView> {
    std::unique_ptr<BacktestReader> reader;
    if (request.windowsJsonl.empty()) {
      auto opened = BacktestReader::open(settings.stateDir, settings.storeUrl);
      if (!opened) return opened.error();
      reader = std::move(*opened);
    }
    return runBacktest(request, reader.get(), settings, now);
  });
  waiting_ = to;
  current_ = BacktestRunView{};
  current_.id = "b" + std::to_string(nextRunNumber_++);
  current_.requestedBy = operatorName;
  current_.startedMillis = now;
  current_.request = describeRequest(request);
  ++runsVersion_;
  logger_->info("backtest {} started by {}: {}", current_.id, operatorName, current_.request);
  return std::nullopt;
}

void Backtests::tick() {
  if (!running_.valid() ||
      running_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return;
  }
  auto result = running_.get();
  AdminReply reply;
  BacktestRunView run = std::move(current_);
  current_ = BacktestRunView{};
  run.finishedMillis = std::max<std::uint64_t>(clock_.nowMillis(), run.startedMillis + 1);
  if (!result) {
    logger_->warn("backtest {} failed: {}", run.id, result.error().message);
    run.error = result.error().message;
    reply.body = AdminError{result.error().message};
  } else {
    logger_->info("backtest {} done: {} rollouts replayed in {:.0f} ms", run.id,
                  result->replayed, result->replayMillis);
    result->runId = run.id;
    reply.body = JsonDocument{toJson(*result).dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace)};
    // Every rollout's looks stay with the reply only (docs/backtest.md).
    result->rollouts.clear();
    result->rollouts.shrink_to_fit();
    run.report = std::make_shared<const BacktestView>(std::move(*result));
  }
  kept_.push_back(std::move(run));
  while (kept_.size() > kKeptBacktestRuns) kept_.pop_front();
  ++runsVersion_;
  if (waiting_) outbox_.toAdmin(*waiting_, std::move(reply));
  waiting_.reset();
}

std::vector<BacktestRunView> Backtests::runs() const {
  std::vector<BacktestRunView> out;
  if (!current_.id.empty()) out.push_back(current_);
  out.insert(out.end(), kept_.rbegin(), kept_.rend());
  return out;
}

}  // namespace rollgate::coordinator
