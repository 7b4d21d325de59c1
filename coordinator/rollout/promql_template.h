// PromQL templates of Prometheus checks: a query with {{host}}, {{address}}, {{release}} and
// {{service}} in it, expanded once per host and look into the query the coordinator sends. Values
// are written as they are, except that `\` and `"` are escaped so that a value inside a PromQL
// string ("{{host}}") stays one string. An unknown variable or an unclosed "{{" is an error at
// parse time, naming it, so that a typo cannot send a query for the wrong series.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace rollgate::rollout {

struct PromqlVariables {
  std::string host;     // the host's name (its enrolled key's name)
  std::string address;  // the host's IP address as the coordinator sees it; may be empty
  std::string release;  // the release the host runs in this step (new on canaries, old on others)
  std::string service;
};

// Checks the template: non-empty, every "{{...}}" a known variable.
Status validatePromqlTemplate(std::string_view text);

// Expands the template. Fails like validatePromqlTemplate, and when it uses {{address}} and the
// address is unknown (naming the host).
Result<std::string> expandPromqlTemplate(std::string_view text, const PromqlVariables& vars);

}  // namespace rollgate::rollout
