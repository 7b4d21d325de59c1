#include "tests/support/fleet/webhook_receiver.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>

#include "tests/support/fleet/process.h"

namespace rollgate::testing {

std::string opensslHmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", mac[i]);
    hex += byte;
  }
  return hex;
}

WebhookReceiver::WebhookReceiver(std::string secret, int port)
    : secret_(std::move(secret)), server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  server_->Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
    ReceivedWebhook got;
    got.at = std::chrono::steady_clock::now();
    got.event = request.get_header_value("X-Rollgate-Event");
    got.delivery = request.get_header_value("X-Rollgate-Delivery");
    got.body = request.body;
    got.json = nlohmann::json::parse(request.body, nullptr, false);
    std::string timestamp = request.get_header_value("X-Rollgate-Timestamp");
    std::string signature = request.get_header_value("X-Rollgate-Signature");
    long long sent = std::atoll(timestamp.c_str());
    long long now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    got.signatureValid = !timestamp.empty() && std::llabs(now - sent) <= 300 &&
                         signature == "sha256=" + opensslHmacSha256Hex(
                                                      secret_, timestamp + "." + request.body);
    std::unique_lock lock(mutex_);
    if (holdNext_) {
      holdNext_ = false;
      holding_ = true;
      released_.wait(lock, [this] { return !holding_ || stopping_; });
    }
    if (failures_ > 0) {
      --failures_;
      got.answered = failStatus_;
    } else {
      got.answered = got.signatureValid ? 200 : 401;
    }
    response.status = got.answered;
    response.set_content(got.answered == 200 ? "ok\n" : "refused\n", "text/plain");
    received_.push_back(std::move(got));
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else if (server_->bind_to_port("127.0.0.1", port)) {
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  waitUntil([this] { return server_->is_running(); }, std::chrono::seconds(10),
            std::chrono::milliseconds(1));
}

WebhookReceiver::~WebhookReceiver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  released_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void WebhookReceiver::failNext(int count, int status) {
  std::lock_guard lock(mutex_);
  failures_ = count;
  failStatus_ = status;
}

void WebhookReceiver::holdNext() {
  std::lock_guard lock(mutex_);
  holdNext_ = true;
}

void WebhookReceiver::release() {
  {
    std::lock_guard lock(mutex_);
    holding_ = false;
  }
  released_.notify_all();
}

std::vector<ReceivedWebhook> WebhookReceiver::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::vector<ReceivedWebhook> WebhookReceiver::accepted() const {
  std::vector<ReceivedWebhook> out;
  for (auto& r : received()) {
    if (r.answered >= 200 && r.answered < 300) out.push_back(std::move(r));
  }
  return out;
}

bool WebhookReceiver::waitForAccepted(std::size_t count, std::chrono::milliseconds timeout) const {
  return waitUntil([&] { return accepted().size() >= count; }, timeout);
}

bool WebhookReceiver::waitForHeld(std::chrono::milliseconds timeout) const {
  return waitUntil(
      [&] {
        std::lock_guard lock(mutex_);
        return holding_;
      },
      timeout);
}

}  // namespace rollgate::testing
