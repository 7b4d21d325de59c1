// State that only the daemon reads, whatever the umask of whoever starts it: a directory created
// here is mode 0700 (an existing one is left as it is); a file is created or set to mode 0600.
// Errors name the path. Thread-safety: free functions, no shared state.
#pragma once

#include <string>

#include "common/result.h"

namespace rollgate::sys {

Status createPrivateDir(const std::string& path);
Status ensurePrivateFile(const std::string& path);

}  // namespace rollgate::sys
