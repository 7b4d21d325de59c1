#include "cli/output.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace rollgate::cli {

void fail(int exitCode, const std::string& message) {
  std::fprintf(stderr, "rollgate: %s\n", message.c_str());
  throw CLI::RuntimeError(exitCode);
}

void Table::print(std::FILE* out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
}

}  // namespace rollgate::cli
