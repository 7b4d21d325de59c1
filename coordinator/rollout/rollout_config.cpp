#include "coordinator/rollout/rollout_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "common/check.h"
#include "common/config.h"
#include "common/messages.h"
#include "coordinator/rollout/gates.h"
#include "coordinator/rollout/promql_template.h"

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
  ROLLGATE_CHECK_EQ(name, "fleet", "unknown stage name");
  return fleet;
}

namespace {

// Values the rollout files spell their own way, read through common/config's reader so that
// key names, the first-error rule and unknown keys work as in every other config file.
void getSeconds(ConfigReader& reader, const std::string& key, std::uint64_t& value,
                std::int64_t min) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return;
  auto v = n->value_exact<std::int64_t>();
  constexpr std::int64_t kMax = 7 * 24 * 3600;
  if (!v || *v < min || *v > kMax) {
    reader.fail(key, "expected a number of seconds from " + std::to_string(min) + " to " +
                         std::to_string(kMax) + ", got " + describeTomlValue(*n));
    return;
  }
  value = static_cast<std::uint64_t>(*v);
}

void getDouble(ConfigReader& reader, const std::string& key, double& value, double min, double max,
               const std::string& expected) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return;
  std::optional<double> v;
  if (auto d = n->value_exact<double>()) v = *d;
  if (auto i = n->value_exact<std::int64_t>()) v = static_cast<double>(*i);
  if (!v || !(*v >= min && *v <= max)) {
    reader.fail(key, "expected " + expected + ", got " + describeTomlValue(*n));
    return;
  }
  value = *v;
}

void getCount(ConfigReader& reader, const std::string& key, std::uint64_t& value) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return;
  auto v = n->value_exact<std::int64_t>();
  if (!v || *v < 0) {
    reader.fail(key, "expected a non-negative integer, got " + describeTomlValue(*n));
    return;
  }
  value = static_cast<std::uint64_t>(*v);
}

template <typename E>
void getEnum(ConfigReader& reader, const std::string& key, E& value,
             Result<E> (*parse)(std::string_view)) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return;
  auto text = n->value_exact<std::string>();
  if (!text) {
    reader.fail(key, "expected a string, got " + describeTomlValue(*n));
    return;
  }
  auto parsed = parse(*text);
  if (!parsed) {
    reader.fail(key, parsed.error().message);
    return;
  }
  value = *parsed;
}

void getBatch(ConfigReader& reader, const std::string& key, BatchSize& value) {
  const toml::node* n = reader.node(key);
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
  reader.fail(key,
              "expected a number of hosts (an integer >= 1) or a percentage (\"1%\" to "
              "\"100%\"), got " +
                  describeTomlValue(*n));
}

void readStage(ConfigReader& root, StageConfig& stage) {
  ConfigReader reader = root.table(stage.name);
  getSeconds(reader, "install_timeout_seconds", stage.installTimeoutSeconds, 1);
  getSeconds(reader, "warmup_seconds", stage.warmupSeconds, 0);
  getSeconds(reader, "analysis_seconds", stage.analysisSeconds, 1);
  reader.get("weight", stage.weight, 0, kMaxTrafficWeight);
  if (stage.name == "canary") {
    reader.get("baseline_restart", stage.baselineRestart);
  } else {
    getBatch(reader, "batch", stage.batch);
  }
}

// `query`: required for a Prometheus check (a valid template), refused for any other metric.
// A Prometheus check without min_data needs kPrometheusMinSamples values a side.
void readPrometheusQuery(ConfigReader& reader, CheckSpec& check) {
  const bool prometheus = check.metric == Metric::kPrometheus;
  if (!reader.has("query")) {
    if (prometheus) {
      reader.fail("query", "missing (a prometheus check needs a PromQL query, e.g. query = "
                           "\"rate(app_errors_total{host=\\\"{{host}}\\\"}[1m])\")");
    }
    return;
  }
  if (!prometheus) {
    reader.fail("query", "only a check with metric = \"prometheus\" takes a query (metric is \"" +
                             std::string(stats::toString(check.metric)) + "\")");
    return;
  }
  reader.get("query", check.query);
  if (auto valid = validatePromqlTemplate(check.query); !valid) {
    reader.fail("query", valid.error().message);
  }
  if (!reader.has("min_data")) check.minData = kPrometheusMinSamples;
}

}  // namespace

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

