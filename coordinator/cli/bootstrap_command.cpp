// Placeholder until the bootstrap work lands; replaced by the real `rollgate bootstrap`.
#include "coordinator/cli/commands.h"
namespace rollgate::cli {
void addBootstrapCommand(CLI::App&, AdminOptions&) {}
}  // namespace rollgate::cli
