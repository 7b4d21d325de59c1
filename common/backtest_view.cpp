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

json toJson(const BacktestView& view) { return view; }

Result<BacktestView> backtestViewFromJson(const json& j) {
  try {
    BacktestView view = j.get<BacktestView>();
    if (view.schema != kBacktestReportSchema) {
      return makeError("backtest report: schema " + std::to_string(view.schema) + " is not " +
                       std::to_string(kBacktestReportSchema));
    }
    return view;
  } catch (const std::exception& error) {
    return makeError(std::string("backtest report: ") + error.what());
  }
}

}  // namespace rollgate
