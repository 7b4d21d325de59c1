#include "common/config.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/sys/error.h"

namespace rollgate {

struct ConfigReader::Shared {
  std::string source;
  toml::table root;
  std::vector<std::string> errors;
  std::set<std::string> known;  // qualified keys that some getter asked about
};

std::string describeTomlValue(const toml::node& node) {
  std::ostringstream out;
  switch (node.type()) {
    case toml::node_type::string:
      out << "string \"" << *node.value<std::string>() << "\"";
      break;
    case toml::node_type::integer:
      out << "integer " << *node.value<std::int64_t>();
      break;
    case toml::node_type::floating_point:
      out << "float " << *node.value<double>();
      break;
    case toml::node_type::boolean:
      out << "boolean " << (*node.value<bool>() ? "true" : "false");
      break;
    case toml::node_type::table:
      out << "a table";
      break;
    case toml::node_type::array:
      out << "an array";
      break;
    default:
      out << "a date/time";
      break;
  }
  return out.str();
}

namespace {

void collectKeys(const toml::table& table, const std::string& prefix,
                 std::vector<std::string>& keys) {
  for (const auto& [key, node] : table) {
    std::string name = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      keys.push_back(name);
      collectKeys(*sub, name, keys);
    } else if (const auto* array = node.as_array(); array && array->is_array_of_tables()) {
      keys.push_back(name);
      for (std::size_t i = 0; i < array->size(); ++i) {
        collectKeys(*array->get(i)->as_table(), name + "[" + std::to_string(i) + "]", keys);
      }
    } else {
      keys.push_back(name);
    }
  }
}

}  // namespace

ConfigReader::ConfigReader(std::shared_ptr<Shared> shared, const toml::table* table,
                           std::string prefix)
    : shared_(std::move(shared)), table_(table), prefix_(std::move(prefix)) {}
ConfigReader::ConfigReader(ConfigReader&&) noexcept = default;
ConfigReader& ConfigReader::operator=(ConfigReader&&) noexcept = default;
ConfigReader::~ConfigReader() = default;

Result<ConfigReader> ConfigReader::parseString(const std::string& text,
                                               const std::string& sourceName) {
  auto shared = std::make_shared<Shared>();
  shared->source = sourceName;
  try {
    shared->root = toml::parse(text, sourceName);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << sourceName << ":" << error.source().begin.line << ":" << error.source().begin.column
        << ": " << error.description();
    return makeError(out.str());
  }
  const toml::table* root = &shared->root;
  return ConfigReader(std::move(shared), root, "");
}

Result<ConfigReader> ConfigReader::parseFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError("config file " + path + ": cannot be read: " + sys::errnoMessage(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parseString(buffer.str(), path);
}

std::string ConfigReader::qualified(const std::string& key) const {
  if (key.empty()) return prefix_;
  return prefix_.empty() ? key : prefix_ + "." + key;
}

std::string ConfigReader::source() const { return shared_->source; }

void ConfigReader::fail(const std::string& key, const std::string& problem) {
  shared_->errors.push_back(shared_->source + ": key '" + qualified(key) + "': " + problem);
}

bool ConfigReader::has(const std::string& key) const {
  return table_ != nullptr && table_->contains(key);
}

const toml::node* ConfigReader::node(const std::string& key) {
  shared_->known.insert(qualified(key));
  return has(key) ? table_->get(key) : nullptr;
}

void ConfigReader::get(const std::string& key, std::string& value) {
  shared_->known.insert(qualified(key));
  if (!has(key)) return;
  const toml::node& node = *table_->get(key);
  if (auto v = node.value_exact<std::string>()) {
    value = *v;
  } else {
    fail(key, "expected a string, got " + describeTomlValue(node));
  }
}

void ConfigReader::get(const std::string& key, bool& value) {
  shared_->known.insert(qualified(key));
  if (!has(key)) return;
  const toml::node& node = *table_->get(key);
  if (auto v = node.value_exact<bool>()) {
    value = *v;
  } else {
    fail(key, "expected true or false, got " + describeTomlValue(node));
  }
}

void ConfigReader::get(const std::string& key, std::int64_t& value, std::int64_t min,
                       std::int64_t max) {
  shared_->known.insert(qualified(key));
  if (!has(key)) return;
  const toml::node& node = *table_->get(key);
  auto v = node.value_exact<std::int64_t>();
  if (!v || *v < min || *v > max) {
    fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + describeTomlValue(node));
    return;
  }
  value = *v;
}

void ConfigReader::get(const std::string& key, double& value, double min, double max) {
  shared_->known.insert(qualified(key));
  if (!has(key)) return;
  const toml::node& node = *table_->get(key);
  auto v = node.value<double>();  // integers are accepted as numbers
  if (!v || node.is_boolean() || node.is_string() || *v < min || *v > max) {
    std::ostringstream range;
    range << "expected a number from " << min << " to " << max << ", got " << describeTomlValue(node);
    fail(key, range.str());
    return;
  }
  value = *v;
}

void ConfigReader::get(const std::string& key, std::vector<std::string>& value) {
  shared_->known.insert(qualified(key));
  if (!has(key)) return;
  const toml::node& node = *table_->get(key);
  const auto* array = node.as_array();
  if (array == nullptr) {
    fail(key, "expected an array of strings, got " + describeTomlValue(node));
    return;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    auto v = array->get(i)->value_exact<std::string>();
    if (!v) {
      fail(key, "expected an array of strings, element " + std::to_string(i) + " is " +
                    describeTomlValue(*array->get(i)));
      return;
    }
    out.push_back(*v);
  }
  value = std::move(out);
}

ConfigReader ConfigReader::table(const std::string& key) {
  shared_->known.insert(qualified(key));
  if (!has(key)) return ConfigReader(shared_, nullptr, qualified(key));
  const toml::node& node = *table_->get(key);
  if (const auto* sub = node.as_table()) return ConfigReader(shared_, sub, qualified(key));
  fail(key, "expected a table, got " + describeTomlValue(node));
  return ConfigReader(shared_, nullptr, qualified(key));
}

std::vector<ConfigReader> ConfigReader::tables(const std::string& key) {
  shared_->known.insert(qualified(key));
  std::vector<ConfigReader> out;
  if (!has(key)) return out;
  const toml::node& node = *table_->get(key);
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(key, "expected an array of tables ([[" + qualified(key) + "]]), got " + describeTomlValue(node));
    return out;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    out.push_back(ConfigReader(shared_, array->get(i)->as_table(),
                               qualified(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

Status ConfigReader::finish() const {
  if (!shared_->errors.empty()) return makeError(shared_->errors.front());
  std::vector<std::string> keys;
  collectKeys(shared_->root, "", keys);
  for (const auto& key : keys) {
    if (shared_->known.count(key) == 0) {
      return makeError(shared_->source + ": unknown key '" + key + "'");
    }
  }
  return {};
}

}  // namespace rollgate