PlanConfig defaultPlanConfig(std::uint64_t windowSeconds) {
  PlanConfig plan;
  plan.windowSeconds = windowSeconds;
  return plan;
}

GatesConfig defaultGatesConfig() {
  GatesConfig gates;
  auto add = [&](std::string name, Metric metric, Test test, double minEffect, double minRatio,
                 std::uint64_t minData, double threshold, Tier tier) {
    CheckSpec check;
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
  // Latency tail: more canary requests above the pooled p99, with the canary's p99 at least 50 ms
  // above the comparison's and at least twice the comparison's fraction above it (2% where 1% is
  // expected), on at least 200 samples a side (2 expected above the p99).
  add("latency_tail", Metric::kLatency, Test::kTailFisher, 50'000, 2.0, 200, 0, Tier::kCritical);
  gates.checks.back().quantile = 0.99;
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
  // From the application's Sentry SDK (skipped for a service without a Sentry endpoint):
  // exceptions per request 0.1 point and 50% above the comparison's, on 200 requests a side;
  // crashed sessions 1 point and 50% above, on 50 sessions a side; and an exception type the
  // canary group raised at least 5 times that the comparison group never raised.
  add("exceptions", Metric::kExceptionsPerRequest, Test::kFisher, 0.001, 1.5, 200, 0,
      Tier::kCritical);
  add("crash_free_sessions", Metric::kCrashedSessions, Test::kFisher, 0.01, 1.5, 50, 0,
      Tier::kCritical);
  add("new_error_types", Metric::kNewErrorTypes, Test::kNewTypes, 0, 0, 5, 0, Tier::kWarn);
  return gates;
}

Result<PlanConfig> parsePlanConfig(const std::string& tomlText, const std::string& sourceName,
                                   std::uint64_t coordinatorWindowSeconds) {
  auto root = ConfigReader::parseString(tomlText, sourceName);
  if (!root) return root.error();
  PlanConfig plan = defaultPlanConfig(coordinatorWindowSeconds);
  getSeconds(*root, "window_seconds", plan.windowSeconds, 1);
  if (plan.windowSeconds != coordinatorWindowSeconds) {
    return makeError(sourceName + ": key 'window_seconds' = " + std::to_string(plan.windowSeconds) +
                     " disagrees with the coordinator's telemetry window of " +
                     std::to_string(coordinatorWindowSeconds) +
                     " s ([coordinator] window_seconds in coordinator.toml, the length every agent "
                     "cuts): remove window_seconds from the plan or make the two equal");
  }
  getSeconds(*root, "silence_seconds", plan.silenceSeconds, 1);
  getSeconds(*root, "report_grace_seconds", plan.reportGraceSeconds, 0);
  getSeconds(*root, "rollback_timeout_seconds", plan.rollbackTimeoutSeconds, 1);
  for (StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
    readStage(*root, *stage);
  }
  if (Status read = root->finish(); !read) return read.error();
  for (const StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
    if (stage->analysisSeconds < plan.windowSeconds) {
      return makeError(sourceName + ": key '" + stage->name +
                       ".analysis_seconds': expected at least window_seconds (" +
                       std::to_string(plan.windowSeconds) + "), got " +
                       std::to_string(stage->analysisSeconds));
    }
  }
  return plan;
}

Result<GatesConfig> parseGatesConfig(const std::string& tomlText, const std::string& sourceName) {
  auto root = ConfigReader::parseString(tomlText, sourceName);
  if (!root) return root.error();
  if (!root->has("check")) {
    if (Status read = root->finish(); !read) return read.error();
    return defaultGatesConfig();
  }
  GatesConfig gates;
  std::set<std::string> names;
  for (ConfigReader& reader : root->tables("check")) {
    CheckSpec check;
    if (!reader.has("name")) reader.fail("name", "missing (every check needs a name)");
    reader.get("name", check.name);
    if (reader.has("name") && reader.node("name")->is_string()) {
      if (check.name.empty()) {
        reader.fail("name", "expected a non-empty string, got string \"\"");
      } else if (!names.insert(check.name).second) {
        reader.fail("name", "duplicate check name \"" + check.name + "\"");
      }
    }
    if (!reader.has("metric")) reader.fail("metric", "missing (e.g. metric = \"latency\")");
    getEnum(reader, "metric", check.metric, &stats::parseMetric);
    if (!reader.has("test")) reader.fail("test", "missing (e.g. test = \"mann_whitney\")");
    getEnum(reader, "test", check.test, &stats::parseTest);
    check.alternative =
        check.test == Test::kThresholdMin ? Alternative::kLess : Alternative::kGreater;
    getEnum(reader, "alternative", check.alternative, &stats::parseAlternative);
    getDouble(reader, "alpha", check.alpha, 1e-12, 0.5,
              "a significance level above 0, at most 0.5");
    getDouble(reader, "min_effect", check.minEffect, 0, 1e18, "a non-negative number");
    getDouble(reader, "min_ratio", check.minRatio, 0, 1e6,
              "a ratio of at least 1 (1.2 = 20% more), or 0 for none");
    if (check.minRatio > 0 && check.minRatio < 1) {
      reader.fail("min_ratio",
                  "expected a ratio of at least 1 (1.2 = 20% more), or 0 for none, got " +
                      std::to_string(check.minRatio));
    }
    getCount(reader, "min_data", check.minData);
    bool staticTest = check.test == Test::kThresholdMax || check.test == Test::kThresholdMin;
    if (staticTest && !reader.has("threshold")) {
      reader.fail("threshold", "missing (a static check needs a ratio, e.g. threshold = 0.005)");
    }
    const bool prometheus = check.metric == Metric::kPrometheus;
    if (prometheus) {
      // A query's value has the query's own unit: any finite threshold.
      getDouble(reader, "threshold", check.threshold, -1e300, 1e300, "a finite number");
    } else {
      getDouble(reader, "threshold", check.threshold, 0, 1, "a ratio from 0 to 1");
    }
    if (check.test == Test::kTailFisher) check.quantile = 0.99;
    getDouble(reader, "quantile", check.quantile, 0, 1, "a quantile from 0 to 1 (0.99 = p99)");
    getEnum(reader, "tier", check.tier, &stats::parseTier);
    readPrometheusQuery(reader, check);
    const bool fits = stats::testApplies(check.test, check.metric);
    if (!fits) {
      reader.fail("test", "test \"" + std::string(stats::toString(check.test)) +
                              "\" does not apply to metric \"" +
                              std::string(stats::toString(check.metric)) + "\"");
    }
    if (fits) {
      if (auto valid = validateCheck(check); !valid) reader.fail("", valid.error().message);
    }
    gates.checks.push_back(std::move(check));
  }
  if (Status read = root->finish(); !read) return read.error();
  return gates;
}

Result<std::vector<std::string>> checkPlanGivesData(const PlanConfig& plan, const GatesConfig& gates) {
  std::vector<std::string> notes;
  std::uint64_t window = std::max<std::uint64_t>(plan.windowSeconds, 1);
  for (const StageConfig* stage : {&plan.canary, &plan.cluster, &plan.region, &plan.fleet}) {
    std::uint64_t windows = stage->analysisSeconds / window;
    for (const CheckSpec& check : gates.checks) {
      if (check.metric != Metric::kCpu && check.metric != Metric::kMemory) continue;
      if (check.tier == Tier::kDebug || windows > check.minData) continue;
      std::string enough = std::to_string((check.minData + 1) * window);
      std::string what = "plan: stage '" + stage->name + "': analysis_seconds " +
                         std::to_string(stage->analysisSeconds) + " gives " +
                         std::to_string(windows) + " windows of " + std::to_string(window) +
                         " s, and check '" + check.name + "' needs " +
                         std::to_string(check.minData) + " a side (min_data)";
      if (windows < check.minData) {
        return makeError(what + ": every step of the stage would wait for an operator for want of "
                                "data; use analysis_seconds >= " + enough);
      }
      notes.push_back(what + ": one side is often a window short and the step is then held for "
                             "want of data; analysis_seconds >= " + enough + " avoids it");
    }
  }
  return notes;
}

}  // namespace rollgate::rollout
