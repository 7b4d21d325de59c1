#include "coordinator/rollout/rollout_config.h"

#include "common/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>

#include "coordinator/rollout/gates.h"

namespace rollgate::rollout {

std::size_t BatchSize::hostsPerBatch(std::size_t stageHosts) const {
  if (stageHosts == 0) return 0;
  std::size_t hosts = kind == Kind::kHosts ? value : (stageHosts * value + 99) / 100;
  if (hosts < 1) hosts = 1;
  return std::min(hosts, stageHosts);
}

std::string BatchSize::toString() const {
  return std::to_string(value) + (kind == Kind::kPercent ? "%" : "");
}

const StageConfig& PlanConfig::stage(std::string_view name) const {
  if (name == "canary") return canary;
  if (name == "cluster") return cluster;
  if (name == "region") return region;
  assert(name == "fleet");
  return fleet;
}

namespace {

template <typename E>
struct Names {
  E value;
  std::string_view name;
};

constexpr Names<Metric> kMetricNames[] = {{Metric::kHttp5xxRatio, "http_5xx_ratio"},
                                          {Metric::kHttp2xxRatio, "http_2xx_ratio"},
                                          {Metric::kErrorLogPerRequest, "error_log_per_request"},
                                          {Metric::kLatency, "latency"},
                                          {Metric::kCpu, "cpu"},
                                          {Metric::kMemory, "memory"},
                                          {Metric::kRestarts, "restarts"}};
constexpr Names<Test> kTestNames[] = {{Test::kFisher, "fisher"},
                                      {Test::kMannWhitney, "mann_whitney"},
                                      {Test::kThresholdMax, "threshold_max"},
                                      {Test::kThresholdMin, "threshold_min"},
                                      {Test::kRestarts, "restarts"}};
constexpr Names<Alternative> kAlternativeNames[] = {{Alternative::kGreater, "greater"},
                                                    {Alternative::kLess, "less"},
                                                    {Alternative::kTwoSided, "two-sided"}};
constexpr Names<Tier> kTierNames[] = {
    {Tier::kCritical, "critical"}, {Tier::kWarn, "warn"}, {Tier::kDebug, "debug"}};

template <typename E, std::size_t N>
std::string_view nameOf(const Names<E> (&names)[N], E value) {
  for (const auto& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <typename E, std::size_t N>
Result<E> parseName(const Names<E> (&names)[N], std::string_view text, std::string_view what) {
  std::string choices;
  for (const auto& entry : names) {
    if (entry.name == text) return entry.value;
    choices += (choices.empty() ? "" : ", ") + std::string(entry.name);
  }
  return makeError("expected a " + std::string(what) + " (one of " + choices + "), got \"" +
                   std::string(text) + "\"");
}

// A small reader over one TOML table that records the first error and rejects unknown keys.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string prefix, std::string source,
              std::vector<std::string>* errors)
      : table_(table), prefix_(std::move(prefix)), source_(std::move(source)), errors_(errors) {}

  const toml::node* node(const std::string& key) {
    known_.insert(key);
    return table_ == nullptr ? nullptr : table_->get(key);
  }
  void fail(const std::string& key, const std::string& problem) {
    errors_->push_back(source_ + ": key '" + qualified(key) + "': " + problem);
  }
  std::string qualified(const std::string& key) const {
    if (key.empty()) return prefix_;
    return prefix_.empty() ? key : prefix_ + "." + key;
  }

  void getSeconds(const std::string& key, std::uint64_t& value, std::int64_t min) {
    const toml::node* n = node(key);
    if (n == nullptr) return;
    auto v = n->value_exact<std::int64_t>();
    constexpr std::int64_t kMax = 7 * 24 * 3600;
    if (!v || *v < min || *v > kMax) {
      fail(key, "expected a number of seconds from " + std::to_string(min) + " to " +
                    std::to_string(kMax) + ", got " + describeTomlValue(*n));
      return;
    }
    value = static_cast<std::uint64_t>(*v);
  }
  void getBool(const std::string& key, bool& value) {
    const toml::node* n = node(key);
    if (n == nullptr) return;
    if (auto v = n->value_exact<bool>()) {
      value = *v;
    } else {
      fail(key, "expected true or false, got " + describeTomlValue(*n));
    }
  }
  void getDouble(const std::string& key, double& value, double min, double max,
                 const std::string& expected) {
    const toml::node* n = node(key);
    if (n == nullptr) return;
    std::optional<double> v;
    if (auto d = n->value_exact<double>()) v = *d;
    if (auto i = n->value_exact<std::int64_t>()) v = static_cast<double>(*i);
    if (!v || !(*v >= min && *v <= max)) {
      fail(key, "expected " + expected + ", got " + describeTomlValue(*n));
      return;
    }
    value = *v;
  }
  void getCount(const std::string& key, std::uint64_t& value) {
    const toml::node* n = node(key);
    if (n == nullptr) return;
    auto v = n->value_exact<std::int64_t>();
    if (!v || *v < 0) {
      fail(key, "expected a non-negative integer, got " + describeTomlValue(*n));
      return;
    }
    value = static_cast<std::uint64_t>(*v);
  }
  std::optional<std::string> getString(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (auto v = n->value_exact<std::string>()) return *v;
    fail(key, "expected a string, got " + describeTomlValue(*n));
    return std::nullopt;
  }
  template <typename E>
  void getEnum(const std::string& key, E& value, Result<E> (*parse)(std::string_view)) {
    auto text = getString(key);
    if (!text) return;
    auto parsed = parse(*text);
    if (!parsed) {
      fail(key, parsed.error().message);
      return;
    }
    value = *parsed;
  }
  void getBatch(const std::string& key, BatchSize& value) {
    const toml::node* n = node(key);
    if (n == nullptr) return;
    if (auto i = n->value_exact<std::int64_t>()) {
      if (*i >= 1 && *i <= 100000) {
        value = BatchSize{BatchSize::Kind::kHosts, static_cast<std::uint32_t>(*i)};
        return;
      }
    } else if (auto s = n->value_exact<std::string>()) {
      auto parsed = parseBatch(*s);
      if (parsed) {
        value = *parsed;
        return;
      }
    }
    fail(key,
         "expected a number of hosts (an integer >= 1) or a percentage (\"1%\" to \"100%\"), "
         "got " +
             describeTomlValue(*n));
  }
  // Every key of the table must have been asked about.
  void rejectUnknown(const std::set<std::string>& alsoKnown = {}) {
    if (table_ == nullptr) return;
    for (const auto& [key, n] : *table_) {
      std::string name(key.str());
      if (!known_.count(name) && !alsoKnown.count(name)) {
        fail(name, "unknown key (a typo?)");
      }
    }
  }

 private:
  const toml::table* table_;
  std::string prefix_;
  std::string source_;
  std::vector<std::string>* errors_;
  std::set<std::string> known_;
};

Result<toml::table> parseToml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << source << ":" << error.source().begin.line << ":" << error.source().begin.column << ": "
        << error.description();
    return makeError(out.str());
  }
}

