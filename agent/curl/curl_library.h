// libcurl, loaded when an https:// (or http://) artifact source, an https:// health URL or a
// Sentry relay (agent/sentry) is first used instead of linked: a linked libcurl maps its TLS, LDAP, SSH, RTMP, IDN and HTTP/2 libraries
// (about 3 MB of the agent's resident memory) into every agent, although most fleets fetch
// artifacts from the coordinator and probe health over plain http://. Once loaded it stays loaded
// (RTLD_NODELETE): unloading libcurl safely would need curl_global_cleanup, which is not
// thread-safe.
//
// Thread-safety: a CurlLibrary is an immutable table of functions; open() is thread-safe.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace rollgate::curl {

class CurlLibrary {
 public:
  // The library name dlopen is given (the soname of Debian's libcurl4 package).
  static constexpr const char* kSoname = "libcurl.so.4";

  // Loads libcurl (once per process; later calls give the same table). An error names the library, dlopen's reason and the package that provides it.
  static Result<std::unique_ptr<CurlLibrary>> open();
  ~CurlLibrary();
  CurlLibrary(const CurlLibrary&) = delete;
  CurlLibrary& operator=(const CurlLibrary&) = delete;

  CURL* (*easyInit)() = nullptr;
  void (*easyCleanup)(CURL*) = nullptr;
  CURLcode (*easySetopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easyPerform)(CURL*) = nullptr;
  CURLcode (*easyGetinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easyStrerror)(CURLcode) = nullptr;
  curl_slist* (*slistAppend)(curl_slist*, const char*) = nullptr;
  void (*slistFreeAll)(curl_slist*) = nullptr;
  CURLM* (*multiInit)() = nullptr;
  CURLMcode (*multiCleanup)(CURLM*) = nullptr;
  CURLMcode (*multiAddHandle)(CURLM*, CURL*) = nullptr;
  CURLMcode (*multiRemoveHandle)(CURLM*, CURL*) = nullptr;
  CURLMcode (*multiPerform)(CURLM*, int*) = nullptr;
  CURLMcode (*multiPoll)(CURLM*, curl_waitfd*, unsigned, int, int*) = nullptr;
  CURLMcode (*multiWakeup)(CURLM*) = nullptr;
  CURLMsg* (*multiInfoRead)(CURLM*, int*) = nullptr;

  // An easy handle cleaned up by this library's curl_easy_cleanup.
  struct Handle {
    Handle(const CurlLibrary& lib, CURL* curl) : lib_(lib), curl_(curl) {}
    ~Handle() {
      if (curl_ != nullptr) lib_.easyCleanup(curl_);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    CURL* get() const { return curl_; }

   private:
    const CurlLibrary& lib_;
    CURL* curl_;
  };

 private:
  CurlLibrary() = default;
  void* handle_ = nullptr;
};

// One GET through libcurl (loaded for the call): the status code, or an error naming the URL.
Result<long> curlGetStatus(const std::string& url, long timeoutMillis);
// One POST of `body` with `headers` ("Name: value" lines) through libcurl (loaded for the call):
// the status code, or an error naming the URL (the coordinator's webhooks). The answer's body is
// read and discarded.
Result<long> curlPostStatus(const std::string& url, const std::vector<std::string>& headers,
                            const std::string& body, long timeoutMillis);

}  // namespace rollgate::curl
