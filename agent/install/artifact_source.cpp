#include "agent/install/artifact_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "agent/curl/curl_library.h"
#include "common/sys/error.h"

namespace rollgate::install {

using curl::CurlLibrary;
using curl::curlGetStatus;
namespace {

struct FdCloser {
  void operator()(int* fd) const {
    if (*fd >= 0) ::close(*fd);
    delete fd;
  }
};
using UniqueFd = std::unique_ptr<int, FdCloser>;
UniqueFd makeFd(int fd) { return UniqueFd(new int(fd)); }


Status writeAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError(path + ": write: " + sys::errnoMessage(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<UniqueFd> openStaging(const std::string& path, uint64_t& size) {
  auto fd = makeFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (*fd < 0) return makeError(path + ": cannot open staging file: " + sys::errnoMessage(errno));
  struct stat st;
  if (::fstat(*fd, &st) != 0) return makeError(path + ": fstat: " + sys::errnoMessage(errno));
  size = static_cast<uint64_t>(st.st_size);
  return fd;
}

}  // namespace

bool FileSource::handles(std::string_view url) const { return url.starts_with("file://"); }

Status FileSource::fetch(const FetchRequest& request, const ProgressFn& progress,
                         const std::atomic<bool>& cancel) {
  std::string sourcePath = request.url.substr(std::strlen("file://"));
  auto in = makeFd(::open(sourcePath.c_str(), O_RDONLY | O_CLOEXEC));
  if (*in < 0) return makeError(request.url + ": cannot open: " + sys::errnoMessage(errno));
  struct stat st;
  if (::fstat(*in, &st) != 0) return makeError(request.url + ": fstat: " + sys::errnoMessage(errno));
  uint64_t total = static_cast<uint64_t>(st.st_size);
  uint64_t offset = 0;
  auto out = openStaging(request.stagingPath, offset);
  if (!out) return out.error();
  if (request.expectedBytes != 0 && total > request.expectedBytes) {
    total = request.expectedBytes;  // never copy more than announced; verification will fail
  }
  if (offset > total) {
    if (::ftruncate(**out, 0) != 0) {
      return makeError(request.stagingPath + ": truncate: " + sys::errnoMessage(errno));
    }
    offset = 0;
  }
  std::vector<char> buffer(1 << 20);
  if (progress) progress(offset, total);
  while (offset < total) {
    if (cancel.load()) return makeError("cancelled");
    size_t want = std::min<uint64_t>(buffer.size(), total - offset);
    ssize_t n = ::pread(*in, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError(request.url + ": read: " + sys::errnoMessage(errno));
    }
    if (n == 0) break;  // the source shrank; verification reports the short file
    if (auto s = writeAll(**out, buffer.data(), static_cast<size_t>(n), request.stagingPath); !s)
      return s;
    offset += static_cast<uint64_t>(n);
    if (progress) progress(offset, total);
  }
  return {};
}

bool HttpSource::handles(std::string_view url) const {
  return url.starts_with("http://") || url.starts_with("https://");
}

namespace {

struct HttpTransfer {
  int fd = -1;
  const CurlLibrary* lib = nullptr;
  CURL* curl = nullptr;
  const FetchRequest* request = nullptr;
  const ProgressFn* progress = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  uint64_t offset = 0;   // bytes in the staging file before this transfer
  uint64_t written = 0;  // bytes written by this transfer
  bool checkedStatus = false;
  std::string error;
};

size_t onData(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<HttpTransfer*>(user);
  size_t bytes = size * count;
  if (!t->checkedStatus) {
    t->checkedStatus = true;
    long code = 0;
    t->lib->easyGetinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    if (t->offset > 0 && code == 200) {  // server ignored the Range: start over
      if (::ftruncate(t->fd, 0) != 0) {
        t->error = t->request->stagingPath + ": truncate: " + sys::errnoMessage(errno);
        return 0;
      }
      t->offset = 0;
    }
  }
  if (t->request->expectedBytes != 0 &&
      t->offset + t->written + bytes > t->request->expectedBytes) {
    t->error = t->request->url + ": more data than the announced " +
               std::to_string(t->request->expectedBytes) + " bytes";
    return 0;
  }
  if (auto s = writeAll(t->fd, data, bytes, t->request->stagingPath); !s) {
    t->error = s.error().message;
    return 0;
  }
  t->written += bytes;
  return bytes;
}

int onProgress(void* user, curl_off_t dltotal, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<HttpTransfer*>(user);
  if (t->cancel->load()) {
    t->error = "cancelled";
    return 1;
  }
  if (*t->progress) {
    uint64_t total = t->request->expectedBytes != 0
                         ? t->request->expectedBytes
                         : (dltotal > 0 ? t->offset + static_cast<uint64_t>(dltotal) : 0);
    (*t->progress)(t->offset + t->written, total);
  }
  return 0;
}

}  // namespace

Status HttpSource::fetch(const FetchRequest& request, const ProgressFn& progress,
                         const std::atomic<bool>& cancel) {
  uint64_t offset = 0;
  auto out = openStaging(request.stagingPath, offset);
  if (!out) return out.error();
  if (request.expectedBytes != 0 && offset >= request.expectedBytes) {
    if (offset > request.expectedBytes && ::ftruncate(**out, 0) != 0) {
      return makeError(request.stagingPath + ": truncate: " + sys::errnoMessage(errno));
    }
    if (offset == request.expectedBytes) return {};  // already complete
    offset = 0;
  }
  auto lib = CurlLibrary::open();
  if (!lib) return makeError(request.url + ": " + lib.error().message);
  const CurlLibrary& api = **lib;
  CurlLibrary::Handle curl(api, api.easyInit());
  if (curl.get() == nullptr) return makeError(request.url + ": libcurl: curl_easy_init failed");
  HttpTransfer t;
  t.lib = &api;
  t.fd = **out;
  t.curl = curl.get();
  t.request = &request;
  t.progress = &progress;
  t.cancel = &cancel;
  t.offset = offset;
  char errorBuffer[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  api.easySetopt(c, CURLOPT_URL, request.url.c_str());
  api.easySetopt(c, CURLOPT_ERRORBUFFER, errorBuffer);
  api.easySetopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easySetopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  api.easySetopt(c, CURLOPT_MAXREDIRS, 5L);
  api.easySetopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easySetopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  api.easySetopt(c, CURLOPT_FAILONERROR, 1L);
  api.easySetopt(c, CURLOPT_CONNECTTIMEOUT, options_.connectTimeoutSeconds);
  api.easySetopt(c, CURLOPT_LOW_SPEED_LIMIT, options_.lowSpeedBytesPerSecond);
  api.easySetopt(c, CURLOPT_LOW_SPEED_TIME, options_.lowSpeedSeconds);
  api.easySetopt(c, CURLOPT_SSL_VERIFYPEER, options_.verifyPeer ? 1L : 0L);
  api.easySetopt(c, CURLOPT_SSL_VERIFYHOST, options_.verifyPeer ? 2L : 0L);
  if (!options_.caFile.empty()) api.easySetopt(c, CURLOPT_CAINFO, options_.caFile.c_str());
  // A plain Range header (not CURLOPT_RESUME_FROM, which fails outright when the server ignores
  // the range): a 206 appends, a 200 truncates the staging file and starts over (onData).
  std::string range = std::to_string(offset) + "-";
  if (offset > 0) api.easySetopt(c, CURLOPT_RANGE, range.c_str());
  api.easySetopt(c, CURLOPT_WRITEFUNCTION, onData);
  api.easySetopt(c, CURLOPT_WRITEDATA, &t);
  api.easySetopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
  api.easySetopt(c, CURLOPT_XFERINFODATA, &t);
  api.easySetopt(c, CURLOPT_NOPROGRESS, 0L);
  CURLcode rc = api.easyPerform(c);
  if (rc != CURLE_OK) {
    if (!t.error.empty()) return makeError(t.error);
    return makeError(request.url + ": " + (errorBuffer[0] ? errorBuffer : api.easyStrerror(rc)));
  }
  if (progress) progress(t.offset + t.written, request.expectedBytes);
  return {};
}

}  // namespace rollgate::install
