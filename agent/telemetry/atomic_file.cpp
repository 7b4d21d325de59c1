#include "agent/telemetry/atomic_file.h"

#include "common/sys/env.h"

namespace rollgate::agent {

// PosixEnv is stateless, so a local instance is the real file system without a global.
Status writeFileAtomically(const std::string& path, std::string_view content) {
  sys::PosixEnv env;
  return sys::writeFileAtomically(env, path, content, 0600);
}

Result<std::string> readWholeFile(const std::string& path) {
  sys::PosixEnv env;
  auto content = env.readFileIfExists(path);
  if (!content) return content.error();
  if (!*content) return Error{path + ": open: No such file or directory"};
  return std::move(**content);
}

}  // namespace rollgate::agent
