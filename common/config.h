// TOML config reading with errors an operator can act on: every error names the file, the key and
// what was expected ("/etc/rollgate/agent.toml: key 'agent.heartbeat_seconds': expected a
// positive integer, got string \"5s\""). Unknown keys are errors too (a typo must not silently
// fall back to a default). Daemon config structs live with their daemon; this is the reader.
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace toml {
inline namespace v3 {
class table;
class node;
}
}  // namespace toml

namespace rollgate {

// How a TOML value reads in an error message: `string "5s"`, `integer 3`, `a table`...
std::string describeTomlValue(const toml::node& node);

class ConfigReader {
 public:
  // Parses a TOML file; a syntax error names the file, line and column.
  static Result<ConfigReader> parseFile(const std::string& path);
  static Result<ConfigReader> parseString(const std::string& text, const std::string& sourceName);

  ConfigReader(ConfigReader&&) noexcept;
  ConfigReader& operator=(ConfigReader&&) noexcept;
  ~ConfigReader();

  // Getters take a key relative to this reader ("heartbeat_seconds") and leave `value` as is
  // when the key is absent. A wrong type records an error (see finish()).
  void get(const std::string& key, std::string& value);
  void get(const std::string& key, bool& value);
  void get(const std::string& key, std::int64_t& value, std::int64_t min, std::int64_t max);
  void get(const std::string& key, double& value, double min, double max);
  void get(const std::string& key, std::vector<std::string>& value);
  bool has(const std::string& key) const;
  // The raw value of `key`, marked as known; null when absent. For values the typed getters do
  // not read (an integer or a string, say): the caller checks it and reports with fail().
  const toml::node* node(const std::string& key);

  // A sub-table ("agent"); absent tables give an empty reader.
  ConfigReader table(const std::string& key);
  // An array of tables ("[[service]]").
  std::vector<ConfigReader> tables(const std::string& key);

  // Records an error about `key` (for checks the getters cannot make); "" names this table.
  void fail(const std::string& key, const std::string& problem);

  // First error recorded here or in any sub-reader, or an unknown key; ok if none.
  Status finish() const;

  std::string source() const;

 private:
  struct Shared;
  ConfigReader(std::shared_ptr<Shared> shared, const toml::table* table, std::string prefix);
  std::string qualified(const std::string& key) const;

  std::shared_ptr<Shared> shared_;
  const toml::table* table_;  // owned by shared_; null for an absent table
  std::string prefix_;
};

}  // namespace rollgate
