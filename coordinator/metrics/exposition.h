// The Prometheus text exposition format (version 0.0.4), written by a pure renderer: metric
// families with their HELP and TYPE lines, label values escaped (backslash, double quote, line
// feed), histograms as cumulative `_bucket` series ending with le="+Inf", then `_sum` and `_count`.
// Names are the caller's; the renderer checks nothing about them (coordinator_metrics.h follows
// Prometheus's naming rules). No I/O, no clock.
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rollgate::coordinator::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;  // name, value; in this order

enum class MetricType : std::uint8_t { kGauge, kCounter, kHistogram };

// A histogram's observations: upper bounds (ascending, +Inf implied) with the count of
// observations in each bucket alone (not cumulative; the renderer accumulates).
struct HistogramValue {
  std::vector<double> upperBounds;
  std::vector<std::uint64_t> bucketCounts;  // one per upper bound, plus one for +Inf
  double sum = 0.0;
  std::uint64_t count = 0;
};

// Observations into fixed buckets. Thread-safety: none (the owner serialises).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upperBounds);
  void observe(double value);
  const HistogramValue& value() const { return value_; }

 private:
  HistogramValue value_;
};

struct Sample {
  Labels labels;
  double value = 0.0;  // gauges and counters
  HistogramValue histogram;  // histograms
};

struct MetricFamily {
  std::string name;  // for counters, with its _total suffix
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

// `value` with \ " and line feeds escaped as the text format wants inside label values.
std::string escapeLabelValue(const std::string& value);
// `help` with \ and line feeds escaped as the text format wants in HELP lines.
std::string escapeHelp(const std::string& help);
// A sample value: integers without a fraction, NaN, +Inf and -Inf by their text-format names.
std::string formatValue(double value);
// The families in the text format, in the order given (a family without samples still gets its
// HELP and TYPE lines).
std::string renderText(const std::vector<MetricFamily>& families);

}  // namespace rollgate::coordinator::metrics
