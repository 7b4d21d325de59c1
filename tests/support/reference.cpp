#include "tests/support/reference.h"

#include <cstdlib>

namespace rollgate::testing {

std::string referenceFile(const std::string& name) {
  const char* dir = std::getenv("ROLLGATE_REFERENCE_DIR");
  if (dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/" + name;
  }
  return std::string(ROLLGATE_SOURCE_DIR) + "/../shared/reference/" + name;
}

std::string missingReferenceMessage(const std::string& path) {
  return "cannot open " + path +
         ": reference data is not in this repository; it comes from ../shared/reference beside "
         "the checkout (" ROLLGATE_SOURCE_DIR
         "/../shared/reference), or set "
         "ROLLGATE_REFERENCE_DIR to a copy of it";
}

}  // namespace rollgate::testing
