// WebhookReceiver: a real HTTP server (cpp-httplib) on a loopback port that receives the
// coordinator's webhooks the way a team's endpoint would: it checks each delivery's signature
// (HMAC-SHA256 over "<timestamp>.<body>", computed here with OpenSSL, independently of the
// coordinator's code) and the timestamp's freshness, and records what arrived and when. It can
// answer the first N deliveries with an error status, and hold the first delivery until released
// (to fill the sender's queue behind it).
// Thread-safety: every method may be called from any thread; requests are served on the
// server's threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace rollgate::testing {

struct ReceivedWebhook {
  std::chrono::steady_clock::time_point at;
  std::string event;     // X-Rollgate-Event
  std::string delivery;  // X-Rollgate-Delivery
  std::string body;
  nlohmann::json json;  // the body parsed (discarded when not JSON)
  bool signatureValid = false;  // signature matches and timestamp within 5 minutes
  int answered = 0;             // the status this receiver answered
};

class WebhookReceiver {
 public:
  // Serves on 127.0.0.1:`port` (0: a free port), checking signatures with `secret`.
  WebhookReceiver(std::string secret, int port = 0);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // The next `count` deliveries are answered `status` (e.g. 500).
  void failNext(int count, int status = 500);
  // The next delivery is held (not answered) until release().
  void holdNext();
  void release();
  // Every delivery so far (failed ones too), in arrival order.
  std::vector<ReceivedWebhook> received() const;
  // Those answered 2xx.
  std::vector<ReceivedWebhook> accepted() const;
  // Waits until `count` deliveries were accepted (polls; a generous bound, not a time limit).
  bool waitForAccepted(std::size_t count,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // Waits until a held delivery has arrived.
  bool waitForHeld(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  std::string secret_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::vector<ReceivedWebhook> received_;
  int failures_ = 0;
  int failStatus_ = 500;
  bool holdNext_ = false;
  bool holding_ = false;
  bool stopping_ = false;
};

// HMAC-SHA256 of `data` with `key`, lower-case hex (OpenSSL).
std::string opensslHmacSha256Hex(const std::string& key, const std::string& data);

}  // namespace rollgate::testing
