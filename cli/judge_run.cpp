#include "cli/judge_run.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <tuple>
#include <utility>

#include "cli/commands.h"
#include "common/stats/alternative.h"
#include "common/stats/effect.h"
#include "common/stats/fisher.h"
#include "common/stats/mann_whitney.h"
#include "common/stats/sorting.h"
#include "common/sys/error.h"

namespace rollgate::cli {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\v\f");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\v\f");
  return text.substr(first, last - first + 1);
}

std::string show(double value, const char* pattern = "%.6g") {
  if (std::isnan(value)) return "n/a";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

std::string signedShow(double value) {
  return (value > 0 && std::isfinite(value) ? "+" : "") + show(value);
}

std::string percent(double rate) { return show(rate * 100.0, "%.4g") + "%"; }

std::string points(double difference) {
  return (difference > 0 ? "+" : "") + show(difference * 100.0, "%.4g") + " pp";
}

nlohmann::json effectJson(const stats::EffectEstimate& e, const char* method) {
  nlohmann::json j = {{"estimate", e.estimate},
                      {"ci_low", e.low},
                      {"ci_high", e.high},
                      {"confidence", e.confidence}};
  if (method != nullptr) j["method"] = method;
  return j;
}

Status checkConfidence(double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0)) {
    return makeError("--confidence " + show(confidence) + ": must be between 0 and 1");
  }
  return {};
}

}  // namespace

Result<std::vector<double>> readSampleFile(std::string_view what, const std::string& path) {
  const std::string name = std::string(what) + " file '" + path + "'";
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(name + ": cannot open: " + sys::errnoMessage(errno));
  std::vector<double> values;
  std::string line;
  std::size_t lineNumber = 0;
  while (std::getline(in, line)) {
    ++lineNumber;
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    double value = 0.0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
      return makeError(name + " line " + std::to_string(lineNumber) + ": '" + std::string(text) +
                       "' is not a number");
    }
    if (!std::isfinite(value)) {
      return makeError(name + " line " + std::to_string(lineNumber) + ": '" + std::string(text) +
                       "' is not a finite number");
    }
    values.push_back(value);
  }
  if (in.bad()) return makeError(name + ": read error: " + sys::errnoMessage(errno));
  if (values.empty()) return makeError(name + ": no numbers (the file is empty)");
  return values;
}

Result<std::uint64_t> parseCount(std::string_view flag, std::string_view text) {
  const std::string_view trimmed = trim(text);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (trimmed.empty() || error != std::errc() || end != trimmed.data() + trimmed.size()) {
    return makeError(std::string(flag) + " '" + std::string(text) +
                     "': expected a non-negative integer");
  }
  return value;
}

int runJudgeMannWhitney(const JudgeMannWhitneyOptions& options, std::ostream& out,
                        std::ostream& err) {
  const auto alternative = stats::parseAlternative(options.alternative);
  if (!alternative) {
    err << "rollgate judge: --" << alternative.error().message << "\n";
    return kExitUsage;
  }
  if (Status ok = checkConfidence(options.confidence); !ok) {
    err << "rollgate judge: " << ok.error().message << "\n";
    return kExitUsage;
  }
  const auto canary = readSampleFile("canary", options.canaryFile);
  if (!canary) {
    err << "rollgate judge: " << canary.error().message << "\n";
    return kExitUsage;
  }
  const auto baseline = readSampleFile("baseline", options.baselineFile);
  if (!baseline) {
    err << "rollgate judge: " << baseline.error().message << "\n";
    return kExitUsage;
  }
  const std::vector<double> x = stats::sortedCopy(*canary);
  const std::vector<double> y = stats::sortedCopy(*baseline);
  const stats::MannWhitneyResult test = stats::mannWhitneyUSorted(x, y, *alternative);
  const stats::ShiftEffects effects = stats::shiftEffects(x, y, options.confidence);
  const bool exact = test.method == stats::MannWhitneyMethod::kExact;

  if (options.json) {
    nlohmann::json j = {{"test", "mannwhitney"},
                        {"alternative", std::string(stats::toString(*alternative))},
                        {"method", exact ? "exact" : "asymptotic"},
                        {"u", test.u},
                        {"p_value", test.pValue},
                        {"canary_n", test.canaryCount},
                        {"baseline_n", test.baselineCount},
                        {"canary_median", effects.canaryMedian},
                        {"baseline_median", effects.baselineMedian},
                        {"effects",
                         {{"hodges_lehmann_shift", effectJson(effects.shift, nullptr)},
                          {"median_ratio", {{"estimate", effects.medianRatio}}}}}};
    if (!exact) j["z"] = test.z;
    out << j.dump(2) << "\n";
    return 0;
  }
  const int level = static_cast<int>(std::lround(options.confidence * 100));
  out << "Mann-Whitney U test, alternative " << stats::toString(*alternative) << " ("
      << (exact ? "exact distribution" : "normal approximation, tie and continuity corrected")
      << ")\n"
      << "  canary:   n=" << test.canaryCount << "  median " << show(effects.canaryMedian) << "\n"
      << "  baseline: n=" << test.baselineCount << "  median " << show(effects.baselineMedian)
      << "\n"
      << "  U (canary) = " << show(test.u, "%.10g");
  if (!exact) out << "  z = " << show(test.z, "%.4f");
  out << "  p = " << show(test.pValue, "%.6g") << "\n"
      << "  Hodges-Lehmann shift (canary - baseline): " << signedShow(effects.shift.estimate)
      << "  " << level << "% CI [" << signedShow(effects.shift.low) << ", "
      << signedShow(effects.shift.high) << "]\n"
      << "  median ratio (canary / baseline): " << show(effects.medianRatio, "%.4g") << "\n";
  return 0;
}

