#include "cli/admin_client.h"

#include <CLI/CLI.hpp>
#include <sodium.h>

#include <cstdlib>
#include <zmq.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/codec.h"
#include "common/keys.h"
#include "common/transport.h"

namespace rollgate::cli {

void addAdminOptions(CLI::App& app, AdminOptions& options) {
  if (const char* v = std::getenv("ROLLGATE_ADMIN")) options.endpoint = v;
  if (const char* v = std::getenv("ROLLGATE_KEY")) options.keyFile = v;
  if (const char* v = std::getenv("ROLLGATE_COORDINATOR_KEY")) options.coordinatorKeyFile = v;
  app.add_option("--admin", options.endpoint,
                 "coordinator admin endpoint ($ROLLGATE_ADMIN)")
      ->capture_default_str();
  app.add_option("--key", options.keyFile, "operator secret key file ($ROLLGATE_KEY)")
      ->capture_default_str();
  app.add_option("--coordinator-key", options.coordinatorKeyFile,
                 "coordinator public key file ($ROLLGATE_COORDINATOR_KEY)")
      ->capture_default_str();
  app.add_option("--timeout", options.timeoutSeconds,
                 "seconds to wait for the coordinator's answer (also for abort and revert, which "
                 "otherwise wait longer)")
      ->capture_default_str()
      ->each([&options](const std::string&) { options.timeoutGiven = true; });
}

struct AdminClient::Impl {
  AdminOptions options;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> socket;
  std::uint64_t nextRequestId = 0;
};

AdminClient::AdminClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminClient::~AdminClient() {
  if (impl_) {
    impl_->socket.reset();
    impl_->context.shutdown();
  }
}

Result<std::unique_ptr<AdminClient>> AdminClient::connect(const AdminOptions& options) {
  auto secret = readKeyFile(options.keyFile);
  if (!secret) return makeError("operator key: " + secret.error().message);
  auto publicKey = publicKeyFromSecret(*secret);
  if (!publicKey) return makeError("operator key " + options.keyFile + ": " + publicKey.error().message);
  auto serverKey = readKeyFile(options.coordinatorKeyFile);
  if (!serverKey) return makeError("coordinator public key: " + serverKey.error().message);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->nextRequestId = randombytes_random() | (std::uint64_t{randombytes_random()} << 32);
  try {
    impl->socket = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::dealer);
    configureCurveClient(*impl->socket, *secret, *publicKey, *serverKey, kMaxAdminReplyBytes);
    impl->socket->connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    return makeError("cannot connect to coordinator admin endpoint " + options.endpoint + ": " +
                     e.what());
  }
  return std::unique_ptr<AdminClient>(new AdminClient(std::move(impl)));
}

Result<AdminReply> AdminClient::call(AdminRequest request,
                                     const std::function<void(const AdminReply&)>& onProgress) {
  auto timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(impl_->options.timeoutSeconds * 1000));
  return call(std::move(request), timeout, onProgress);
}

Result<AdminReply> AdminClient::call(AdminRequest request, std::chrono::milliseconds timeout,
                                     const std::function<void(const AdminReply&)>& onProgress) {
  request.requestId = ++impl_->nextRequestId;
  std::string payload = encode(request);
  try {
    impl_->socket->send(zmq::buffer(payload), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    return makeError("cannot send to coordinator " + impl_->options.endpoint + ": " + e.what());
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    zmq::pollitem_t item{impl_->socket->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, left);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return makeError("interrupted");
      return makeError(std::string("poll: ") + e.what());
    }
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t frame;
    if (!impl_->socket->recv(frame, zmq::recv_flags::dontwait)) continue;
    auto reply = decodeAdminReply(
        Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
    if (!reply) return makeError("bad reply from coordinator: " + reply.error().message);
    if (reply->requestId != request.requestId && reply->requestId != 0) continue;  // stale
    if (!reply->final) {
      if (onProgress) onProgress(*reply);
      deadline = std::chrono::steady_clock::now() + timeout;  // progress extends the deadline
      continue;
    }
    return std::move(*reply);
  }
  return makeError("no reply from the coordinator at " + impl_->options.endpoint + " within " +
                   std::to_string(timeout.count() / 1000.0).substr(0, 4) +
                   " s (is rollgate-coordinator running there, and is the key " +
                   impl_->options.keyFile + " in its admins.d allowlist?)");
}

AdminReply callAdminOrExit(const AdminOptions& admin, AdminRequest request,
                           std::chrono::milliseconds timeout) {
  auto client = AdminClient::connect(admin);
  if (!client) fail(kExitUnavailable, client.error().message);
  // A command's own, longer wait gives way to an explicit --timeout.
  if (admin.timeoutGiven) timeout = std::chrono::milliseconds(0);
  auto reply = timeout.count() > 0 ? (*client)->call(std::move(request), timeout)
                                   : (*client)->call(std::move(request));
  if (!reply) fail(kExitUnavailable, reply.error().message);
  if (const auto* error = std::get_if<AdminError>(&reply->body)) fail(kExitFailure, error->message);
  return std::move(*reply);
}

nlohmann::json replyDocumentOrExit(const AdminReply& reply, const std::string& what) {
  const auto* doc = std::get_if<JsonDocument>(&reply.body);
  if (doc == nullptr) fail(kExitFailure, "unexpected reply to " + what + " (not a JSON document)");
  auto parsed = nlohmann::json::parse(doc->text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    fail(kExitFailure, "the coordinator's reply to " + what + " is not a JSON object");
  }
  return parsed;
}

void printOkOrExit(const AdminReply& reply, bool asJson, const std::string& what) {
  const auto* ok = std::get_if<AdminOk>(&reply.body);
  if (ok == nullptr) fail(kExitFailure, "unexpected reply to " + what);
  if (asJson) {
    std::printf("%s\n", nlohmann::json{{"ok", true}, {"message", ok->message}}.dump(2).c_str());
  } else {
    std::printf("%s\n", ok->message.c_str());
  }
}

Status enrollHost(const AdminOptions& options, const std::string& name,
                  const std::string& publicKeyZ85) {
  auto client = AdminClient::connect(options);
  if (!client) return client.error();
  AdminRequest request;
  request.body = EnrollHost{name, publicKeyZ85};
  auto reply = (*client)->call(request);
  if (!reply) return reply.error();
  if (const auto* error = std::get_if<AdminError>(&reply->body)) return makeError(error->message);
  return {};
}

}  // namespace rollgate::cli
