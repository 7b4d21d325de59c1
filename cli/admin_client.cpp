#include "cli/admin_client.h"

#include <CLI/CLI.hpp>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>
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
                 "coordinator admin endpoint, or several separated by commas when coordinators "
                 "share PostgreSQL ($ROLLGATE_ADMIN)")
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
  std::vector<std::string> endpoints;  // --admin, split at commas
  std::size_t current = 0;             // the one that answered last (the leader, with several)
  std::string secretKey, publicKey, serverKey;
  zmq::context_t context{1};
  std::map<std::string, std::unique_ptr<zmq::socket_t>> sockets;
  std::uint64_t nextRequestId = 0;

  zmq::socket_t& socketFor(const std::string& endpoint) {
    auto& socket = sockets[endpoint];
    if (!socket) {
      socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
      configureCurveClient(*socket, secretKey, publicKey, serverKey, kMaxAdminReplyBytes);
      // Writable only once connected: a request is never queued for a coordinator that is not
      // there (it would reach it whenever it came back).
      socket->set(zmq::sockopt::immediate, true);
      socket->set(zmq::sockopt::linger, 0);
      socket->connect(endpoint);
    }
    return *socket;
  }
};

AdminClient::AdminClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminClient::~AdminClient() {
  if (impl_) {
    impl_->sockets.clear();
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
  impl->secretKey = *secret;
  impl->publicKey = *publicKey;
  impl->serverKey = *serverKey;
  std::stringstream list(options.endpoint);
  for (std::string endpoint; std::getline(list, endpoint, ',');) {
    if (!endpoint.empty()) impl->endpoints.push_back(endpoint);
  }
  if (impl->endpoints.empty()) return makeError("--admin names no endpoint");
  impl->nextRequestId = randombytes_random() | (std::uint64_t{randombytes_random()} << 32);
  try {
    impl->socketFor(impl->endpoints.front());
  } catch (const zmq::error_t& e) {
    return makeError("cannot connect to coordinator admin endpoint " + impl->endpoints.front() +
                     ": " + e.what());
  }
  return std::unique_ptr<AdminClient>(new AdminClient(std::move(impl)));
}

Result<AdminReply> AdminClient::call(AdminRequest request,
                                     const std::function<void(const AdminReply&)>& onProgress) {
  auto timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(impl_->options.timeoutSeconds * 1000));
  return call(std::move(request), timeout, onProgress);
}

// With one endpoint: send and wait for the answer. With several (coordinators sharing PostgreSQL):
// start with the one that answered last; an endpoint with no coordinator is skipped after a
// second, a standby's answer sends the request to the leader it names (or the next endpoint), and
// a connection lost before the answer sends it again elsewhere, until the timeout.
Result<AdminReply> AdminClient::call(AdminRequest request, std::chrono::milliseconds timeout,
                                     const std::function<void(const AdminReply&)>& onProgress) {
  using Clock = std::chrono::steady_clock;
  request.requestId = ++impl_->nextRequestId;
  const std::string payload = encode(request);
  const bool several = impl_->endpoints.size() > 1;
  auto deadline = Clock::now() + timeout;
  std::size_t index = impl_->current;
  std::string endpoint = impl_->endpoints[index];
  std::string problem;
  auto next = [&] {
    index = (index + 1) % impl_->endpoints.size();
    endpoint = impl_->endpoints[index];
  };
  while (Clock::now() < deadline) {
    zmq::socket_t* socket = nullptr;
    try {
      socket = &impl_->socketFor(endpoint);
    } catch (const zmq::error_t& e) {
      return makeError("cannot connect to coordinator admin endpoint " + endpoint + ": " + e.what());
    }
    // Connected? (one second per endpoint when there are several to try)
    auto connectBy = several ? std::min(deadline, Clock::now() + std::chrono::seconds(1)) : deadline;
    zmq::pollitem_t writable{socket->handle(), 0, ZMQ_POLLOUT, 0};
    bool connected = false;
    while (!connected && Clock::now() < connectBy) {
      try {
        zmq::poll(&writable, 1, std::chrono::duration_cast<std::chrono::milliseconds>(
                                    connectBy - Clock::now()));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) return makeError("interrupted");
        return makeError(std::string("poll: ") + e.what());
      }
      connected = (writable.revents & ZMQ_POLLOUT) != 0;
    }
    if (!connected) {
      problem = "no coordinator answered at " + endpoint;
      next();
      continue;
    }
    try {
      if (!socket->send(zmq::buffer(payload), zmq::send_flags::dontwait)) {
        problem = "cannot send to coordinator " + endpoint;
        next();
        continue;
      }
    } catch (const zmq::error_t& e) {
      return makeError("cannot send to coordinator " + endpoint + ": " + e.what());
    }
    std::optional<AdminReply> answer;
    bool lost = false;
    while (!answer && !lost) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      zmq::pollitem_t items[] = {{socket->handle(), 0, ZMQ_POLLIN, 0},
                                 {socket->handle(), 0, ZMQ_POLLOUT, 0}};
      try {
        zmq::poll(items, 1, several ? std::min(left, std::chrono::milliseconds(500)) : left);
        if (several && !(items[0].revents & ZMQ_POLLIN)) {
          // The coordinator's connection is gone (it died, or stepped down): try elsewhere.
          zmq::poll(&items[1], 1, std::chrono::milliseconds(0));
          lost = !(items[1].revents & ZMQ_POLLOUT);
        }
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) return makeError("interrupted");
        return makeError(std::string("poll: ") + e.what());
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t frame;
      if (!socket->recv(frame, zmq::recv_flags::dontwait)) continue;
      auto reply = decodeAdminReply(
          Bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
      if (!reply) return makeError("bad reply from coordinator: " + reply.error().message);
      if (reply->requestId != request.requestId && reply->requestId != 0) continue;  // stale
      if (!reply->final) {
        if (onProgress) onProgress(*reply);
        deadline = Clock::now() + timeout;  // progress extends the deadline
        continue;
      }
      answer = std::move(*reply);
    }
    if (lost) {
      problem = "lost the connection to coordinator " + endpoint + " before it answered";
      next();
      continue;
    }
    if (!answer) break;
    if (!answer->standby) {
      impl_->current = index;
      return std::move(*answer);
    }
    // A standby did not handle it: to the leader it names, else the next endpoint.
    if (const auto* error = std::get_if<AdminError>(&answer->body)) problem = error->message;
    std::string leader = answer->leader ? answer->leader->adminEndpoint : "";
    auto known = std::find(impl_->endpoints.begin(), impl_->endpoints.end(), leader);
    if (!leader.empty() && leader != endpoint) {
      if (known == impl_->endpoints.end()) impl_->endpoints.push_back(leader);
      index = static_cast<std::size_t>(
          std::find(impl_->endpoints.begin(), impl_->endpoints.end(), leader) -
          impl_->endpoints.begin());
      endpoint = leader;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a takeover under way
      next();
    }
  }
  if (several) {
    return makeError("no coordinator led within " +
                     std::to_string(timeout.count() / 1000.0).substr(0, 4) + " s at " +
                     impl_->options.endpoint + (problem.empty() ? "" : " (last: " + problem + ")"));
  }
  return makeError("no reply from the coordinator at " + endpoint + " within " +
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
