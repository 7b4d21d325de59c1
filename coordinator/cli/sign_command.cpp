// Placeholder until the signing work lands; replaced by the real `rollgate sign`.
#include "coordinator/cli/commands.h"
namespace rollgate::cli {
void addSignCommand(CLI::App&) {}
}  // namespace rollgate::cli
