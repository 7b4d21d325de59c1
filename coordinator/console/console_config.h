// The web console's configuration: coordinator.toml's [console] table (docs/console.md).
// The console is off unless `enabled = true`. It binds loopback by default and serves HTTPS with
// the certificate and key named here, or with a self-signed pair it generates in the state
// directory at first start. Plain HTTP is allowed only on a loopback address, for development.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"

namespace rollgate::console {

struct ConsoleConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:7443";  // HOST:PORT (IPv4 or a name; [v6]:PORT)
  bool plainHttp = false;                 // loopback only (development)
  std::string certFile;                   // PEM chain; "" with keyFile "": self-signed
  std::string keyFile;                    // PEM private key
  std::int64_t threads = 48;              // connections served at once (server-sent event
                                          // streams hold one each; 8 are kept for requests)
  std::int64_t maxRequestBytes = 65536;   // a request body larger than this is refused (413)
  std::int64_t timeoutSeconds = 10;       // read and write timeout of a connection
  std::int64_t sessionMinutes = 480;      // a sign-in lasts this long (at most the token's life)
  std::int64_t publishMillis = 500;       // how often the loop publishes what the pages show
  // Where operators open this console (http:// or https://, e.g. behind a load balancer). "": the
  // listen address, with this machine's name for a wildcard host. Coordinators sharing
  // PostgreSQL publish it, and a standby's console sends operators to the leader's.
  std::string publicUrl;
};

// Reads [console] into `config`; errors go to the reader (naming the key and the value).
void readConsoleConfig(ConfigReader& table, ConsoleConfig& config);

// HOST and PORT of a listen address; false when it is not HOST:PORT with a port in 1..65535.
bool splitListen(const std::string& listen, std::string& host, int& port);
// True for 127.0.0.0/8, ::1 and "localhost".
bool isLoopbackHost(const std::string& host);
// The console's URL at HOST and PORT, ending in "/" (http:// with plain_http, an IPv6 host in
// brackets).
std::string urlOf(const ConsoleConfig& config, const std::string& host, int port);
// The console's address for operators, ending in "/": public_url, or the listen address (a
// wildcard host such as 0.0.0.0 replaced by this machine's name). "" when the console is off.
std::string advertisedUrl(const ConsoleConfig& config);

}  // namespace rollgate::console
