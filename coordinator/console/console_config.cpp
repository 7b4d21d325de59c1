#include "coordinator/console/console_config.h"

#include <arpa/inet.h>
#include <unistd.h>

namespace rollgate::console {

bool splitListen(const std::string& listen, std::string& host, int& port) {
  std::string portText;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return false;
    }
    host = listen.substr(1, close - 1);
    portText = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = listen.substr(0, colon);
    portText = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;
  }
  if (portText.empty() || portText.size() > 5) return false;
  for (char c : portText) {
    if (c < '0' || c > '9') return false;
  }
  port = std::stoi(portText);
  return port >= 1 && port <= 65535;
}

bool isLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

void readConsoleConfig(ConfigReader& table, ConsoleConfig& config) {
  table.get("enabled", config.enabled);
  table.get("listen", config.listen);
  table.get("plain_http", config.plainHttp);
  table.get("cert", config.certFile);
  table.get("key", config.keyFile);
  table.get("threads", config.threads, 4, 1024);
  table.get("max_request_bytes", config.maxRequestBytes, 1024, 16 * 1024 * 1024);
  table.get("timeout_seconds", config.timeoutSeconds, 1, 600);
  table.get("session_minutes", config.sessionMinutes, 1, 7 * 24 * 60);
  table.get("publish_millis", config.publishMillis, 50, 60'000);
  table.get("public_url", config.publicUrl);
  if (!config.publicUrl.empty() &&
      ((config.publicUrl.rfind("https://", 0) != 0 && config.publicUrl.rfind("http://", 0) != 0) ||
       config.publicUrl.find_first_of(" \t\r\n\"<>") != std::string::npos)) {
    table.fail("public_url",
               "expected an http:// or https:// URL without spaces or quotes, got \"" +
                   config.publicUrl + "\"");
  }
  std::string host;
  int port = 0;
  if (!splitListen(config.listen, host, port)) {
    table.fail("listen", "expected HOST:PORT (e.g. 127.0.0.1:7443), got \"" + config.listen + "\"");
  } else if (config.plainHttp && !isLoopbackHost(host)) {
    table.fail("plain_http", "plain HTTP is allowed only on a loopback address; listen is \"" +
                                 config.listen + "\" (give cert and key, or none for a self-signed "
                                 "pair)");
  }
  if (config.certFile.empty() != config.keyFile.empty()) {
    table.fail(config.certFile.empty() ? "cert" : "key",
               "cert and key go together (both, or neither for a self-signed pair); got cert = \"" +
                   config.certFile + "\", key = \"" + config.keyFile + "\"");
  }
}

std::string urlOf(const ConsoleConfig& config, const std::string& host, int port) {
  std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(config.plainHttp ? "http" : "https") + "://" + shown + ":" +
         std::to_string(port) + "/";
}

std::string advertisedUrl(const ConsoleConfig& config) {
  if (!config.enabled) return "";
  if (!config.publicUrl.empty()) {
    return config.publicUrl.back() == '/' ? config.publicUrl : config.publicUrl + "/";
  }
  std::string host;
  int port = 0;
  if (!splitListen(config.listen, host, port)) return "";
  if (host == "0.0.0.0" || host == "::" || host == "*") {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') host = name;
  }
  return urlOf(config, host, port);
}

}  // namespace rollgate::console
