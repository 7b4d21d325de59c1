// `rollgate keygen`: writes a CURVE key pair (operators' keys, or hosts' keys made elsewhere).
#include <cstdio>

#include "common/keys.h"
#include "cli/commands.h"

namespace rollgate::cli {

void addKeygenCommand(CLI::App& app) {
  auto* keygen = app.add_subcommand("keygen", "write a CURVE key pair (PREFIX.key and PREFIX.pub)");
  struct Options {
    std::string prefix;
    bool ifMissing = false;
    bool force = false;
  };
  auto options = std::make_shared<Options>();
  keygen->add_option("--out", options->prefix, "writes PREFIX.key (mode 0600) and PREFIX.pub")
      ->required();
  keygen->add_flag("--if-missing", options->ifMissing, "succeed without change if PREFIX.key exists");
  keygen->add_flag("--force", options->force, "replace an existing pair");
  keygen->callback([options] {
    auto result = keygenCommand(options->prefix, options->ifMissing, options->force);
    if (!result) {
      std::fprintf(stderr, "rollgate keygen: %s\n", result.error().message.c_str());
      throw CLI::RuntimeError(kExitFailure);
    }
    std::fputs(result->c_str(), stdout);
  });
}

}  // namespace rollgate::cli
