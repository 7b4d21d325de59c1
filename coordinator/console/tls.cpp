#include "coordinator/console/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "common/hex.h"
#include "common/sys/error.h"

namespace rollgate::console {
namespace {

std::string opensslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};

// PEM text of what `write` puts into a memory BIO.
template <typename Write>
Result<std::string> pemOf(Write write) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return makeError("cannot encode PEM: " + opensslError());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Status writeNew(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("cannot create " + path + ": " + sys::errnoMessage(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return makeError("cannot write " + path + ": " + sys::errnoMessage(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return makeError("cannot write " + path + ": " + sys::errnoMessage(errno));
  }
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::string randomHex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    // RAND_bytes fails only when the generator cannot be seeded: nothing safe can go on.
    std::abort();
  }
  return toHex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

Result<bool> ensureSelfSigned(const std::string& certPath, const std::string& keyPath,
                              const std::string& host, std::uint64_t nowMillis) {
  bool haveCert = exists(certPath);
  bool haveKey = exists(keyPath);
  if (haveCert && haveKey) return false;
  if (haveCert != haveKey) {
    return makeError("console: " + (haveCert ? certPath : keyPath) + " exists but " +
                     (haveCert ? keyPath : certPath) +
                     " does not; remove it to generate a new self-signed pair");
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  if (!key) return makeError("cannot generate a P-256 key: " + opensslError());
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!cert) return makeError("cannot create a certificate: " + opensslError());
  X509_set_version(cert.get(), 2);
  std::string serialHex = randomHex(16);
  BIGNUM* serial = nullptr;
  BN_hex2bn(&serial, serialHex.c_str());
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  time_t now = static_cast<time_t>(nowMillis / 1000);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), now - 3600);
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), now + 825L * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rollgate"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rollgate console"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  in_addr v4{};
  in6_addr v6{};
  if (!host.empty() && host != "localhost" && host != "127.0.0.1" && host != "0.0.0.0") {
    bool ip = ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
              ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
    san += (ip ? ",IP:" : ",DNS:") + host;
  }
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                            {NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_ext_key_usage, "serverAuth"}}) {
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(
        X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return makeError("cannot add certificate extension " + value + ": " + opensslError());
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return makeError("cannot sign the certificate: " + opensslError());
  }
  auto keyPem = pemOf([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!keyPem) return keyPem.error();
  auto certPem = pemOf([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
  if (!certPem) return certPem.error();
  if (auto status = writeNew(keyPath, *keyPem); !status) return status.error();
  if (auto status = writeNew(certPath, *certPem); !status) {
    ::unlink(keyPath.c_str());
    return status.error();
  }
  return true;
}

Status configureServerContext(ssl_ctx_st& ctx, const std::string& certPath,
                              const std::string& keyPath) {
  SSL_CTX* c = &ctx;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1) {
    return makeError("console: cannot set the TLS 1.2 ciphers: " + opensslError());
  }
  if (SSL_CTX_use_certificate_chain_file(c, certPath.c_str()) != 1) {
    return makeError("console: cannot load the certificate " + certPath + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(c, keyPath.c_str(), SSL_FILETYPE_PEM) != 1) {
    return makeError("console: cannot load the private key " + keyPath + ": " + opensslError());
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return makeError("console: the key " + keyPath + " does not match the certificate " +
                     certPath + ": " + opensslError());
  }
  return {};
}

}  // namespace rollgate::console
