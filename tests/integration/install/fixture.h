// Shared setup for the installer integration tests: a private systemd user manager, a real nginx
// unit serving <root>/current/www, release artifacts built with libarchive, and an Installer wired
// to them.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "common/build_signature.h"
#include "agent/install/installer.h"
#include "agent/systemd/systemd_client.h"
#include "tests/support/skip.h"
#include "tests/support/systemd/user_manager.h"
#include "tests/unit/install/archive_builder.h"
#include "tests/unit/install/temp_dir.h"

namespace rollgate::testing {

// True when the test must be skipped (tests/support/skip.h: only outside CI).
inline bool skipWithoutSystemd() { return !requireOrSkip(UserManager::missingPrerequisite()); }

inline std::shared_ptr<spdlog::logger> testLogger() {
  auto logger = spdlog::get("install-test");
  if (!logger) logger = spdlog::stderr_logger_mt("install-test");
  logger->set_level(spdlog::level::warn);
  return logger;
}

struct Artifact {
  std::string path;
  std::string sha256;
  uint64_t sizeBytes = 0;
  std::string signature;  // .sig text, "" = unsigned
};

// A release whose www/index.html says "release <version>" and that has www/health.txt unless
// `healthy` is false; `extraFile` (e.g. "BROKEN") is added at the top level when non-empty.
inline Artifact makeRelease(const std::string& dir, const std::string& version,
                            bool healthy = true, const std::string& extraFile = "",
                            size_t paddingBytes = 0) {
  Artifact a;
  a.path = dir + "/web-" + version + ".tar.gz";
  {
    ArchiveBuilder b(a.path, Compression::kGzip);
    b.dir("www").file("www/index.html", "release " + version + "\n");
    if (healthy) b.file("www/health.txt", "ok\n");
    if (!extraFile.empty()) b.file(extraFile, "x\n");
    if (paddingBytes > 0) {
      std::string noise(paddingBytes, '\0');
      uint64_t x = 0x9e3779b97f4a7c15ull ^ paddingBytes;
      for (auto& c : noise) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
      }
      b.file("padding.bin", noise);
    }
  }
  auto digest = sha256File(a.path);
  REQUIRE(digest.ok());
  a.sha256 = toHex(*digest);
  a.sizeBytes = std::filesystem::file_size(a.path);
  return a;
}

inline void signArtifact(Artifact& a, const std::string& secretKeyPath) {
  auto key = install::readSecretKey(secretKeyPath);
  REQUIRE(key.ok());
  auto digest = parseSha256Hex(a.sha256);
  auto sig = install::signDigest(*digest, *key);
  REQUIRE(sig.ok());
  a.signature = install::formatSignature(*sig);
}

inline Command installCommand(uint64_t sequence, const std::string& service,
                              const std::string& version, const Artifact& a) {
  Command c;
  c.ref = {"rollout-test", sequence, 1};
  c.service = service;
  InstallRelease body;
  body.version = version;
  body.sha256 = a.sha256;
  body.sizeBytes = a.sizeBytes;
  body.source = "file://" + a.path;
  body.signature = a.signature;
  c.body = body;
  return c;
}

inline Command rollbackCommand(uint64_t sequence, const std::string& service,
                               const std::string& toVersion = "") {
  Command c;
  c.ref = {"rollout-test", sequence, 1};
  c.service = service;
  c.body = RollBackRelease{toVersion, true};
  return c;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline bool anyEventContains(const CommandResult& r, const std::string& part) {
  for (const auto& e : r.events) {
    if (contains(e, part)) return true;
  }
  return false;
}

inline std::string eventsText(const CommandResult& r) {
  std::string out = r.message;
  for (const auto& e : r.events) out += "\n  event: " + e;
  return out;
}

}  // namespace rollgate::testing
