// What `rollgate-coordinator init` and `rollgate-agent init` share: writing a set of new files
// (configs and key pairs) that must not replace anything, and the report they print.
// Thread-safety: plain functions, no shared state.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace rollgate {

// Fails naming every path in `paths` that already exists (init never overwrites a file).
Status refuseExisting(const std::vector<std::string>& paths, const std::string& command);

// Writes `content` to a new file `path` with `mode` (0644 for configs); fails naming the path.
Status writeNewFile(const std::string& path, const std::string& content, unsigned mode);

// Creates `path` and its parents as directories (mode 0755); fails naming the path.
Status makeDirectories(const std::string& path);

// A path made absolute against the current directory (configs name files by absolute path).
std::string absolutePath(const std::string& path);

// A TOML basic string: quotes and backslashes escaped.
std::string tomlString(const std::string& text);

}  // namespace rollgate
