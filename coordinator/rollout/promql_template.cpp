#include "coordinator/rollout/promql_template.h"

#include <cctype>

namespace rollgate::rollout {
namespace {

constexpr std::string_view kVariables = "{{host}}, {{address}}, {{release}}, {{service}}";

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

// Walks the template; `vars` null only validates.
Result<std::string> expand(std::string_view text, const PromqlVariables* vars) {
  if (trimmed(text).empty()) return makeError("the PromQL query is empty");
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return makeError("unclosed \"{{\" at offset " + std::to_string(open) +
                       " of the PromQL query (variables are " + std::string(kVariables) + ")");
    }
    std::string name = trimmed(text.substr(open + 2, close - open - 2));
    const std::string* value = nullptr;
    if (name == "host" || name == "address" || name == "release" || name == "service") {
      if (vars != nullptr) {
        value = name == "host"      ? &vars->host
                : name == "address" ? &vars->address
                : name == "release" ? &vars->release
                                    : &vars->service;
        if (name == "address" && value->empty()) {
          return makeError("the query uses {{address}} but the address of host " + vars->host +
                           " is not known yet (its agent has not connected since the "
                           "coordinator started)");
        }
        out += escaped(*value);
      }
    } else {
      return makeError("unknown variable \"{{" + name +
                       "}}\" in the PromQL query (known: " + std::string(kVariables) + ")");
    }
    pos = close + 2;
  }
  return out;
}

}  // namespace

Status validatePromqlTemplate(std::string_view text) {
  auto result = expand(text, nullptr);
  if (!result) return result.error();
  return {};
}

Result<std::string> expandPromqlTemplate(std::string_view text, const PromqlVariables& vars) {
  return expand(text, &vars);
}

}  // namespace rollgate::rollout
