#include "agent/sentry/json_paths.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace rollgate::agent::sentry {
namespace {

class PathSax {
 public:
  using json = nlohmann::json;
  explicit PathSax(const JsonVisitor& visitor) : visitor_(visitor) {}

  bool null() { return emit(std::monostate{}); }
  bool boolean(bool v) { return emit(v); }
  bool number_integer(json::number_integer_t v) { return emit(static_cast<std::int64_t>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return emit(static_cast<std::uint64_t>(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return emit(static_cast<double>(v)); }
  bool string(json::string_t& v) { return emit(std::string_view(v)); }
  bool binary(json::binary_t&) { return emit(std::monostate{}); }
  bool start_object(std::size_t) { return push(false); }
  bool start_array(std::size_t) { return push(true); }
  bool key(json::string_t& k) {
    path_.resize(levels_.back().base);
    if (!path_.empty()) path_ += '.';
    path_ += k;
    return true;
  }
  bool end_object() {
    path_.resize(levels_.back().base);
    levels_.pop_back();
    if (visitor_.objectEnd) visitor_.objectEnd(path_);
    return true;
  }
  bool end_array() {
    path_.resize(levels_.back().base);
    levels_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "invalid JSON at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  struct Level {
    bool array;
    std::size_t base;  // path length of the container itself (a key within it follows a '.')
  };

  bool emit(const JsonScalar& value) {
    visitor_.scalar(path_, value);
    return true;
  }
  bool push(bool array) {
    if (levels_.size() >= kMaxJsonDepth) {
      error_ = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    levels_.push_back(Level{array, path_.size()});
    if (array) path_ += "[]";
    return true;
  }
  const JsonVisitor& visitor_;
  std::string path_;
  std::vector<Level> levels_;
  std::string error_;
};

}  // namespace

Status visitJson(std::string_view text, const JsonVisitor& visitor, std::string_view what) {
  PathSax sax(visitor);
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &sax,
                                      nlohmann::json::input_format_t::json, true);
  if (!ok) {
    return makeError(std::string(what) + ": " +
                     (sax.error().empty() ? std::string("invalid JSON") : sax.error()));
  }
  return {};
}

std::uint64_t countOf(const JsonScalar& value) {
  if (const auto* u = std::get_if<std::uint64_t>(&value)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i > 0 ? static_cast<std::uint64_t>(*i) : 0;
  if (const auto* d = std::get_if<double>(&value)) {
    return *d > 0 && *d < 1e18 ? static_cast<std::uint64_t>(*d) : 0;
  }
  return 0;
}

}  // namespace rollgate::agent::sentry