void readStage(TableReader& root, const std::string& source, std::vector<std::string>& errors,
               StageConfig& stage) {
  const toml::node* n = root.node(stage.name);
  if (n == nullptr) return;
  const toml::table* table = n->as_table();
  if (table == nullptr) {
    root.fail(stage.name, "expected a table ([" + stage.name + "]), got " + describeTomlValue(*n));
    return;
  }
  TableReader reader(table, stage.name, source, &errors);
  reader.getSeconds("install_timeout_seconds", stage.installTimeoutSeconds, 1);
  reader.getSeconds("warmup_seconds", stage.warmupSeconds, 0);
  reader.getSeconds("analysis_seconds", stage.analysisSeconds, 1);
  if (stage.name == "canary") {
    reader.getBool("baseline_restart", stage.baselineRestart);
  } else {
    reader.getBatch("batch", stage.batch);
  }
  reader.rejectUnknown();
}

bool ratioMetric(Metric metric) {
  return metric == Metric::kHttp5xxRatio || metric == Metric::kHttp2xxRatio ||
         metric == Metric::kErrorLogPerRequest;
}

}  // namespace

std::string_view metricName(Metric metric) { return nameOf(kMetricNames, metric); }
std::string_view testName(Test test) { return nameOf(kTestNames, test); }
std::string_view alternativeName(Alternative alternative) {
  return nameOf(kAlternativeNames, alternative);
}
std::string_view tierName(Tier tier) { return nameOf(kTierNames, tier); }
Result<Metric> parseMetric(std::string_view text) {
  return parseName(kMetricNames, text, "metric");
}
Result<Test> parseTest(std::string_view text) { return parseName(kTestNames, text, "test"); }
Result<Alternative> parseAlternative(std::string_view text) {
  return parseName(kAlternativeNames, text, "alternative");
}
Result<Tier> parseTier(std::string_view text) { return parseName(kTierNames, text, "tier"); }

