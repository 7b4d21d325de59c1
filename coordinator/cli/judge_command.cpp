// Placeholder until the statistics work lands; replaced by the real `rollgate judge`.
#include "coordinator/cli/commands.h"
namespace rollgate::cli {
void addJudgeCommand(CLI::App&) {}
}  // namespace rollgate::cli
