// `rollgate sign`: build keys and detached build signatures (Ed25519 over the artifact's SHA-256,
// formats in common/build_signature.h, shared with the agent's verifier).
//   rollgate sign keygen --out PREFIX                 -> PREFIX.key (0600), PREFIX.pub
//   rollgate sign FILE --key PREFIX.key [--out SIG]   -> FILE.sig (or SIG)
//   rollgate sign verify FILE --pub PREFIX.pub [--sig FILE.sig]
#include <iostream>
#include <memory>

#include "common/build_signature.h"
#include "cli/commands.h"

namespace rollgate::cli {
namespace {

struct SignOptions {
  std::string file;
  std::string keyPath;
  std::string sigPath;
  std::string keygenPrefix;
  std::string verifyFile;
  std::string verifyPub;
  std::string verifySig;
};

[[noreturn]] void fail(const std::string& message, int code) {
  std::cerr << "rollgate sign: " << message << "\n";
  throw CLI::RuntimeError(code);
}

}  // namespace

void addSignCommand(CLI::App& app) {
  auto options = std::make_shared<SignOptions>();
  CLI::App* sign = app.add_subcommand(
      "sign", "Sign a build artifact with an Ed25519 build key (or: sign keygen, sign verify)");
  sign->add_option("file", options->file, "artifact to sign");
  sign->add_option("--key", options->keyPath, "secret build key (PREFIX.key)");
  sign->add_option("--out", options->sigPath, "signature file (default FILE.sig)");
  sign->require_subcommand(0, 1);

  CLI::App* keygen = sign->add_subcommand("keygen", "Generate a build key pair");
  keygen->add_option("--out", options->keygenPrefix, "writes PREFIX.key (0600) and PREFIX.pub")
      ->required();
  keygen->callback([options] {
    if (auto s = install::generateKeyPair(options->keygenPrefix); !s) {
      fail(s.error().message, kExitFailure);
    }
    std::cout << options->keygenPrefix << ".key\n" << options->keygenPrefix << ".pub\n";
  });

  CLI::App* verify = sign->add_subcommand("verify", "Verify an artifact's build signature");
  verify->add_option("file", options->verifyFile, "artifact")->required();
  verify->add_option("--pub", options->verifyPub, "public build key (PREFIX.pub)")->required();
  verify->add_option("--sig", options->verifySig, "signature file (default FILE.sig)");
  verify->callback([options] {
    std::string sigPath =
        options->verifySig.empty() ? options->verifyFile + ".sig" : options->verifySig;
    auto key = install::readPublicKey(options->verifyPub);
    if (!key) fail(key.error().message, kExitUsage);
    auto sigText = install::detail::readSmallFile(sigPath);
    if (!sigText) fail(sigText.error().message, kExitUsage);
    auto sig = install::parseSignature(*sigText);
    if (!sig) fail(sigPath + ": " + sig.error().message, kExitUsage);
    auto digest = sha256File(options->verifyFile);
    if (!digest) fail(digest.error().message, kExitUsage);
    if (!install::verifyDigest(*digest, *sig, *key)) {
      fail(options->verifyFile + ": signature " + sigPath + " does not verify with " +
               options->verifyPub,
           kExitFailure);
    }
    std::cout << options->verifyFile << ": good signature (sha256 " << toHex(*digest)
              << ")\n";
  });

  sign->callback([sign, options] {
    if (!sign->get_subcommands().empty()) return;  // keygen or verify ran
    if (options->file.empty()) fail("missing FILE (or a subcommand: keygen, verify)", kExitUsage);
    if (options->keyPath.empty()) fail("missing --key PREFIX.key", kExitUsage);
    auto key = install::readSecretKey(options->keyPath);
    if (!key) fail(key.error().message, kExitUsage);
    auto digest = sha256File(options->file);
    if (!digest) fail(digest.error().message, kExitUsage);
    auto sig = install::signDigest(*digest, *key);
    sodium_memzero(key->data(), key->size());
    if (!sig) fail(sig.error().message, kExitFailure);
    std::string out = options->sigPath.empty() ? options->file + ".sig" : options->sigPath;
    if (auto s = install::detail::writeFileMode(out, install::formatSignature(*sig), 0644); !s) {
      fail(s.error().message, kExitFailure);
    }
    std::cout << out << "\n";
  });
}

}  // namespace rollgate::cli
