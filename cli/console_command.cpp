// `rollgate console token --operator NAME --role viewer|operator [--ttl DURATION]`: a sign-in
// token for the web console (docs/console.md). The coordinator keeps only its SHA-256; the token
// is printed here once, alone on stdout (or in --json's document).
#include <cstdio>

#include "cli/commands.h"

namespace rollgate::cli {
namespace {

// "90s", "30m", "12h", "7d" or a number of seconds; 0 for anything else.
std::uint64_t parseTtlSeconds(const std::string& text) {
  if (text.empty() || text.size() > 12) return 0;
  std::uint64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.pop_back(); break;
    case 'm': unit = 60; digits.pop_back(); break;
    case 'h': unit = 3600; digits.pop_back(); break;
    case 'd': unit = 86400; digits.pop_back(); break;
    default: break;
  }
  if (digits.empty()) return 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
  }
  return std::stoull(digits) * unit;
}

}  // namespace

void addConsoleCommand(CLI::App& app, AdminOptions& admin) {
  auto* console = app.add_subcommand("console", "the web console");
  console->require_subcommand(1);
  auto* token = console->add_subcommand(
      "token", "issue a sign-in token for the web console (printed once; stored hashed)");
  struct Options {
    std::string operatorName;
    std::string role;
    std::string ttl = "30d";
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  token->add_option("--operator", options->operatorName, "who signs in with it")->required();
  token->add_option("--role", options->role, "viewer (read) or operator (act)")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator"}));
  token->add_option("--ttl", options->ttl, "how long it is valid: 90s, 30m, 12h, 7d (default 30d)");
  token->add_flag("--json", options->json, "print JSON");
  token->callback([&admin, options] {
    std::uint64_t ttl = parseTtlSeconds(options->ttl);
    if (ttl == 0) {
      std::fprintf(stderr, "--ttl: expected a duration such as 90s, 30m, 12h or 7d, got \"%s\"\n",
                   options->ttl.c_str());
      throw CLI::RuntimeError(kExitUsage);
    }
    AdminRequest request;
    request.body = ConsoleTokenRequest{options->operatorName, options->role, ttl};
    auto doc = replyDocumentOrExit(callAdminOrExit(admin, request), "console token");
    if (options->json) {
      std::printf("%s\n", doc.dump(2).c_str());
      return;
    }
    std::printf("%s\n", doc.value("token", std::string()).c_str());
    std::fprintf(stderr,
                 "console token for %s (%s): shown only now; sign in with it on the console's "
                 "page%s\n",
                 options->operatorName.c_str(), options->role.c_str(),
                 doc.value("note", std::string()).c_str());
  });
}

}  // namespace rollgate::cli
