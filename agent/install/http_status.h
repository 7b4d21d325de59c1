// The health probe's request: one HTTP GET whose status code is all that matters. http:// URLs go
// over a plain socket (no libcurl in the agent's steady state: the probe runs after every restart
// and a linked libcurl maps about 3 MB of its own libraries, TLS and LDAP included); https:// URLs
// load libcurl for that one request (CurlLibrary).
//
// The URL and status-line parsers are pure and tested with tables; httpGetStatus does the I/O.
// Thread-safety: every function is thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rollgate::install {

struct HttpUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 80;
  std::string target;  // path and query, "/" when the URL has none
  bool operator==(const HttpUrl&) const = default;
};

// "http://host[:port][/path]" -> its parts. An error names the URL and what is wrong with it
// (another scheme, user info, an empty host, a port that is not 1..65535).
Result<HttpUrl> parseHttpUrl(std::string_view url);

// "HTTP/1.1 204 No Content" (the first line of a response, without its CRLF) -> 204. An error
// quotes the line.
Result<long> parseHttpStatusLine(std::string_view line);

// One GET; the response's status code, or an error naming the URL when nothing answered within
// `timeoutMillis` (connect, send and the status line together) or the answer was not HTTP.
Result<long> httpGetStatus(const std::string& url, long timeoutMillis);

}  // namespace rollgate::install
