// Console sign-in: token roles and the table of signed-in sessions. A session is created from a
// token the coordinator found in its store (by SHA-256); the browser holds the session id in an
// HttpOnly, Secure, SameSite=Strict cookie and sends the session's CSRF token in a header with
// every action. Only SHA-256 digests of session ids are kept, so the table leaks no cookie.
// Times are passed in (milliseconds of the wall clock): pure logic, testable without waiting.
// Thread-safety: SessionTable is safe from any thread (one mutex); the rest are pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rollgate::console {

enum class Role : std::uint8_t { kViewer, kOperator };
std::string_view toString(Role role);
// "viewer" or "operator"; the error quotes the text.
Result<Role> parseRole(std::string_view text);

// A new token's text: "rgc_" and 64 hex digits (256 random bits).
std::string newToken();
// Whether `text` has a token's shape (what the sign-in form accepts before asking the store).
bool looksLikeToken(std::string_view text);

struct Session {
  std::string operatorName;
  Role role = Role::kViewer;
  std::string csrf;  // sent back in X-CSRF-Token with every action
  std::uint64_t expiresMillis = 0;
};

class SessionTable {
 public:
  explicit SessionTable(std::size_t maxSessions = 10'000) : maxSessions_(maxSessions) {}
  // A new session; returns its id (the cookie's value). Expired sessions are dropped first; when
  // the table is still full, the one that expires soonest makes room.
  std::string create(Session session, std::uint64_t nowMillis);
  // The session with id `id`, if it exists and has not expired.
  std::optional<Session> find(std::string_view id, std::uint64_t nowMillis);
  void remove(std::string_view id);
  std::size_t size() const;

 private:
  void dropExpired(std::uint64_t nowMillis);
  mutable std::mutex mutex_;
  std::size_t maxSessions_;
  std::map<std::string, Session> byDigest_;  // SHA-256 hex of the id -> session
};

// Constant-time comparison of two secrets (CSRF tokens).
bool sameSecret(std::string_view a, std::string_view b);

}  // namespace rollgate::console
