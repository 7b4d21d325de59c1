// Helpers shared by the console's integration tests: the [console] table for a LocalFleet, tokens
// issued through the real CLI, and HTTPS requests made with curl (a real client, TLS included).
// Thread-safety: none; one test thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/fleet/fleet.h"
#include "tests/support/fleet/process.h"

namespace rollgate::testing {

// coordinatorExtraToml for a fleet whose console listens on 127.0.0.1:`port`.
inline std::string consoleToml(int port, const std::string& extra = "") {
  return "heartbeat_seconds = 1\nhost_timeout_seconds = 4\n[console]\nenabled = true\n"
         "listen = \"127.0.0.1:" + std::to_string(port) + "\"\npublish_millis = 200\n" + extra;
}

// `rollgate console token`; the token's text ("" if the command failed).
inline std::string issueToken(const LocalFleet& fleet, const std::string& name,
                              const std::string& role, const std::string& ttl = "1h") {
  auto out = fleet.cli({"console", "token", "--operator", name, "--role", role, "--ttl", ttl,
                        "--json"});
  if (out.exitCode != 0) return "";
  auto doc = nlohmann::json::parse(out.out, nullptr, false);
  return doc.is_object() ? doc.value("token", std::string()) : "";
}

struct HttpAnswer {
  int status = 0;  // 0: no HTTP answer (curl failed)
  int curlExit = -1;
  std::string headers;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One request with curl against https://127.0.0.1:<port><path> (the self-signed certificate
// accepted), cookies kept in `jar` ("" for none), extra curl arguments in `extra`.
inline HttpAnswer https(int port, const std::string& path, const std::string& jar = "",
                        std::vector<std::string> extra = {}, const std::string& scheme = "https") {
  static int n = 0;
  TempDir tmp("rollgate-curl");
  std::string headers = tmp.file("headers" + std::to_string(++n));
  std::vector<std::string> argv = {"curl", "-sS", "-k", "--max-time", "30", "-D", headers,
                                   "-w", "\n%{http_code}"};
  if (!jar.empty()) {
    argv.insert(argv.end(), {"-b", jar, "-c", jar});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(scheme + "://127.0.0.1:" + std::to_string(port) + path);
  auto out = runCommand(argv);
  HttpAnswer answer;
  answer.curlExit = out.exitCode;
  auto cut = out.out.rfind('\n');
  if (cut != std::string::npos) {
    answer.body = out.out.substr(0, cut);
    answer.status = std::atoi(out.out.substr(cut + 1).c_str());
  }
  answer.headers = readFile(headers);
  return answer;
}

// POST of a JSON body, with X-CSRF-Token when `csrf` is not empty.
inline HttpAnswer postJson(int port, const std::string& path, const std::string& jar,
                           const std::string& body, const std::string& csrf = "") {
  std::vector<std::string> extra = {"-X", "POST", "-H", "Content-Type: application/json",
                                    "--data-binary", body};
  if (!csrf.empty()) extra.insert(extra.end(), {"-H", "X-CSRF-Token: " + csrf});
  return https(port, path, jar, extra);
}

}  // namespace rollgate::testing