Result<BatchSize> parseBatch(std::string_view text) {
  BatchSize batch;
  std::string_view digits = text;
  batch.kind = BatchSize::Kind::kHosts;
  if (!digits.empty() && digits.back() == '%') {
    digits.remove_suffix(1);
    batch.kind = BatchSize::Kind::kPercent;
  }
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  bool ok = ec == std::errc{} && end == digits.data() + digits.size() && !digits.empty() &&
            value >= 1 && (batch.kind == BatchSize::Kind::kHosts || value <= 100);
  if (!ok) {
    return makeError("expected a number of hosts or a percentage such as \"25%\", got \"" +
                     std::string(text) + "\"");
  }
  batch.value = value;
  return batch;
}

PlanConfig defaultPlanConfig() { return PlanConfig{}; }

GatesConfig defaultGatesConfig() {
  GatesConfig gates;
  auto add = [&](std::string name, Metric metric, Test test, double minEffect, double minRatio,
                 std::uint64_t minData, double threshold, Tier tier) {
    CheckConfig check;
    check.name = std::move(name);
    check.metric = metric;
    check.test = test;
    check.alternative = test == Test::kThresholdMin ? Alternative::kLess : Alternative::kGreater;
    check.alpha = 0.01;
    check.minEffect = minEffect;
    check.minRatio = minRatio;
    check.minData = minData;
    check.threshold = threshold;
    check.tier = tier;
    gates.checks.push_back(std::move(check));
  };
  // Counts: a 0.1-point and 50% rise of the 5xx ratio at least, on at least 200 requests a side.
  add("http_5xx", Metric::kHttp5xxRatio, Test::kFisher, 0.001, 1.5, 200, 0, Tier::kCritical);
  add("error_log", Metric::kErrorLogPerRequest, Test::kFisher, 0.001, 1.5, 200, 0, Tier::kWarn);
  // Latency: a shift of at least 5 ms and a 5% higher median, on at least 50 samples a side.
  add("latency", Metric::kLatency, Test::kMannWhitney, 5000, 1.05, 50, 0, Tier::kCritical);
  // CPU and memory: 20% more at least, on at least 3 windows a side, and an absolute floor so that
  // a mostly idle unit's noise never fails a build whatever the window length: CPU 20 ms per
  // second (2% of a core; one 10 ms scheduler tick in the shortest, 1 s, window is 10 ms/s) and
  // memory 16 MiB (4096 pages; a unit's own page cache moves memory.current by a few MiB a window).
  add("cpu", Metric::kCpu, Test::kMannWhitney, kCpuFloorMillisPerSecond, 1.2, 3, 0, Tier::kWarn);
  add("memory", Metric::kMemory, Test::kMannWhitney, kMemoryFloorBytes, 1.2, 3, 0, Tier::kWarn);
  // Static thresholds: before the last look they fail only on kThresholdEarlyRequests (gates.h).
  add("http_5xx_static", Metric::kHttp5xxRatio, Test::kThresholdMax, 0, 0, 200, 0.005,
      Tier::kCritical);
  add("http_2xx_static", Metric::kHttp2xxRatio, Test::kThresholdMin, 0, 0, 200, 0.90,
      Tier::kCritical);
  add("restarts", Metric::kRestarts, Test::kRestarts, 0, 0, 1, 0, Tier::kCritical);
  return gates;
}

Result<PlanConfig> parsePlanConfig(const std::string& tomlText, const std::string& sourceName) {
  auto doc = parseToml(tomlText, sourceName);
  if (!doc) return doc.error();
  PlanConfig plan = defaultPlanConfig();
  std::vector<std::string> errors;
  TableReader root(&doc.value(), "", sourceName, &errors);
  root.getSeconds("window_seconds", plan.windowSeconds, 1);
  root.getSeconds("silence_seconds", plan.silenceSeconds, 1);
  root.getSeconds("report_grace_seconds", plan.reportGraceSeconds, 0);
  for (StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
    readStage(root, sourceName, errors, *stage);
  }
  root.rejectUnknown();
  if (errors.empty()) {
    for (const StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
      if (stage->analysisSeconds < plan.windowSeconds) {
        errors.push_back(sourceName + ": key '" + stage->name +
                         ".analysis_seconds': expected at "
                         "least window_seconds (" +
                         std::to_string(plan.windowSeconds) + "), got " +
                         std::to_string(stage->analysisSeconds));
      }
    }
  }
  if (!errors.empty()) return makeError(errors.front());
  return plan;
}

