// Release version strings for the installer: validation and ordering live in common/version.h
// (the coordinator orders versions the same way); this header keeps their names in
// rollgate::install.
#pragma once

#include "common/version.h"

namespace rollgate::install {

using rollgate::compareVersions;
using rollgate::validateVersion;

}  // namespace rollgate::install
