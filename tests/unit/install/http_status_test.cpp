// The health probe's URL and status-line parsers (agent/install/http_status.h): pure, no socket.
#include "agent/install/http_status.h"

#include <doctest/doctest.h>

using namespace rollgate;
using namespace rollgate::install;

TEST_CASE("health URLs: host, port and target; bad ones name the URL and the reason") {
  struct Row {
    const char* url;
    HttpUrl expected;
  };
  const Row good[] = {
      {"http://127.0.0.1/health", {"127.0.0.1", 80, "/health"}},
      {"http://localhost:8080/health?deep=1", {"localhost", 8080, "/health?deep=1"}},
      {"http://web.internal", {"web.internal", 80, "/"}},
      {"http://[::1]:9000/ready", {"::1", 9000, "/ready"}},
      {"http://[::1]/", {"::1", 80, "/"}},
      {"http://h:81?x=1", {"h", 81, "/?x=1"}},
      {"http://h/p#fragment", {"h", 80, "/p"}},
  };
  for (const auto& row : good) {
    CAPTURE(row.url);
    auto u = parseHttpUrl(row.url);
    REQUIRE_MESSAGE(u.ok(), u.error().message);
    CHECK(*u == row.expected);
  }
  struct Bad {
    const char* url;
    const char* reason;
  };
  const Bad bad[] = {
      {"https://h/", "expected http://host[:port]/path"},
      {"ftp://h/", "expected http://host[:port]/path"},
      {"http:///health", "empty host"},
      {"http://user:pw@h/", "user info is not supported"},
      {"http://h:0/", "port '0' is not a number from 1 to 65535"},
      {"http://h:65536/", "port '65536' is not a number from 1 to 65535"},
      {"http://h:8o/", "port '8o' is not a number from 1 to 65535"},
      {"http://h:/", "port '' is not a number from 1 to 65535"},
      {"http://[::1/", "unclosed '['"},
  };
  for (const auto& row : bad) {
    CAPTURE(row.url);
    auto u = parseHttpUrl(row.url);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().message.find(std::string("URL '") + row.url + "'") != std::string::npos);
    CHECK(u.error().message.find(row.reason) != std::string::npos);
  }
}

TEST_CASE("status lines: the code of HTTP/1.0, 1.1 and 2; anything else is quoted") {
  CHECK(*parseHttpStatusLine("HTTP/1.1 200 OK") == 200);
  CHECK(*parseHttpStatusLine("HTTP/1.0 503 Service Unavailable") == 503);
  CHECK(*parseHttpStatusLine("HTTP/1.1 204") == 204);
  CHECK(*parseHttpStatusLine("HTTP/2 404 ") == 404);
  for (const char* line : {"", "SSH-2.0-OpenSSH_9.2", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK",
                           "HTTP/1.1 abc OK", "HTTP/1.1"}) {
    CAPTURE(line);
    auto s = parseHttpStatusLine(line);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message == std::string("not an HTTP status line: '") + line + "'");
  }
}
