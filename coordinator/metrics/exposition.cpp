#include "coordinator/metrics/exposition.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rollgate::coordinator::metrics {
namespace {

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string labelText(const Labels& labels, const std::pair<std::string, std::string>* extra) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& label) {
    if (!first) out += ',';
    first = false;
    out += label.first + "=\"" + escapeLabelValue(label.second) + "\"";
  };
  for (const auto& label : labels) add(label);
  if (extra != nullptr) add(*extra);
  return out + "}";
}

void line(std::string& out, const std::string& name, const Labels& labels, double value,
          const std::pair<std::string, std::string>* extra = nullptr) {
  out += name;
  out += labelText(labels, extra);
  out += ' ';
  out += formatValue(value);
  out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> upperBounds) {
  value_.upperBounds = std::move(upperBounds);
  value_.bucketCounts.assign(value_.upperBounds.size() + 1, 0);
}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < value_.upperBounds.size() && value > value_.upperBounds[i]) ++i;
  ++value_.bucketCounts[i];
  value_.sum += value;
  ++value_.count;
}

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[40];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    // The shortest text that reads back as the same double.
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(text, sizeof text, "%.*g", precision, value);
      if (std::strtod(text, nullptr) == value) break;
    }
  }
  return text;
}

std::string renderText(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& family : families) {
    out += "# HELP " + family.name + " " + escapeHelp(family.help) + "\n";
    out += "# TYPE " + family.name + " " + typeName(family.type) + "\n";
    for (const auto& sample : family.samples) {
      if (family.type != MetricType::kHistogram) {
        line(out, family.name, sample.labels, sample.value);
        continue;
      }
      const HistogramValue& h = sample.histogram;
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= h.upperBounds.size(); ++i) {
        cumulative += i < h.bucketCounts.size() ? h.bucketCounts[i] : 0;
        std::pair<std::string, std::string> le{
            "le", i < h.upperBounds.size() ? formatValue(h.upperBounds[i]) : "+Inf"};
        line(out, family.name + "_bucket", sample.labels, static_cast<double>(cumulative), &le);
      }
      line(out, family.name + "_sum", sample.labels, h.sum);
      line(out, family.name + "_count", sample.labels, static_cast<double>(h.count));
    }
  }
  return out;
}

}  // namespace rollgate::coordinator::metrics
