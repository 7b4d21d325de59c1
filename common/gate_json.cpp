#include "common/gate_json.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace rollgate {

using nlohmann::json;

json jsonNumber(double value) {
  if (std::isfinite(value)) return value;
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

double numberFromJson(const json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    throw std::runtime_error("expected a number, got \"" + text + "\"");
  }
  return value.get<double>();
}

namespace stats {
namespace {

template <typename E>
void enumFromJson(const json& j, E& value, Result<E> (*parse)(std::string_view)) {
  auto parsed = parse(j.get<std::string>());
  if (!parsed) throw std::runtime_error(parsed.error().message);
  value = *parsed;
}

json effectToJson(const EffectEstimate& e) {
  return json::array({jsonNumber(e.estimate), jsonNumber(e.low), jsonNumber(e.high)});
}

EffectEstimate effectFromJson(const json& j) {
  EffectEstimate e;
  e.estimate = numberFromJson(j.at(0));
  e.low = numberFromJson(j.at(1));
  e.high = numberFromJson(j.at(2));
  return e;
}

}  // namespace

void to_json(json& j, Metric value) { j = std::string(toString(value)); }
void from_json(const json& j, Metric& value) { enumFromJson(j, value, &parseMetric); }
void to_json(json& j, Test value) { j = std::string(toString(value)); }
void from_json(const json& j, Test& value) { enumFromJson(j, value, &parseTest); }
void to_json(json& j, Tier value) { j = std::string(toString(value)); }
void from_json(const json& j, Tier& value) { enumFromJson(j, value, &parseTier); }
void to_json(json& j, Verdict value) { j = std::string(toString(value)); }
void from_json(const json& j, Verdict& value) { enumFromJson(j, value, &parseVerdict); }
void to_json(json& j, Alternative value) { j = std::string(toString(value)); }
void from_json(const json& j, Alternative& value) { enumFromJson(j, value, &parseAlternative); }

void to_json(json& j, const CheckSpec& spec) {
  j = json{{"name", spec.name},
           {"metric", spec.metric},
           {"test", spec.test},
           {"alternative", spec.alternative},
           {"alpha", spec.alpha},
           {"minEffect", spec.minEffect},
           {"minRatio", spec.minRatio},
           {"minData", spec.minData},
           {"threshold", spec.threshold},
           {"quantile", spec.quantile},
           {"confidence", spec.confidence},
           {"tier", spec.tier}};
  if (!spec.query.empty()) j["query"] = spec.query;
}

void from_json(const json& j, CheckSpec& spec) {
  j.at("name").get_to(spec.name);
  j.at("metric").get_to(spec.metric);
  j.at("test").get_to(spec.test);
  j.at("alternative").get_to(spec.alternative);
  j.at("alpha").get_to(spec.alpha);
  j.at("minEffect").get_to(spec.minEffect);
  j.at("minRatio").get_to(spec.minRatio);
  j.at("minData").get_to(spec.minData);
  j.at("threshold").get_to(spec.threshold);
  spec.quantile = j.value("quantile", CheckSpec{}.quantile);
  spec.confidence = j.value("confidence", CheckSpec{}.confidence);
  j.at("tier").get_to(spec.tier);
  spec.query = j.value("query", std::string());
}

void to_json(json& j, const CheckResult& r) {
  j = json{{"name", r.name},
           {"metric", r.metric},
           {"test", r.test},
           {"alternative", r.alternative},
           {"tier", r.tier},
           {"verdict", r.verdict},
           {"look", r.look},
           {"looks", r.looks},
           {"statistic", jsonNumber(r.statistic)},
           {"pValue", jsonNumber(r.pValue)},
           {"alphaAtLook", jsonNumber(r.alphaAtLook)},
           {"significant", r.significant},
           {"effectLargeEnough", r.effectLargeEnough},
           {"canaryValue", jsonNumber(r.canaryValue)},
           {"baselineValue", jsonNumber(r.baselineValue)},
           {"effectName", r.effectName},
           {"effect", effectToJson(r.effect)},
           {"ratioName", r.ratioName},
           {"ratio", effectToJson(r.ratio)},
           {"canaryCount", r.canaryCount},
           {"baselineCount", r.baselineCount},
           {"canaryEvents", r.canaryEvents},
           {"baselineEvents", r.baselineEvents},
           {"explanation", r.explanation}};
  if (!r.hostValues.empty()) {
    json hosts = json::array();
    for (const auto& h : r.hostValues) {
      json values = json::array();
      for (double v : h.values) values.push_back(jsonNumber(v));
      hosts.push_back(json{{"host", h.host},
                           {"canary", h.canary},
                           {"query", h.query},
                           {"values", values},
                           {"problem", h.problem}});
    }
    j["hostValues"] = hosts;
  }
  if (!r.errorTypes.empty()) {
    json types = json::array();
    for (const auto& t : r.errorTypes) {
      types.push_back(json{{"type", t.type},
                           {"frame", t.frame},
                           {"sampleMessage", t.sampleMessage},
                           {"canaryCount", t.canaryCount},
                           {"baselineCount", t.baselineCount}});
    }
    j["errorTypes"] = std::move(types);
  }
}

void from_json(const json& j, CheckResult& r) {
  j.at("name").get_to(r.name);
  j.at("metric").get_to(r.metric);
  j.at("test").get_to(r.test);
  j.at("alternative").get_to(r.alternative);
  j.at("tier").get_to(r.tier);
  j.at("verdict").get_to(r.verdict);
  j.at("look").get_to(r.look);
  j.at("looks").get_to(r.looks);
  r.statistic = numberFromJson(j.at("statistic"));
  r.pValue = numberFromJson(j.at("pValue"));
  r.alphaAtLook = numberFromJson(j.at("alphaAtLook"));
  j.at("significant").get_to(r.significant);
  j.at("effectLargeEnough").get_to(r.effectLargeEnough);
  r.canaryValue = numberFromJson(j.at("canaryValue"));
  r.baselineValue = numberFromJson(j.at("baselineValue"));
  j.at("effectName").get_to(r.effectName);
  r.effect = effectFromJson(j.at("effect"));
  j.at("ratioName").get_to(r.ratioName);
  r.ratio = effectFromJson(j.at("ratio"));
  j.at("canaryCount").get_to(r.canaryCount);
  j.at("baselineCount").get_to(r.baselineCount);
  j.at("canaryEvents").get_to(r.canaryEvents);
  j.at("baselineEvents").get_to(r.baselineEvents);
  j.at("explanation").get_to(r.explanation);
  r.hostValues.clear();
  for (const auto& h : j.value("hostValues", json::array())) {
    HostValues host;
    h.at("host").get_to(host.host);
    h.at("canary").get_to(host.canary);
    h.at("query").get_to(host.query);
    for (const auto& v : h.at("values")) host.values.push_back(numberFromJson(v));
    host.problem = h.value("problem", std::string());
    r.hostValues.push_back(std::move(host));
  }
  r.errorTypes.clear();
  if (auto types = j.find("errorTypes"); types != j.end() && types->is_array()) {
    for (const auto& t : *types) {
      ErrorTypeFinding finding;
      t.at("type").get_to(finding.type);
      t.at("frame").get_to(finding.frame);
      t.at("sampleMessage").get_to(finding.sampleMessage);
      t.at("canaryCount").get_to(finding.canaryCount);
      t.at("baselineCount").get_to(finding.baselineCount);
      r.errorTypes.push_back(std::move(finding));
    }
  }
}

}  // namespace stats
}  // namespace rollgate
