#include "cli/output.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace rollgate::cli {

void fail(int exitCode, const std::string& message) {
  std::fprintf(stderr, "rollgate: %s\n", message.c_str());
  throw CLI::RuntimeError(exitCode);
}

std::string formatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

void Table::print(std::FILE* out) const { std::fputs(formatTable(rows_).c_str(), out); }

}  // namespace rollgate::cli