Result<GatesConfig> parseGatesConfig(const std::string& tomlText, const std::string& sourceName) {
  auto doc = parseToml(tomlText, sourceName);
  if (!doc) return doc.error();
  std::vector<std::string> errors;
  TableReader root(&doc.value(), "", sourceName, &errors);
  const toml::node* checksNode = root.node("check");
  root.rejectUnknown();
  if (checksNode == nullptr) {
    if (!errors.empty()) return makeError(errors.front());
    return defaultGatesConfig();
  }
  const toml::array* array = checksNode->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    root.fail("check", "expected an array of tables ([[check]]), got " + describeTomlValue(*checksNode));
    return makeError(errors.front());
  }
  GatesConfig gates;
  std::set<std::string> names;
  for (std::size_t i = 0; i < array->size(); ++i) {
    std::string prefix = "check[" + std::to_string(i) + "]";
    TableReader reader(array->get(i)->as_table(), prefix, sourceName, &errors);
    CheckConfig check;
    check.alpha = 0.01;
    auto name = reader.getString("name");
    if (!name || name->empty()) {
      if (!reader.node("name"))
        reader.fail("name", "missing (every check needs a name)");
      else if (name)
        reader.fail("name", "expected a non-empty string, got string \"\"");
    } else {
      check.name = *name;
      if (!names.insert(*name).second)
        reader.fail("name", "duplicate check name \"" + *name + "\"");
    }
    if (!reader.node("metric")) reader.fail("metric", "missing (e.g. metric = \"latency\")");
    reader.getEnum("metric", check.metric, &parseMetric);
    if (!reader.node("test")) reader.fail("test", "missing (e.g. test = \"mann_whitney\")");
    reader.getEnum("test", check.test, &parseTest);
    check.alternative =
        check.test == Test::kThresholdMin ? Alternative::kLess : Alternative::kGreater;
    reader.getEnum("alternative", check.alternative, &parseAlternative);
    reader.getDouble("alpha", check.alpha, 1e-12, 0.5, "a significance level above 0, at most 0.5");
    reader.getDouble("min_effect", check.minEffect, 0, 1e18, "a non-negative number");
    reader.getDouble("min_ratio", check.minRatio, 0, 1e6,
                     "a ratio of at least 1 (1.2 = 20% "
                     "more), or 0 for none");
    if (check.minRatio > 0 && check.minRatio < 1) {
      reader.fail("min_ratio",
                  "expected a ratio of at least 1 (1.2 = 20% more), or 0 for none, "
                  "got " +
                      std::to_string(check.minRatio));
    }
    reader.getCount("min_data", check.minData);
    bool staticTest = check.test == Test::kThresholdMax || check.test == Test::kThresholdMin;
    if (staticTest && !reader.node("threshold")) {
      reader.fail("threshold", "missing (a static check needs a ratio, e.g. threshold = 0.005)");
    }
    reader.getDouble("threshold", check.threshold, 0, 1, "a ratio from 0 to 1");
    reader.getEnum("tier", check.tier, &parseTier);
    reader.rejectUnknown();
    bool fits = true;
    switch (check.test) {
      case Test::kFisher:
      case Test::kThresholdMax:
      case Test::kThresholdMin:
        fits = ratioMetric(check.metric);
        break;
      case Test::kMannWhitney:
        fits = check.metric == Metric::kLatency || check.metric == Metric::kCpu ||
               check.metric == Metric::kMemory;
        break;
      case Test::kRestarts:
        fits = check.metric == Metric::kRestarts;
        break;
    }
    if (fits && check.metric == Metric::kRestarts && check.test != Test::kRestarts) fits = false;
    if (!fits) {
      reader.fail("test", "test \"" + std::string(testName(check.test)) +
                              "\" does not apply to metric \"" +
                              std::string(metricName(check.metric)) + "\"");
    }
    if (fits && errors.empty()) {
      if (auto valid = validateCheck(check); !valid) reader.fail("", valid.error().message);
    }
    gates.checks.push_back(std::move(check));
  }
  if (!errors.empty()) return makeError(errors.front());
  return gates;
}

}  // namespace rollgate::rollout
