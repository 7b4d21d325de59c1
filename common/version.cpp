#include "common/version.h"

#include <string>

namespace rollgate {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view nextRun(std::string_view s, size_t& pos) {
  size_t start = pos;
  bool digits = isDigit(s[pos]);
  while (pos < s.size() && isDigit(s[pos]) == digits) ++pos;
  return s.substr(start, pos - start);
}

int compareNumeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

int compareVersions(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool aDigits = isDigit(a[i]), bDigits = isDigit(b[j]);
    std::string_view ra = nextRun(a, i), rb = nextRun(b, j);
    int c = 0;
    if (aDigits && bDigits) {
      c = compareNumeric(ra, rb);
    } else if (aDigits != bDigits) {
      c = aDigits ? 1 : -1;  // a number sorts after a separator or word at the same position
    } else {
      int raw = ra.compare(rb);
      c = raw < 0 ? -1 : (raw > 0 ? 1 : 0);
    }
    if (c != 0) return c;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

Status validateVersion(std::string_view version) {
  auto bad = [&](const std::string& why) {
    std::string shown(version.substr(0, 80));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    if (version.size() > 80) shown += "...";
    return makeError("version '" + shown + "': " + why + " (docs/versions.md)");
  };
  if (version.empty() || version.size() > kMaxVersionBytes) {
    return bad("must be 1 to " + std::to_string(kMaxVersionBytes) + " characters, got " +
               std::to_string(version.size()));
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c); };
  if (!alnum(version.front())) return bad("must start with a letter or a digit");
  for (char c : version) {
    bool ok = alnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
    if (!ok) {
      std::string shown = (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                              ? "a control or non-ASCII byte"
                              : "'" + std::string(1, c) + "'";
      return bad(shown + " is not allowed: only letters, digits and . _ + - are");
    }
  }
  return {};
}

}  // namespace rollgate
