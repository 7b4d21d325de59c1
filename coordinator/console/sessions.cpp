#include "coordinator/console/sessions.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "common/sha256.h"
#include "coordinator/console/tls.h"

namespace rollgate::console {

std::string_view toString(Role role) { return role == Role::kOperator ? "operator" : "viewer"; }

Result<Role> parseRole(std::string_view text) {
  if (text == "viewer") return Role::kViewer;
  if (text == "operator") return Role::kOperator;
  return makeError("role: expected viewer or operator, got \"" + std::string(text) + "\"");
}

std::string newToken() { return "rgc_" + randomHex(32); }

bool looksLikeToken(std::string_view text) {
  if (text.size() != 68 || text.substr(0, 4) != "rgc_") return false;
  return std::all_of(text.begin() + 4, text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string SessionTable::create(Session session, std::uint64_t nowMillis) {
  std::string id = randomHex(32);
  session.csrf = randomHex(32);
  std::lock_guard lock(mutex_);
  dropExpired(nowMillis);
  if (byDigest_.size() >= maxSessions_) {
    auto soonest = std::min_element(byDigest_.begin(), byDigest_.end(), [](auto& a, auto& b) {
      return a.second.expiresMillis < b.second.expiresMillis;
    });
    byDigest_.erase(soonest);
  }
  byDigest_[sha256Hex(id)] = std::move(session);
  return id;
}

std::optional<Session> SessionTable::find(std::string_view id, std::uint64_t nowMillis) {
  if (id.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = byDigest_.find(sha256Hex(id));
  if (it == byDigest_.end()) return std::nullopt;
  if (it->second.expiresMillis <= nowMillis) {
    byDigest_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void SessionTable::remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  byDigest_.erase(sha256Hex(id));
}

std::size_t SessionTable::size() const {
  std::lock_guard lock(mutex_);
  return byDigest_.size();
}

void SessionTable::dropExpired(std::uint64_t nowMillis) {
  for (auto it = byDigest_.begin(); it != byDigest_.end();) {
    it = it->second.expiresMillis <= nowMillis ? byDigest_.erase(it) : std::next(it);
  }
}

bool sameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace rollgate::console
