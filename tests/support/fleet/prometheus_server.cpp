#include "tests/support/fleet/prometheus_server.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace rollgate::testing {

std::string PrometheusServer::missingPrerequisite() {
  if (::access(kBinary, X_OK) != 0) return kBinary;
  if (runCommand({"curl", "--version"}).exitCode != 0) return "curl";
  return "";
}

std::string PrometheusServer::coordinatorToml() const {
  return "\n[prometheus]\nurl = \"" + url() + "\"\ntimeout_millis = 1500\n";
}

void PrometheusServer::start(const std::vector<std::pair<std::string, int>>& targets) {
  std::string config =
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
      "  - job_name: web\n    static_configs:\n";
  for (const auto& [host, port] : targets) {
    config += "      - targets: ['127.0.0.1:" + std::to_string(port) +
              "']\n        labels:\n          host: '" + host + "'\n";
  }
  writeFile(dir_.file("prometheus.yml"), config);
  std::filesystem::create_directories(dir_.file("data"));
  process_ = Process::spawn({kBinary, "--config.file=" + dir_.file("prometheus.yml"),
                             "--storage.tsdb.path=" + dir_.file("data"),
                             "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                            dir_.file("prometheus.log"));
}

bool PrometheusServer::waitForSeries(const std::string& metric, std::size_t series) {
  return waitUntil(
      [&] {
        auto out = runCommand({"curl", "-sf", url() + "/api/v1/query?query=" + metric});
        if (out.exitCode != 0) return false;
        auto json = nlohmann::json::parse(out.out, nullptr, false);
        return !json.is_discarded() && json["data"]["result"].size() == series;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(500));
}

nlohmann::json PrometheusServer::query(const std::string& promql) const {
  auto out = runCommand({"curl", "-sfG", url() + "/api/v1/query", "--data-urlencode",
                         "query=" + promql});
  if (out.exitCode != 0) return nlohmann::json::array();
  auto json = nlohmann::json::parse(out.out, nullptr, false);
  if (json.is_discarded() || !json.contains("data") || !json["data"]["result"].is_array()) {
    return nlohmann::json::array();
  }
  return json["data"]["result"];
}

std::string PrometheusServer::log() const { return readFile(dir_.file("prometheus.log")); }

std::string appErrorRatioMetricsSite(double errorRatio) {
  char value[32];
  std::snprintf(value, sizeof value, "%.4f", errorRatio);
  return "location = /metrics { default_type text/plain; return 200 \"# TYPE app_error_ratio "
         "gauge\\napp_error_ratio " +
         std::string(value) +
         "\\n# TYPE app_requests_total counter\\napp_requests_total 1000\\n\"; }\n";
}

const char* appErrorsCheckToml() {
  return R"([[check]]
name = "app_errors"
metric = "prometheus"
test = "mann_whitney"
query = 'max(app_error_ratio{host="{{host}}",instance=~"{{address}}:.*"})'
min_effect = 0.01
tier = "critical"
)";
}

}  // namespace rollgate::testing
