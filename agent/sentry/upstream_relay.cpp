#include "agent/sentry/upstream_relay.h"

#include <algorithm>

#include "common/check.h"

namespace rollgate::agent::sentry {

struct UpstreamRelay::Transfer {
  RelayItem item;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
  }
};

namespace {
std::size_t discardBody(char*, std::size_t size, std::size_t count, void*) { return size * count; }
}  // namespace

UpstreamRelay::UpstreamRelay(Done done) : multi_(curl_multi_init()), done_(std::move(done)) {
  ROLLGATE_CHECK(multi_ != nullptr, "curl_multi_init failed");
}

UpstreamRelay::~UpstreamRelay() {
  for (auto& t : transfers_) curl_multi_remove_handle(multi_, t->easy);
  transfers_.clear();
  curl_multi_cleanup(multi_);
}

void UpstreamRelay::send(RelayItem item, const DsnTarget& target) {
  auto t = std::make_unique<Transfer>();
  t->item = std::move(item);
  t->easy = curl_easy_init();
  ROLLGATE_CHECK(t->easy != nullptr, "curl_easy_init failed");
  std::string url = t->item.store ? target.storeUrl() : target.envelopeUrl();
  t->headers = curl_slist_append(t->headers, t->item.store
                                                 ? "Content-Type: application/json"
                                                 : "Content-Type: application/x-sentry-envelope");
  if (!t->item.contentEncoding.empty()) {
    t->headers =
        curl_slist_append(t->headers, ("Content-Encoding: " + t->item.contentEncoding).c_str());
  }
  std::string auth = "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=rollgate-agent/1, "
                     "sentry_key=" + target.key;
  t->headers = curl_slist_append(t->headers, auth.c_str());
  t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(t->easy, CURLOPT_URL, url.c_str());  // curl copies the URL
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->item.body.data());
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(t->item.body.size()));
  curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, kRelayTimeoutSeconds);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, &discardBody);
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t.get());
  curl_multi_add_handle(multi_, t->easy);
  transfers_.push_back(std::move(t));
}

void UpstreamRelay::poll(const std::vector<int>& fds, int timeoutMillis) {
  std::vector<curl_waitfd> extra;
  for (int fd : fds) extra.push_back(curl_waitfd{fd, CURL_WAIT_POLLIN, 0});
  curl_multi_poll(multi_, extra.data(), static_cast<unsigned>(extra.size()), timeoutMillis,
                  nullptr);
}

void UpstreamRelay::wakeup() { curl_multi_wakeup(multi_); }

void UpstreamRelay::perform() {
  int running = 0;
  curl_multi_perform(multi_, &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    auto it = std::find_if(transfers_.begin(), transfers_.end(),
                           [&](const auto& t) { return t->easy == easy; });
    ROLLGATE_CHECK(it != transfers_.end(), "curl finished a transfer the relay does not own");
    std::string error = code != CURLE_OK ? (*(*it)->error != '\0' ? std::string((*it)->error)
                                                                    : curl_easy_strerror(code))
                                         : std::string();
    bool ok = code == CURLE_OK && status >= 200 && status < 300;
    std::string service = (*it)->item.service;
    curl_multi_remove_handle(multi_, easy);
    transfers_.erase(it);
    done_(service, ok, status, error);
  }
}

}  // namespace rollgate::agent::sentry
