#include "common/transport.h"

#include <dirent.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/codec.h"
#include "common/keys.h"
#include "common/sys/error.h"

namespace rollgate {

// ---- Allowlist

std::map<std::string, std::string> Allowlist::readDirectory(const std::string& dir,
                                                           std::vector<std::string>* problems) {
  std::map<std::string, std::string> entries;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) {
    if (problems && errno != ENOENT) {
      problems->push_back("allowlist directory " + dir + ": " + sys::errnoMessage(errno));
    }
    return entries;
  }
  while (dirent* entry = ::readdir(handle)) {
    std::string file = entry->d_name;
    if (file.size() <= 4 || file.substr(file.size() - 4) != ".pub") continue;
    std::string name = file.substr(0, file.size() - 4);
    std::string path = dir + "/" + file;
    if (!isValidName(name)) {
      if (problems) problems->push_back(path + ": '" + name + "' is not a valid host name");
      continue;
    }
    auto key = readKeyFile(path);
    if (!key) {
      if (problems) problems->push_back(key.error().message);
      continue;
    }
    entries[name] = *key;
  }
  ::closedir(handle);
  return entries;
}

void Allowlist::set(const std::string& name, const std::string& publicKey) {
  std::lock_guard lock(mutex_);
  if (auto it = byName_.find(name); it != byName_.end()) byKey_.erase(it->second);
  byName_[name] = publicKey;
  byKey_[publicKey] = name;
}

bool Allowlist::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = byName_.find(name);
  if (it == byName_.end()) return false;
  byKey_.erase(it->second);
  byName_.erase(it);
  return true;
}

void Allowlist::replace(std::map<std::string, std::string> entries) {
  std::lock_guard lock(mutex_);
  byName_ = std::move(entries);
  byKey_.clear();
  for (const auto& [name, key] : byName_) byKey_[key] = name;
}

std::optional<std::string> Allowlist::nameForKey(const std::string& publicKey) const {
  std::lock_guard lock(mutex_);
  auto it = byKey_.find(publicKey);
  if (it == byKey_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Allowlist::keyForName(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = byName_.find(name);
  if (it == byName_.end()) return std::nullopt;
  return it->second;
}

bool Allowlist::admits(const std::string& name, const std::string& publicKey) const {
  std::lock_guard lock(mutex_);
  auto it = byName_.find(name);
  return it != byName_.end() && it->second == publicKey;
}

std::map<std::string, std::string> Allowlist::entries() const {
  std::lock_guard lock(mutex_);
  return byName_;
}

// ---- ZapHandler

ZapHandler::ZapHandler(zmq::context_t& context, Logger logger)
    : context_(context), logger_(std::move(logger)) {}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::addDomain(const std::string& domain, std::shared_ptr<Allowlist> allowlist) {
  domains_[domain] = std::move(allowlist);
}

Status ZapHandler::start() {
  try {
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return makeError(std::string("cannot start the ZAP handler: ") + e.what());
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

namespace {

// ZMTP metadata encoding: name length (1 byte), name, value length (4 bytes, big endian), value.
std::string encodeProperty(const std::string& name, const std::string& value) {
  std::string out;
  out.push_back(static_cast<char>(name.size()));
  out += name;
  std::uint32_t size = value.size();
  out.push_back(static_cast<char>((size >> 24) & 0xff));
  out.push_back(static_cast<char>((size >> 16) & 0xff));
  out.push_back(static_cast<char>((size >> 8) & 0xff));
  out.push_back(static_cast<char>(size & 0xff));
  out += value;
  return out;
}

}  // namespace

void ZapHandler::run() {
  zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
  while (!stop_) {
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> request;
      do {
        zmq::message_t frame;
        if (!socket_->recv(frame, zmq::recv_flags::none)) break;
        request.push_back(std::move(frame));
      } while (socket_->get(zmq::sockopt::rcvmore) && request.size() < 16);
      // version, request id, domain, address, identity, mechanism, credentials...
      std::string requestId = request.size() > 1 ? request[1].to_string() : "";
      std::string status = "400";
      std::string statusText = "denied";
      std::string userId;
      std::string metadata;
      if (request.size() >= 7 && request[0].to_string() == "1.0") {
        std::string domain = request[2].to_string();
        std::string mechanism = request[5].to_string();
        auto it = domains_.find(domain);
        if (it != domains_.end() && mechanism == "CURVE" && request[6].size() == 32) {
          char z85[41] = {};
          zmq_z85_encode(z85, static_cast<const std::uint8_t*>(request[6].data()), 32);
          if (auto name = it->second->nameForKey(z85)) {
            status = "200";
            statusText = "OK";
            userId = *name;
            metadata = encodeProperty("X-Key", z85);
          } else {
            logger_->debug("refused unknown {} key {} from {}", domain, z85, request[3].to_string());
          }
        }
      }
      if (status == "200") {
        ++accepted_;
      } else {
        ++refused_;
      }
      std::array<std::string, 6> reply{"1.0", requestId, status, statusText, userId, metadata};
      for (std::size_t i = 0; i < reply.size(); ++i) {
        socket_->send(zmq::buffer(reply[i]),
                      i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      logger_->warn("ZAP handler: {}", e.what());
    }
  }
  socket_.reset();
}

// ---- socket setup

void configureCurveServer(zmq::socket_t& socket, const std::string& secretKey,
                          const std::string& domain, std::size_t maxMessageBytes) {
  socket.set(zmq::sockopt::zap_domain, domain);
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, secretKey);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(maxMessageBytes));
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::handshake_ivl, 5000);
}

void configureCurveClient(zmq::socket_t& socket, const std::string& secretKey,
                          const std::string& publicKey, const std::string& serverPublicKey,
                          std::size_t maxMessageBytes) {
  socket.set(zmq::sockopt::curve_serverkey, serverPublicKey);
  socket.set(zmq::sockopt::curve_publickey, publicKey);
  socket.set(zmq::sockopt::curve_secretkey, secretKey);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(maxMessageBytes));
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, 200);
  socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
}

PeerIdentity peerIdentity(zmq::message_t& frame) {
  PeerIdentity peer;
  if (const char* user = zmq_msg_gets(frame.handle(), "User-Id")) peer.name = user;
  if (const char* key = zmq_msg_gets(frame.handle(), "X-Key")) peer.publicKey = key;
  if (const char* address = zmq_msg_gets(frame.handle(), "Peer-Address")) peer.address = address;
  return peer;
}

}  // namespace rollgate
