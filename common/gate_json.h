// The one JSON form of the gate model (common/stats/gate_model.h): enums by their name tables,
// a check's spec and its result. The coordinator stores results and rollout state in it, the
// admin API sends it, and the CLI reads it back into the same types.
//
// Doubles that may be NaN or infinite (an effect against a zero baseline, a p-value of a check
// without a test) are written as the strings "nan", "inf" and "-inf". A result's effect and ratio
// are [estimate, low, high]. A spec's spending function is not written: rollouts use the default
// (O'Brien-Fleming). from_json throws nlohmann::json::exception or std::runtime_error, naming
// the key, on anything malformed.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "common/stats/gate_model.h"

namespace rollgate {

// A double as JSON: the number, or "nan" / "inf" / "-inf".
nlohmann::json jsonNumber(double value);
// The inverse of jsonNumber; throws std::runtime_error on anything else.
double numberFromJson(const nlohmann::json& value);

}  // namespace rollgate

namespace rollgate::stats {

void to_json(nlohmann::json& j, Metric value);
void from_json(const nlohmann::json& j, Metric& value);
void to_json(nlohmann::json& j, Test value);
void from_json(const nlohmann::json& j, Test& value);
void to_json(nlohmann::json& j, Tier value);
void from_json(const nlohmann::json& j, Tier& value);
void to_json(nlohmann::json& j, Verdict value);
void from_json(const nlohmann::json& j, Verdict& value);
void to_json(nlohmann::json& j, Alternative value);
void from_json(const nlohmann::json& j, Alternative& value);

// {name, metric, test, alternative, alpha, minEffect, minRatio, minData, threshold, quantile,
//  confidence, tier, query}; quantile, confidence and query may be absent (defaults; query is
//  written only for a Prometheus check).
void to_json(nlohmann::json& j, const CheckSpec& spec);
void from_json(const nlohmann::json& j, CheckSpec& spec);

// {name, metric, test, alternative, tier, verdict, look, looks, statistic, pValue, alphaAtLook,
//  significant, effectLargeEnough, canaryValue, baselineValue, effectName, effect, ratioName,
//  ratio, canaryCount, baselineCount, canaryEvents, baselineEvents, explanation, hostValues};
//  hostValues ([{host, canary, query, values, problem}]) only for a Prometheus check.
void to_json(nlohmann::json& j, const CheckResult& result);
void from_json(const nlohmann::json& j, CheckResult& result);

}  // namespace rollgate::stats
