// TLS for the console, through OpenSSL's API (wrapped here once): a self-signed certificate and
// key generated at first start (ECDSA P-256, SHA-256, subjectAltName localhost, 127.0.0.1 and the
// listen host; files 0600), and the server context: TLS 1.2 and 1.3 only, forward-secret AEAD
// ciphers only, no compression or renegotiation.
// Thread-safety: free functions with no shared state.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

struct ssl_ctx_st;

namespace rollgate::console {

// The TLS 1.2 cipher list the console accepts (TLS 1.3's suites are all AEAD).
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Writes a new self-signed pair to `certPath` and `keyPath` (mode 0600, never over an existing
// file) unless both exist. `host` goes into subjectAltName besides localhost and 127.0.0.1.
// Returns whether it generated one.
Result<bool> ensureSelfSigned(const std::string& certPath, const std::string& keyPath,
                              const std::string& host, std::uint64_t nowMillis);

// Sets up `ctx` with the certificate chain and key and the policy above; the error names the
// file and OpenSSL's reason.
Status configureServerContext(ssl_ctx_st& ctx, const std::string& certPath,
                              const std::string& keyPath);

// `bytes` random bytes from OpenSSL's generator, as lower-case hex.
std::string randomHex(std::size_t bytes);

}  // namespace rollgate::console
