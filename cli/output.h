// Output helpers shared by CLI commands: aligned human tables and the one-line failure path.
// Thread-safety: none needed (the CLI is single-threaded).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace rollgate::cli {

// Prints "rollgate: <message>" to stderr and exits the command with `exitCode`
// (throws CLI::RuntimeError, which CLI11 turns into a quiet exit).
[[noreturn]] void fail(int exitCode, const std::string& message);

// Rows as aligned columns, two spaces apart, each line starting with `indent`.
std::string formatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent = "");

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace rollgate::cli
