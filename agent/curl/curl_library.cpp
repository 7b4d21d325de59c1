#include "agent/curl/curl_library.h"

#include <dlfcn.h>

namespace rollgate::curl {
namespace {

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& out, std::string& missing) {
  out = reinterpret_cast<Fn>(::dlsym(handle, name));
  if (out == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
  return out != nullptr;
}

}  // namespace

Result<std::unique_ptr<CurlLibrary>> CurlLibrary::open() {
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return makeError(std::string("cannot load ") + kSoname +
                     " (needed for http(s):// artifact sources, https:// health URLs and the "
                     "Sentry relay; Debian package libcurl4): " +
                     (why != nullptr ? why : "unknown dlopen error"));
  }
  std::unique_ptr<CurlLibrary> lib(new CurlLibrary());
  lib->handle_ = handle;
  std::string missing;
  resolve(handle, "curl_easy_init", lib->easyInit, missing);
  resolve(handle, "curl_easy_cleanup", lib->easyCleanup, missing);
  resolve(handle, "curl_easy_setopt", lib->easySetopt, missing);
  resolve(handle, "curl_easy_perform", lib->easyPerform, missing);
  resolve(handle, "curl_easy_getinfo", lib->easyGetinfo, missing);
  resolve(handle, "curl_easy_strerror", lib->easyStrerror, missing);
  resolve(handle, "curl_slist_append", lib->slistAppend, missing);
  resolve(handle, "curl_slist_free_all", lib->slistFreeAll, missing);
  resolve(handle, "curl_multi_init", lib->multiInit, missing);
  resolve(handle, "curl_multi_cleanup", lib->multiCleanup, missing);
  resolve(handle, "curl_multi_add_handle", lib->multiAddHandle, missing);
  resolve(handle, "curl_multi_remove_handle", lib->multiRemoveHandle, missing);
  resolve(handle, "curl_multi_perform", lib->multiPerform, missing);
  resolve(handle, "curl_multi_poll", lib->multiPoll, missing);
  resolve(handle, "curl_multi_wakeup", lib->multiWakeup, missing);
  resolve(handle, "curl_multi_info_read", lib->multiInfoRead, missing);
  if (!missing.empty()) {
    return makeError(std::string(kSoname) + " lacks the functions " + missing);
  }
  return lib;
}

CurlLibrary::~CurlLibrary() {
  if (handle_ != nullptr) ::dlclose(handle_);  // RTLD_NODELETE: stays mapped
}

namespace {

// One request whose response body is discarded: its HTTP status, or what failed, naming `url`.
// `configure(handle)` sets what differs between requests (method, headers, body); what it points
// to must outlive this call.
template <typename Configure>
Result<long> statusOf(const CurlLibrary& curl, const std::string& url, long timeoutMillis,
                      Configure&& configure) {
  CurlLibrary::Handle handle(curl, curl.easyInit());
  if (handle.get() == nullptr) return makeError(url + ": libcurl: curl_easy_init failed");
  CURL* c = handle.get();
  char errorBuffer[CURL_ERROR_SIZE] = {0};
  curl.easySetopt(c, CURLOPT_URL, url.c_str());
  curl.easySetopt(c, CURLOPT_ERRORBUFFER, errorBuffer);
  curl.easySetopt(c, CURLOPT_NOSIGNAL, 1L);
  curl.easySetopt(c, CURLOPT_TIMEOUT_MS, timeoutMillis);
  curl.easySetopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easySetopt(
      c, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t count, void*) -> size_t { return size * count; });
  configure(c);
  CURLcode rc = curl.easyPerform(c);
  if (rc != CURLE_OK) {
    return makeError(url + ": " + (errorBuffer[0] ? errorBuffer : curl.easyStrerror(rc)));
  }
  long code = 0;
  curl.easyGetinfo(c, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

}  // namespace

Result<long> curlGetStatus(const std::string& url, long timeoutMillis) {
  auto lib = CurlLibrary::open();
  if (!lib) return makeError(url + ": " + lib.error().message);
  return statusOf(**lib, url, timeoutMillis, [](CURL*) {});
}

Result<long> curlPostStatus(const std::string& url, const std::vector<std::string>& headers,
                            const std::string& body, long timeoutMillis) {
  auto lib = CurlLibrary::open();
  if (!lib) return makeError(url + ": " + lib.error().message);
  const CurlLibrary& curl = **lib;
  struct HeaderList {
    const CurlLibrary& curl;
    curl_slist* list = nullptr;
    ~HeaderList() {
      if (list != nullptr) curl.slistFreeAll(list);
    }
  } list{curl};
  for (const auto& header : headers) list.list = curl.slistAppend(list.list, header.c_str());
  return statusOf(curl, url, timeoutMillis, [&](CURL* c) {
    curl.easySetopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeoutMillis);
    curl.easySetopt(c, CURLOPT_HTTPHEADER, list.list);
    curl.easySetopt(c, CURLOPT_POSTFIELDS, body.data());
    curl.easySetopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  });
}

}  // namespace rollgate::curl
