#include "common/backtest_view.h"

namespace rollgate {

using nlohmann::json;

// std::optional members are written as null and read back from null.
}  // namespace rollgate

namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
}  // namespace nlohmann

namespace rollgate {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BacktestCheckView, name, tier, truePositives, falsePositives,
                                   falseNegatives, trueNegatives, precision, recall,
                                   medianMillisToDecision, p90MillisToDecision)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BacktestDecisionView, decision, step, stage, look, check, reason,
                                   looks)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BacktestRolloutView, id, service, version, label, labelSource,
                                   then, now)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BacktestStorageView, source, capBytes, usedBytes, keptRollouts,
                                   droppedRollouts)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BacktestView, schema, storage, range, emptyRange, selected,
                                   replayed, skippedUnreadable, withoutJournal, good, bad,
                                   unlabelled, windows, inputs, replayMillis, gatesSource,
                                   planSource, checks, compare, currentChecks, changed,
                                   rollouts)

json toJson(const BacktestView& view) {
  json j = view;
  if (!view.runId.empty()) j["run"] = view.runId;
  return j;
}

Result<BacktestView> backtestViewFromJson(const json& j) {
  try {
    BacktestView view = j.get<BacktestView>();
    if (j.contains("run")) view.runId = j.at("run").get<std::string>();
    if (view.schema != kBacktestReportSchema) {
      return makeError("backtest report: schema " + std::to_string(view.schema) + " is not " +
                       std::to_string(kBacktestReportSchema));
    }
    return view;
  } catch (const std::exception& error) {
    return makeError(std::string("backtest report: ") + error.what());
  }
}

json summaryJson(const BacktestRunView& run) {
  json j = {{"id", run.id},
            {"requestedBy", run.requestedBy},
            {"startedMillis", run.startedMillis},
            {"finishedMillis", run.finishedMillis},
            {"request", run.request},
            {"status", run.finishedMillis == 0 ? "running" : run.report ? "done" : "failed"}};
  if (!run.error.empty()) j["error"] = run.error;
  if (!run.report) return j;
  const BacktestView& r = *run.report;
  auto gatesRow = [](const std::vector<BacktestCheckView>& rows) -> json {
    for (const auto& row : rows) {
      if (row.name == "(gates)") return row;
    }
    return nullptr;
  };
  j["source"] = r.storage.source;
  j["range"] = r.range;
  j["emptyRange"] = r.emptyRange;
  j["gatesSource"] = r.gatesSource;
  j["planSource"] = r.planSource;
  j["replayed"] = r.replayed;
  j["good"] = r.good;
  j["bad"] = r.bad;
  j["unlabelled"] = r.unlabelled;
  j["changed"] = r.changed.size();
  j["compare"] = r.compare;
  j["gates"] = gatesRow(r.checks);
  j["gatesAsRan"] = r.compare ? gatesRow(r.currentChecks) : json(nullptr);
  return j;
}

}  // namespace rollgate
