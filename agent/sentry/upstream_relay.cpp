#include "agent/sentry/upstream_relay.h"

#include <algorithm>

#include "common/check.h"

namespace rollgate::agent::sentry {

struct UpstreamRelay::Transfer {
  const curl::CurlLibrary* curl = nullptr;
  RelayItem item;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~Transfer() {
    if (easy != nullptr) curl->easyCleanup(easy);
    if (headers != nullptr) curl->slistFreeAll(headers);
  }
};

namespace {
std::size_t discardBody(char*, std::size_t size, std::size_t count, void*) { return size * count; }
}  // namespace

UpstreamRelay::UpstreamRelay(const curl::CurlLibrary& curl, Done done)
    : curl_(curl), multi_(curl.multiInit()), done_(std::move(done)) {
  ROLLGATE_CHECK(multi_ != nullptr, "curl_multi_init failed");
}

UpstreamRelay::~UpstreamRelay() {
  for (auto& t : transfers_) curl_.multiRemoveHandle(multi_, t->easy);
  transfers_.clear();
  curl_.multiCleanup(multi_);
}

void UpstreamRelay::send(RelayItem item, const DsnTarget& target) {
  auto t = std::make_unique<Transfer>();
  t->curl = &curl_;
  t->item = std::move(item);
  t->easy = curl_.easyInit();
  ROLLGATE_CHECK(t->easy != nullptr, "curl_easy_init failed");
  std::string url = t->item.store ? target.storeUrl() : target.envelopeUrl();
  t->headers = curl_.slistAppend(t->headers, t->item.store
                                                 ? "Content-Type: application/json"
                                                 : "Content-Type: application/x-sentry-envelope");
  if (!t->item.contentEncoding.empty()) {
    t->headers =
        curl_.slistAppend(t->headers, ("Content-Encoding: " + t->item.contentEncoding).c_str());
  }
  std::string auth = "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=rollgate-agent/1, "
                     "sentry_key=" + target.key;
  t->headers = curl_.slistAppend(t->headers, auth.c_str());
  t->headers = curl_.slistAppend(t->headers, "Expect:");
  curl_.easySetopt(t->easy, CURLOPT_URL, url.c_str());  // curl copies the URL
  curl_.easySetopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  curl_.easySetopt(t->easy, CURLOPT_POST, 1L);
  curl_.easySetopt(t->easy, CURLOPT_POSTFIELDS, t->item.body.data());
  curl_.easySetopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(t->item.body.size()));
  curl_.easySetopt(t->easy, CURLOPT_TIMEOUT, kRelayTimeoutSeconds);
  curl_.easySetopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_.easySetopt(t->easy, CURLOPT_WRITEFUNCTION, &discardBody);
  curl_.easySetopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
  curl_.easySetopt(t->easy, CURLOPT_PRIVATE, t.get());
  curl_.multiAddHandle(multi_, t->easy);
  transfers_.push_back(std::move(t));
}

void UpstreamRelay::poll(const std::vector<int>& fds, int timeoutMillis) {
  std::vector<curl_waitfd> extra;
  for (int fd : fds) extra.push_back(curl_waitfd{fd, CURL_WAIT_POLLIN, 0});
  curl_.multiPoll(multi_, extra.data(), static_cast<unsigned>(extra.size()), timeoutMillis,
                  nullptr);
}

void UpstreamRelay::wakeup() { curl_.multiWakeup(multi_); }

void UpstreamRelay::perform() {
  int running = 0;
  curl_.multiPerform(multi_, &running);
  int left = 0;
  while (CURLMsg* msg = curl_.multiInfoRead(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    long status = 0;
    curl_.easyGetinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    auto it = std::find_if(transfers_.begin(), transfers_.end(),
                           [&](const auto& t) { return t->easy == easy; });
    ROLLGATE_CHECK(it != transfers_.end(), "curl finished a transfer the relay does not own");
    std::string error = code != CURLE_OK ? (*(*it)->error != '\0' ? std::string((*it)->error)
                                                                    : curl_.easyStrerror(code))
                                         : std::string();
    bool ok = code == CURLE_OK && status >= 200 && status < 300;
    std::string service = (*it)->item.service;
    curl_.multiRemoveHandle(multi_, easy);
    transfers_.erase(it);
    done_(service, ok, status, error);
  }
}

}  // namespace rollgate::agent::sentry
