// Durable file replacement for the telemetry state (the backlog's windows and meta, log
// positions): write a temporary file, fsync it, rename it over the target, fsync the directory.
// A crash leaves either the old or the new content, never a mix.
// These forward to common/sys (sys::writeFileAtomically over a PosixEnv): one atomic write in the tree.
// Thread-safety: stateless; safe from any thread for distinct paths.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace rollgate::agent {

// Replaces `path` with `content` durably. Errors name the file, the step and errno's text.
Status writeFileAtomically(const std::string& path, std::string_view content);

// The whole file, or an error naming it ("no such file" included).
Result<std::string> readWholeFile(const std::string& path);

}  // namespace rollgate::agent