int runJudgeFisher(const JudgeFisherOptions& options, std::ostream& out, std::ostream& err) {
  const auto alternative = stats::parseAlternative(options.alternative);
  if (!alternative) {
    err << "rollgate judge: --" << alternative.error().message << "\n";
    return kExitUsage;
  }
  if (Status ok = checkConfidence(options.confidence); !ok) {
    err << "rollgate judge: " << ok.error().message << "\n";
    return kExitUsage;
  }
  const std::pair<const char*, const std::string*> fields[] = {
      {"--canary-errors", &options.canaryErrors},
      {"--canary-total", &options.canaryTotal},
      {"--baseline-errors", &options.baselineErrors},
      {"--baseline-total", &options.baselineTotal}};
  std::uint64_t counts[4] = {};
  for (int i = 0; i < 4; ++i) {
    const auto value = parseCount(fields[i].first, *fields[i].second);
    if (!value) {
      err << "rollgate judge: " << value.error().message << "\n";
      return kExitUsage;
    }
    counts[i] = *value;
  }
  const auto [canaryErrors, canaryTotal, baselineErrors, baselineTotal] =
      std::tuple{counts[0], counts[1], counts[2], counts[3]};
  for (const auto& [flag, total] :
       {std::pair{"--canary-total", canaryTotal}, std::pair{"--baseline-total", baselineTotal}}) {
    if (total == 0) {
      err << "rollgate judge: " << flag << " 0: must be at least 1\n";
      return kExitUsage;
    }
    if (total > stats::kFisherMaxTotal) {
      err << "rollgate judge: " << flag << " " << total << ": above the limit "
          << stats::kFisherMaxTotal << "\n";
      return kExitUsage;
    }
  }
  if (canaryErrors > canaryTotal) {
    err << "rollgate judge: --canary-errors " << canaryErrors << " exceeds --canary-total "
        << canaryTotal << "\n";
    return kExitUsage;
  }
  if (baselineErrors > baselineTotal) {
    err << "rollgate judge: --baseline-errors " << baselineErrors << " exceeds --baseline-total "
        << baselineTotal << "\n";
    return kExitUsage;
  }
  const auto test =
      stats::fisherExact(canaryErrors, canaryTotal, baselineErrors, baselineTotal, *alternative);
  if (!test) {
    err << "rollgate judge: " << test.error().message << "\n";
    return kExitUsage;
  }
  const stats::RateEffects effects = stats::rateEffects(canaryErrors, canaryTotal, baselineErrors,
                                                        baselineTotal, options.confidence);
  if (options.json) {
    const nlohmann::json j = {
        {"test", "fisher"},
        {"alternative", std::string(stats::toString(*alternative))},
        {"p_value", test->pValue},
        {"odds_ratio", test->oddsRatio},
        {"canary_errors", canaryErrors},
        {"canary_total", canaryTotal},
        {"baseline_errors", baselineErrors},
        {"baseline_total", baselineTotal},
        {"canary_rate", effects.canaryRate},
        {"baseline_rate", effects.baselineRate},
        {"effects",
         {{"rate_difference", effectJson(effects.difference, "newcombe-wilson")},
          {"rate_ratio", effectJson(effects.ratio, "katz-log")}}}};
    out << j.dump(2) << "\n";
    return 0;
  }
  const int level = static_cast<int>(std::lround(options.confidence * 100));
  out << "Fisher's exact test, alternative " << stats::toString(*alternative) << "\n"
      << "  canary:   " << canaryErrors << "/" << canaryTotal << " errors ("
      << percent(effects.canaryRate) << ")\n"
      << "  baseline: " << baselineErrors << "/" << baselineTotal << " errors ("
      << percent(effects.baselineRate) << ")\n"
      << "  odds ratio = " << show(test->oddsRatio, "%.4g")
      << "  p = " << show(test->pValue, "%.6g") << "\n"
      << "  rate difference (canary - baseline): " << points(effects.difference.estimate) << "  "
      << level << "% CI [" << points(effects.difference.low) << ", "
      << points(effects.difference.high) << "]\n"
      << "  rate ratio (canary / baseline): " << show(effects.ratio.estimate, "%.4g") << "  "
      << level << "% CI [" << show(effects.ratio.low, "%.4g") << ", "
      << show(effects.ratio.high, "%.4g") << "]\n";
  return 0;
}

}  // namespace rollgate::cli
